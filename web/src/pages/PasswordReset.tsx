import { useState, type FormEvent } from "react";
import { Link, useSearchParams } from "react-router";
import { identity, unwrap } from "../api/client";
import { errorMessage } from "../api/problem";
import { session } from "../auth/session";

/** Asks for a reset link. The answer is the same whether or not the account exists, and so is this page. */
export function ForgotPassword() {
  const [tenant, setTenant] = useState(session.rememberedTenant);
  const [email, setEmail] = useState("");
  const [busy, setBusy] = useState(false);
  const [sent, setSent] = useState(false);
  const [error, setError] = useState("");

  async function submit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setError("");
    try {
      await unwrap(identity.POST("/v1/auth/password-reset", { body: { tenant: tenant.trim().toLowerCase(), email: email.trim() } }));
      setSent(true);
    } catch (failure) {
      setError(errorMessage(failure));
    } finally {
      setBusy(false);
    }
  }

  return (
    <main id="main" className="auth">
      <form className="card" onSubmit={submit} aria-labelledby="forgot-title">
        <h1 id="forgot-title">Forgot your password?</h1>
        {sent ? (
          <p role="status">
            If an account with this email exists, a link to choose a new password is on its way. It works once, for 30
            minutes.
          </p>
        ) : (
          <>
            <p>We will email you a link to choose a new one.</p>
            <label>
              Organisation
              <input name="tenant" value={tenant} onChange={(e) => setTenant(e.target.value)} autoComplete="organization" required placeholder="e.g. demo" />
            </label>
            <label>
              Email
              <input name="email" type="email" value={email} onChange={(e) => setEmail(e.target.value)} autoComplete="username" required />
            </label>
            {error && (
              <p className="notice error" role="alert">
                {error}
              </p>
            )}
            <button type="submit" disabled={busy}>
              {busy ? "Sending…" : "Email me a link"}
            </button>
          </>
        )}
        <Link to="/sign-in">Back to sign in</Link>
      </form>
    </main>
  );
}

/** The page the reset email links to: choose a new password (every device is signed out). */
export function ResetPassword() {
  const [params] = useSearchParams();
  const token = params.get("token") ?? "";
  const [password, setPassword] = useState("");
  const [busy, setBusy] = useState(false);
  const [done, setDone] = useState(false);
  const [error, setError] = useState("");

  async function submit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setError("");
    try {
      await unwrap(identity.POST("/v1/auth/password-reset/confirm", { body: { token, new_password: password } }));
      setDone(true);
    } catch (failure) {
      setError(errorMessage(failure));
    } finally {
      setBusy(false);
    }
  }

  if (!token) {
    return (
      <main id="main" className="auth">
        <div className="card">
          <h1>This reset link is incomplete</h1>
          <p>Open the link from the email again, or ask for a new one.</p>
          <Link to="/forgot-password">Ask for a new link</Link>
        </div>
      </main>
    );
  }
  return (
    <main id="main" className="auth">
      <form className="card" onSubmit={submit} aria-labelledby="reset-title">
        <h1 id="reset-title">Choose a new password</h1>
        {done ? (
          <p role="status">Your password is changed and every device was signed out. Sign in with the new one.</p>
        ) : (
          <>
            <label>
              New password
              <input
                type="password"
                value={password}
                onChange={(e) => setPassword(e.target.value)}
                autoComplete="new-password"
                required
                minLength={8}
                aria-describedby="password-hint"
              />
            </label>
            <p id="password-hint" className="hint">
              At least 8 characters; a few words you will remember work well.
            </p>
            {error && (
              <p className="notice error" role="alert">
                {error} {/expired|used/.test(error) && <Link to="/forgot-password">Ask for a new link</Link>}
              </p>
            )}
            <button type="submit" disabled={busy}>
              {busy ? "Saving…" : "Set the new password"}
            </button>
          </>
        )}
        <Link to="/sign-in">Go to sign in</Link>
      </form>
    </main>
  );
}

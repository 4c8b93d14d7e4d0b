import { useState } from "react";
import { Link, useSearchParams } from "react-router";
import { identity, unwrap } from "../api/client";
import { session } from "../auth/session";
import { FormError, NewPasswordField, SubmitButton, useSubmit } from "../ui/forms";

/** Asks for a reset link. The answer is the same whether or not the account exists, and so is this page. */
export function ForgotPassword() {
  const [tenant, setTenant] = useState(session.rememberedTenant);
  const [email, setEmail] = useState("");
  const [sent, setSent] = useState(false);
  const { busy, error, submit } = useSubmit(async () => {
    await unwrap(identity.POST("/v1/auth/password-reset", { body: { tenant: tenant.trim().toLowerCase(), email: email.trim() } }));
    setSent(true);
  });

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
            <FormError error={error} />
            <SubmitButton busy={busy} label="Email me a link" busyLabel="Sending…" />
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
  const [done, setDone] = useState(false);
  const { busy, error, submit } = useSubmit(async () => {
    await unwrap(identity.POST("/v1/auth/password-reset/confirm", { body: { token, new_password: password } }));
    setDone(true);
  });

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
            <NewPasswordField label="New password" value={password} onChange={setPassword} />
            <FormError error={error}>{/expired|used/.test(error) && <Link to="/forgot-password">Ask for a new link</Link>}</FormError>
            <SubmitButton busy={busy} label="Set the new password" busyLabel="Saving…" />
          </>
        )}
        <Link to="/sign-in">Go to sign in</Link>
      </form>
    </main>
  );
}

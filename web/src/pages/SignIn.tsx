import { useState } from "react";
import { Link, Navigate, useNavigate, useSearchParams } from "react-router";
import { session } from "../auth/session";
import { useClaims } from "../auth/useSession";
import { FormError, SubmitButton, useSubmit } from "../ui/forms";

export function SignIn() {
  const claims = useClaims();
  const navigate = useNavigate();
  const [params] = useSearchParams();
  const [tenant, setTenant] = useState(session.rememberedTenant);
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const next = params.get("next")?.startsWith("/") ? (params.get("next") as string) : "/";
  const { busy, error, submit } = useSubmit(async () => {
    await session.signIn(tenant.trim().toLowerCase(), email.trim(), password);
    navigate(next, { replace: true });
  });

  if (claims && !busy) return <Navigate to={next} replace />;

  return (
    <main id="main" className="auth">
      <form className="card" onSubmit={submit} aria-labelledby="sign-in-title">
        <h1 id="sign-in-title">
          <img src="/favicon.svg" alt="" width="32" height="32" /> Sign in to Cuepoint
        </h1>
        {session.endedBecause && (
          <p className="notice" role="status">
            {session.endedBecause}
          </p>
        )}
        <label>
          Organisation
          <input
            name="tenant"
            value={tenant}
            onChange={(e) => setTenant(e.target.value)}
            autoComplete="organization"
            required
            placeholder="e.g. demo"
          />
        </label>
        <label>
          Email
          <input name="email" type="email" value={email} onChange={(e) => setEmail(e.target.value)} autoComplete="username" required />
        </label>
        <label>
          Password
          <input
            name="password"
            type="password"
            value={password}
            onChange={(e) => setPassword(e.target.value)}
            autoComplete="current-password"
            required
          />
        </label>
        <FormError error={error} />
        <SubmitButton busy={busy} label="Sign in" busyLabel="Signing in…" />
        <Link to="/forgot-password">Forgot password?</Link>
      </form>
    </main>
  );
}

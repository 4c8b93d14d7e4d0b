import { useState } from "react";
import { Link, useNavigate, useSearchParams } from "react-router";
import { identity, unwrap } from "../api/client";
import { session } from "../auth/session";
import { FormError, NewPasswordField, SubmitButton, useSubmit } from "../ui/forms";

/** The page the invitation email links to: register with the invitation, then sign in. */
export function AcceptInvitation() {
  const [params] = useSearchParams();
  const navigate = useNavigate();
  const tenant = params.get("tenant") ?? "";
  const token = params.get("token") ?? "";
  const [email, setEmail] = useState("");
  const [name, setName] = useState("");
  const [password, setPassword] = useState("");
  const { busy, error, submit } = useSubmit(async () => {
    await unwrap(
      identity.POST("/v1/auth/register", {
        body: { tenant, email: email.trim(), password, display_name: name.trim(), invitation_token: token },
      }),
    );
    await session.signIn(tenant, email.trim(), password);
    navigate("/", { replace: true });
  });

  if (!tenant || !token) {
    return (
      <main id="main" className="auth">
        <div className="card">
          <h1>This invitation link is incomplete</h1>
          <p>Open the link from your invitation email again, or ask the person who invited you for a new one.</p>
          <Link to="/sign-in">Go to sign in</Link>
        </div>
      </main>
    );
  }
  return (
    <main id="main" className="auth">
      <form className="card" onSubmit={submit} aria-labelledby="accept-title">
        <h1 id="accept-title">Join {tenant} on Cuepoint</h1>
        <p>Create your account with the email address your invitation was sent to.</p>
        <label>
          Email
          <input type="email" value={email} onChange={(e) => setEmail(e.target.value)} autoComplete="email" required />
        </label>
        <label>
          Your name
          <input value={name} onChange={(e) => setName(e.target.value)} autoComplete="name" required maxLength={120} />
        </label>
        <NewPasswordField label="Choose a password" value={password} onChange={setPassword} />
        <FormError error={error} />
        <SubmitButton busy={busy} label="Create account" busyLabel="Creating your account…" />
      </form>
    </main>
  );
}

import { useEffect, useRef, useState } from "react";
import { Link, useSearchParams } from "react-router";
import { identity, unwrap } from "../api/client";
import { errorMessage } from "../api/problem";
import { Loading } from "../ui/states";

/** The page the verification email links to: it verifies on opening. */
export function VerifyEmail() {
  const [params] = useSearchParams();
  const token = params.get("token") ?? "";
  const [state, setState] = useState<{ done: boolean; error?: string }>({ done: false });
  const sent = useRef(false); // a token works once: never send it twice (StrictMode runs effects twice)

  useEffect(() => {
    if (sent.current) return;
    sent.current = true;
    if (!token) {
      setState({ done: true, error: "This verification link is incomplete: open the link from the email again." });
      return;
    }
    unwrap(identity.POST("/v1/auth/verify-email", { body: { token } }))
      .then(() => setState({ done: true }))
      .catch((error) => setState({ done: true, error: errorMessage(error) }));
  }, [token]);

  return (
    <main id="main" className="auth">
      <div className="card">
        <h1>Verify your email</h1>
        {!state.done && <Loading label="Verifying…" />}
        {state.done && !state.error && <p role="status">Your email address is verified. You can sign in now.</p>}
        {state.error && (
          <p className="notice error" role="alert">
            {state.error}
          </p>
        )}
        <Link to="/sign-in">Go to sign in</Link>
      </div>
    </main>
  );
}

import { useEffect, useRef, useState } from "react";
import { Link, useSearchParams } from "react-router";
import { identity, unwrap } from "../api/client";
import { errorMessage } from "../api/problem";
import { Loading } from "../ui/states";

/** The page the email-change confirmation links to: it confirms on opening, like VerifyEmail. */
export function ConfirmEmailChange() {
  const [params] = useSearchParams();
  const token = params.get("token") ?? "";
  const [state, setState] = useState<{ done: boolean; email?: string; error?: string }>({ done: false });
  const sent = useRef(false); // a token works once: never send it twice (StrictMode runs effects twice)

  useEffect(() => {
    if (sent.current) return;
    sent.current = true;
    if (!token) {
      setState({ done: true, error: "This confirmation link is incomplete: open the link from the email again." });
      return;
    }
    unwrap(identity.POST("/v1/auth/email-change/confirm", { body: { token } }))
      .then((user) => setState({ done: true, email: user.email }))
      .catch((error) => setState({ done: true, error: errorMessage(error) }));
  }, [token]);

  return (
    <main id="main" className="auth">
      <div className="card">
        <h1>Confirm your new email</h1>
        {!state.done && <Loading label="Confirming…" />}
        {state.done && !state.error && <p role="status">Your email address is now {state.email}. Sign in with it from now on.</p>}
        {state.error && (
          <p className="notice error" role="alert">
            {state.error}
          </p>
        )}
        <Link to="/">Go to Cuepoint</Link>
      </div>
    </main>
  );
}

import { useEffect, useRef, useState } from "react";
import { Link, useSearchParams } from "react-router";
import { identity, unwrap } from "../api/client";
import { errorMessage } from "../api/problem";
import { Loading } from "../ui/states";

const KINDS: Record<string, string> = {
  email_new_lesson: "emails about new lessons",
  email_grades: "emails when a teacher grades your answers",
  email_weekly_summary: "the weekly summary",
};

/** The page a notification email's unsubscribe link opens: it unsubscribes on opening, no sign-in needed. */
export function Unsubscribe() {
  const [params] = useSearchParams();
  const token = params.get("token") ?? "";
  const [state, setState] = useState<{ done: boolean; kind?: string; error?: string }>({ done: false });
  const sent = useRef(false); // StrictMode runs effects twice: once is enough

  useEffect(() => {
    if (sent.current) return;
    sent.current = true;
    if (!token) {
      setState({ done: true, error: "This unsubscribe link is incomplete: open the link from the email again." });
      return;
    }
    unwrap(identity.POST("/v1/notifications/unsubscribe", { body: { token } }))
      .then((answer) => setState({ done: true, kind: KINDS[answer.notification] ?? answer.notification }))
      .catch((error) => setState({ done: true, error: errorMessage(error) }));
  }, [token]);

  return (
    <main id="main" className="auth">
      <div className="card">
        <h1>Unsubscribe</h1>
        {!state.done && <Loading label="Unsubscribing…" />}
        {state.done && !state.error && (
          <p role="status">You will get no more {state.kind}. You can turn them back on in your account.</p>
        )}
        {state.error && (
          <p className="notice error" role="alert">
            {state.error}
          </p>
        )}
        <Link to="/account">Go to your account</Link>
      </div>
    </main>
  );
}

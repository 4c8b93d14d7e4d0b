import { useState, type FormEvent, type ReactNode } from "react";
import { errorMessage } from "../api/problem";

/**
 * A form's submission: busy while the action runs, the problem it answered as a message (cleared on
 * the next try). The sign-in, invitation and password pages share it.
 */
export function useSubmit(action: () => Promise<void>) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState("");
  async function submit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setError("");
    try {
      await action();
    } catch (failure) {
      setError(errorMessage(failure));
    } finally {
      setBusy(false);
    }
  }
  return { busy, error, submit };
}

/** The problem a submission answered, announced to screen readers; nothing when there is none. */
export function FormError({ error, children }: { error: string; children?: ReactNode }) {
  if (!error) return null;
  return (
    <p className="notice error" role="alert">
      {error} {children}
    </p>
  );
}

/** A submit button that says what it is doing while the form is busy (and cannot be pressed twice). */
export function SubmitButton({ busy, label, busyLabel }: { busy: boolean; label: string; busyLabel: string }) {
  return (
    <button type="submit" disabled={busy}>
      {busy ? busyLabel : label}
    </button>
  );
}

/** A new password, with the rule it must meet said beside it. */
export function NewPasswordField({ label, value, onChange }: { label: string; value: string; onChange: (value: string) => void }) {
  return (
    <>
      <label>
        {label}
        <input
          type="password"
          value={value}
          onChange={(e) => onChange(e.target.value)}
          autoComplete="new-password"
          required
          minLength={8}
          aria-describedby="password-hint"
        />
      </label>
      <p id="password-hint" className="hint">
        At least 8 characters; a few words you will remember work well.
      </p>
    </>
  );
}

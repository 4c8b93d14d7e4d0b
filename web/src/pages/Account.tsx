import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { identity, unwrap } from "../api/client";
import { keys, meQuery, preferencesQuery, sessionsQuery } from "../api/queries";
import { errorMessage } from "../api/problem";
import { session } from "../auth/session";
import { ErrorNotice, Loading } from "../ui/states";

const when = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

export function Account() {
  const me = useQuery(meQuery);
  return (
    <div className="page narrow">
      <h1>Account</h1>
      {me.data && (
        <p className="lead">
          {me.data.display_name} · {me.data.email} · {me.data.role.toLowerCase()}
        </p>
      )}
      <Preferences />
      <Sessions />
      <Password />
      <EmailAddress />
      <MyData />
    </div>
  );
}

function Preferences() {
  const queryClient = useQueryClient();
  const preferences = useQuery(preferencesQuery);
  const save = useMutation({
    mutationFn: (change: Record<string, unknown>) => unwrap(identity.PATCH("/v1/users/me/preferences", { body: change })),
    onSuccess: (data) => queryClient.setQueryData(keys.preferences, data),
  });
  return (
    <section aria-labelledby="preferences-title" className="card">
      <h2 id="preferences-title">Playback preferences</h2>
      {preferences.isPending && <Loading />}
      {preferences.isError && <ErrorNotice error={preferences.error} />}
      {preferences.data && (
        <div className="form">
          <label>
            Playback speed
            <select
              value={preferences.data.playback_speed}
              onChange={(e) => save.mutate({ playback_speed: Number(e.target.value) })}
            >
              {[0.5, 0.75, 1, 1.25, 1.5, 1.75, 2].map((speed) => (
                <option key={speed} value={speed}>
                  {speed}×
                </option>
              ))}
            </select>
          </label>
          <label className="check">
            <input
              type="checkbox"
              checked={Boolean(preferences.data.captions_enabled)}
              onChange={(e) => save.mutate({ captions_enabled: e.target.checked })}
            />
            Show captions
          </label>
          <p aria-live="polite" className="meta">
            {save.isPending ? "Saving…" : save.isSuccess ? "Saved." : ""}
          </p>
          {save.isError && <ErrorNotice error={save.error} />}
        </div>
      )}
    </section>
  );
}

function Sessions() {
  const queryClient = useQueryClient();
  const sessions = useQuery(sessionsQuery);
  const revoke = useMutation({
    mutationFn: (id: string) => unwrap(identity.DELETE("/v1/auth/sessions/{session_id}", { params: { path: { session_id: id } } })),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: keys.sessions }),
  });
  const everywhere = useMutation({
    mutationFn: async () => {
      for (const other of (sessions.data ?? []).filter((s) => !s.current)) {
        await unwrap(identity.DELETE("/v1/auth/sessions/{session_id}", { params: { path: { session_id: other.id } } }));
      }
      await session.signOut();
    },
  });
  return (
    <section aria-labelledby="sessions-title" className="card">
      <h2 id="sessions-title">Devices and sessions</h2>
      {sessions.isPending && <Loading />}
      {sessions.isError && <ErrorNotice error={sessions.error} />}
      <ul className="plain">
        {(sessions.data ?? []).map((s) => (
          <li key={s.id} className="row">
            <span>
              <strong>{describeAgent(s.user_agent)}</strong>
              {s.current && <span className="tag">this device</span>}
              <br />
              <span className="meta">
                signed in {when.format(new Date(s.created_at))} · last used {when.format(new Date(s.last_used_at))}
                {s.ip_address ? ` · ${s.ip_address}` : ""}
              </span>
            </span>
            {!s.current && (
              <button type="button" className="secondary" onClick={() => revoke.mutate(s.id)} disabled={revoke.isPending}>
                Sign out<span className="visually-hidden"> {describeAgent(s.user_agent)}</span>
              </button>
            )}
          </li>
        ))}
      </ul>
      {revoke.isError && <ErrorNotice error={revoke.error} />}
      <button type="button" className="danger" onClick={() => everywhere.mutate()} disabled={everywhere.isPending}>
        Sign out everywhere
      </button>
      {everywhere.isError && <ErrorNotice error={everywhere.error} />}
    </section>
  );
}

function describeAgent(agent?: string | null): string {
  if (!agent) return "Unknown device";
  const browser = /Firefox|Edg|Chrome|Chromium|Safari/.exec(agent)?.[0] ?? "Browser";
  const system = /Windows|Mac OS X|Android|iPhone|iPad|Linux/.exec(agent)?.[0] ?? "";
  return `${browser === "Edg" ? "Edge" : browser}${system ? ` on ${system.replace("Mac OS X", "macOS")}` : ""}`;
}

function Password() {
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const change = useMutation({
    mutationFn: () =>
      unwrap(identity.POST("/v1/auth/password", { body: { current_password: current, new_password: next } })),
    onSuccess: () => {
      setCurrent("");
      setNext("");
    },
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    change.mutate();
  };
  return (
    <section aria-labelledby="password-title" className="card">
      <h2 id="password-title">Change password</h2>
      <form className="form" onSubmit={submit}>
        <label>
          Current password
          <input type="password" value={current} onChange={(e) => setCurrent(e.target.value)} autoComplete="current-password" required />
        </label>
        <label>
          New password
          <input type="password" value={next} onChange={(e) => setNext(e.target.value)} autoComplete="new-password" required minLength={8} />
        </label>
        <button type="submit" disabled={change.isPending}>
          {change.isPending ? "Changing…" : "Change password"}
        </button>
        <p aria-live="polite">{change.isSuccess ? "Your password is changed." : ""}</p>
        {change.isError && <p className="notice error" role="alert">{errorMessage(change.error)}</p>}
      </form>
    </section>
  );
}

function EmailAddress() {
  const me = useQuery(meQuery);
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const change = useMutation({
    mutationFn: () => unwrap(identity.POST("/v1/users/me/email", { body: { new_email: email.trim(), current_password: password } })),
    onSuccess: () => setPassword(""),
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    change.mutate();
  };
  return (
    <section aria-labelledby="email-title" className="card">
      <h2 id="email-title">Email address</h2>
      {me.data && <p>Now: {me.data.email}. It changes once you follow the link we send to the new address.</p>}
      <form className="form" onSubmit={submit}>
        <label>
          New email address
          <input type="email" value={email} onChange={(e) => setEmail(e.target.value)} autoComplete="email" required />
        </label>
        <label>
          Current password
          <input type="password" value={password} onChange={(e) => setPassword(e.target.value)} autoComplete="current-password" required />
        </label>
        <button type="submit" disabled={change.isPending}>
          {change.isPending ? "Sending…" : "Change email address"}
        </button>
        <p aria-live="polite">{change.isSuccess ? `Check ${email.trim()} for the link that finishes the change.` : ""}</p>
        {change.isError && <p className="notice error" role="alert">{errorMessage(change.error)}</p>}
      </form>
    </section>
  );
}

type DataExport = { id: string; status: "ASSEMBLING" | "READY" | "FAILED" | "EXPIRED"; requested_at: string;
  parts: Record<string, "waiting" | "received">; expires_at?: string | null };

const EXPORTS_KEY = ["identity", "exports"] as const;

/** "Download my data": an export is assembled from every service's part; its status is polled until
 * it is ready (or failed), then the archive (a ZIP) downloads. */
function MyData() {
  const queryClient = useQueryClient();
  const exports = useQuery({
    queryKey: EXPORTS_KEY,
    queryFn: () => unwrap(identity.GET("/v1/users/me/exports", { params: { query: { limit: 1 } } })),
    refetchInterval: (query) =>
      (query.state.data?.items ?? []).some((e: DataExport) => e.status === "ASSEMBLING") ? 2000 : false,
  });
  const request = useMutation({
    mutationFn: () => unwrap(identity.POST("/v1/users/me/exports")),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: EXPORTS_KEY }),
  });
  const download = useMutation({
    mutationFn: async (id: string) => {
      const { data, error } = await identity.GET("/v1/users/me/exports/{export_id}/archive", {
        params: { path: { export_id: id } }, parseAs: "blob" });
      if (error || !data) throw error ?? new Error("the archive could not be downloaded");
      const link = document.createElement("a");
      link.href = URL.createObjectURL(data as Blob);
      link.download = `cuepoint-my-data-${id}.zip`;
      link.click();
      setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
    },
  });
  const latest = (exports.data?.items ?? [])[0] as DataExport | undefined;
  const received = latest ? Object.values(latest.parts).filter((p) => p === "received").length : 0;
  return (
    <section aria-labelledby="data-title" className="card">
      <h2 id="data-title">Your data</h2>
      <p>Download everything Cuepoint keeps about you: your account, lessons, answers, progress and activity, as a ZIP.</p>
      {exports.isError && <ErrorNotice error={exports.error} />}
      {latest && (
        <p aria-live="polite" className="meta">
          {latest.status === "ASSEMBLING" && `Preparing your data… (${received} of ${Object.keys(latest.parts).length} parts)`}
          {latest.status === "READY" && `Ready${latest.expires_at ? ` until ${when.format(new Date(latest.expires_at))}` : ""}.`}
          {latest.status === "FAILED" && "Preparing your data failed. Please ask again."}
          {latest.status === "EXPIRED" && "Your last download has expired."}
        </p>
      )}
      {latest?.status === "READY" && (
        <button type="button" onClick={() => download.mutate(latest.id)} disabled={download.isPending}>
          {download.isPending ? "Downloading…" : "Download the ZIP"}
        </button>
      )}{" "}
      <button type="button" className="secondary" onClick={() => request.mutate()}
              disabled={request.isPending || latest?.status === "ASSEMBLING"}>
        {request.isPending ? "Asking…" : "Download my data"}
      </button>
      {request.isError && <ErrorNotice error={request.error} />}
      {download.isError && <ErrorNotice error={download.error} />}
    </section>
  );
}

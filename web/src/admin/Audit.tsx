// The audit log: search by actor, target, action and time, page back through it, and verify the
// hash chain ("intact", or where it breaks).
import { useMutation, useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { analytics, jsonOnly, unwrap } from "../api/client";
import { Empty, ErrorNotice, Loading } from "../ui/states";

const when = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });

export function Audit() {
  const [action, setAction] = useState("");
  const [actor, setActor] = useState("");
  const [target, setTarget] = useState("");
  const [start, setStart] = useState("");
  const [before, setBefore] = useState<number | null>(null);
  const entries = useQuery({
    queryKey: ["analytics", "audit", action, actor, target, start, before],
    queryFn: async () =>
      jsonOnly(
        await unwrap(
        analytics.GET("/v1/audit-logs", {
          params: {
            query: {
              action: action || undefined, actor_id: actor || undefined, target_type: target || undefined,
              start: start ? new Date(start).toISOString() : undefined, before_seq: before ?? undefined, limit: 50,
            },
          },
        }),
        ),
      ),
  });
  const verify = useMutation({ mutationFn: () => unwrap(analytics.GET("/v1/audit-logs/verify")) });
  return (
    <>
      <section className="card row" aria-labelledby="verify-title">
        <h2 id="verify-title">Integrity</h2>
        <button type="button" onClick={() => verify.mutate()} disabled={verify.isPending}>Verify the chain</button>
        {verify.data && (
          <p role="status" className={verify.data.intact ? "notice success" : "notice error"}>
            {verify.data.intact
              ? `Intact: ${verify.data.checked} entries checked.`
              : `Broken: ${verify.data.problems.map((p) => `entry ${p.seq}: ${p.problem}`).join("; ")}`}
          </p>
        )}
        {verify.isError && <ErrorNotice error={verify.error} />}
      </section>
      <form className="row" onSubmit={(e) => e.preventDefault()} aria-label="Search the audit log">
        <label>Action<input value={action} onChange={(e) => { setAction(e.target.value); setBefore(null); }} placeholder="e.g. identity.system_config" /></label>
        <label>Actor id<input value={actor} onChange={(e) => { setActor(e.target.value); setBefore(null); }} /></label>
        <label>Target type<input value={target} onChange={(e) => { setTarget(e.target.value); setBefore(null); }} placeholder="e.g. user" /></label>
        <label>From<input type="datetime-local" value={start} onChange={(e) => { setStart(e.target.value); setBefore(null); }} /></label>
      </form>
      {entries.isPending && <Loading />}
      {entries.isError && <ErrorNotice error={entries.error} />}
      {entries.data && entries.data.items.length === 0 && <Empty title="No entries match." />}
      {entries.data && entries.data.items.length > 0 && (
        <table className="data">
          <thead><tr><th scope="col">#</th><th scope="col">When</th><th scope="col">Action</th><th scope="col">Target</th><th scope="col">Actor</th></tr></thead>
          <tbody>
            {entries.data.items.map((e) => (
              <tr key={e.seq}>
                <th scope="row">{e.seq}</th>
                <td>{when.format(new Date(e.occurred_at))}</td>
                <td><code>{e.action}</code></td>
                <td>{e.target_type} <span className="meta">{e.target_id.slice(0, 8)}</span></td>
                <td className="meta">{e.actor_id ? e.actor_id.slice(0, 8) : "system"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {entries.data?.next_before_seq && (
        <button type="button" className="secondary" onClick={() => setBefore(entries.data?.next_before_seq ?? null)}>Older entries</button>
      )}
    </>
  );
}

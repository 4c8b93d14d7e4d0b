// AI drafts and their review: ask for drafts (the job's status follows live), then each draft
// beside the transcript it was drawn from, with approve, edit-and-approve, reject with a reason
// and bulk approve — and keyboard shortcuts for all four.
import { useMutation, useQueries, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useMemo, useState } from "react";
import { Link, useParams } from "react-router";
import { assessment, unwrap } from "../api/client";
import { lessonQuery } from "../api/queries";
import { clock } from "../player/rules";
import { Empty, ErrorNotice, Loading } from "../ui/states";
import { draftsQuery, studioKeys, transcriptQuery } from "./queries";
import { WriteQuestion } from "./WriteQuestion";

type Status = "PENDING_REVIEW" | "APPROVED" | "REJECTED";
const TABS: { status: Status; label: string }[] = [
  { status: "PENDING_REVIEW", label: "To review" },
  { status: "APPROVED", label: "Approved" },
  { status: "REJECTED", label: "Rejected" },
];

export function Review() {
  const { lessonId = "" } = useParams();
  const queryClient = useQueryClient();
  const lesson = useQuery(lessonQuery(lessonId));
  const [status, setStatus] = useState<Status>("PENDING_REVIEW");
  const drafts = useQuery(draftsQuery(lessonId, status));
  const items = drafts.data?.items ?? [];
  const [focus, setFocus] = useState(0);
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [editing, setEditing] = useState<string | null>(null);
  const [jobId, setJobId] = useState<string | null>(null);
  const refresh = () => queryClient.invalidateQueries({ queryKey: ["assessment", "questions", lessonId] });

  const videos = lesson.data?.videos ?? [];
  const transcripts = useQueries({ queries: videos.map((v) => transcriptQuery(v.id)) });
  const segmentsOf = useMemo(
    () => new Map(videos.map((v, i) => [v.id, (transcripts[i]?.data?.segments ?? []) as { start: number; end: number; text: string }[]])),
    [videos, transcripts],
  );
  const milestoneTitle = new Map(videos.flatMap((v) => v.milestones.map((m) => [m.id, `${m.title} (${clock(m.timestamp)})`] as const)));

  // What to draft for: the whole lesson, one video, or one milestone ("v:<id>" / "m:<id>").
  const [scope, setScope] = useState("");
  const generate = useMutation({
    mutationFn: () =>
      unwrap(
        assessment.POST("/v1/generation-jobs", {
          body: {
            lesson_id: lessonId,
            count_per_milestone: 3,
            video_id: scope.startsWith("v:") ? scope.slice(2) : null,
            milestone_ids: scope.startsWith("m:") ? [scope.slice(2)] : null,
          },
        }),
      ),
    onSuccess: (job) => setJobId(job.id),
  });
  const job = useQuery({
    queryKey: studioKeys.job(jobId ?? ""),
    queryFn: () => unwrap(assessment.GET("/v1/generation-jobs/{job_id}", { params: { path: { job_id: jobId as string } } })),
    enabled: Boolean(jobId),
    refetchInterval: (query) => (query.state.data && ["SUCCEEDED", "FAILED"].includes(query.state.data.status) ? false : 1500),
  });
  useEffect(() => {
    if (job.data?.status === "SUCCEEDED") void refresh();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [job.data?.status]);

  const approve = useMutation({
    mutationFn: ({ id, prompt, explanation }: { id: string; prompt?: string; explanation?: string }) =>
      unwrap(
        assessment.POST("/v1/questions/{question_id}/approve", {
          params: { path: { question_id: id } },
          body: prompt !== undefined ? { prompt, explanation } : undefined,
        }),
      ),
    onSuccess: () => {
      setEditing(null);
      void refresh();
    },
  });
  const reject = useMutation({
    mutationFn: ({ id, reason }: { id: string; reason: string }) =>
      unwrap(assessment.POST("/v1/questions/{question_id}/reject", { params: { path: { question_id: id } }, body: { reason } })),
    onSuccess: () => void refresh(),
  });
  const bulk = useMutation({
    mutationFn: (ids: string[]) => unwrap(assessment.POST("/v1/questions/approve", { body: { question_ids: ids } })),
    onSuccess: () => {
      setSelected(new Set());
      void refresh();
    },
  });

  const askReject = (id: string) => {
    const reason = window.prompt("Why reject this draft? (The reason is kept with it.)", "");
    if (reason !== null) reject.mutate({ id, reason });
  };

  // Shortcuts: j/k move, a approve, e edit, r reject, x select, b approve the selected ones.
  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      const target = event.target as HTMLElement;
      if (editing || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName) || event.ctrlKey || event.metaKey || event.altKey) return;
      const current = items[focus];
      if (event.key === "j") setFocus(Math.min(items.length - 1, focus + 1));
      else if (event.key === "k") setFocus(Math.max(0, focus - 1));
      else if (!current || status !== "PENDING_REVIEW") return;
      else if (event.key === "a") approve.mutate({ id: current.id });
      else if (event.key === "e") setEditing(current.id);
      else if (event.key === "r") askReject(current.id);
      else if (event.key === "x") setSelected((all) => toggle(all, current.id));
      else if (event.key === "b" && selected.size) bulk.mutate([...selected]);
      else return;
      event.preventDefault();
    };
    document.addEventListener("keydown", onKey);
    return () => document.removeEventListener("keydown", onKey);
  });
  useEffect(() => {
    document.getElementById(`draft-${items[focus]?.id}`)?.focus();
  }, [focus, items]);

  const failed = [generate, approve, reject, bulk].find((m) => m.isError);
  return (
    <div className="page">
      <p className="crumbs">
        <Link to="/teach">Studio</Link> › <Link to={`/teach/lessons/${lessonId}`}>{lesson.data?.title ?? "Lesson"}</Link>
      </p>
      <h1>Questions</h1>
      <section className="card row" aria-labelledby="generate-title">
        <div>
          <h2 id="generate-title">AI drafts</h2>
          <p className="meta">Three drafts per milestone, from the transcript before it. Nothing reaches students until you approve it.</p>
        </div>
        <label>
          Draft for
          <select value={scope} onChange={(e) => setScope(e.target.value)}>
            <option value="">the whole lesson</option>
            {videos.map((v) => (
              <optgroup key={v.id} label={v.title}>
                <option value={`v:${v.id}`}>all of “{v.title}”</option>
                {v.milestones.map((m) => <option key={m.id} value={`m:${m.id}`}>{m.title} ({clock(m.timestamp)})</option>)}
              </optgroup>
            ))}
          </select>
        </label>
        <button type="button" onClick={() => generate.mutate()} disabled={generate.isPending || (job.data && !["SUCCEEDED", "FAILED"].includes(job.data.status))}>
          Draft questions
        </button>
        {job.data && (
          <p role="status" className={job.data.status === "FAILED" ? "notice error" : "notice"}>
            {job.data.status === "QUEUED" && "Waiting for the generator…"}
            {job.data.status === "RUNNING" && "Drafting questions…"}
            {job.data.status === "SUCCEEDED" && `Done: ${job.data.question_count} drafts to review.`}
            {job.data.status === "FAILED" && `The drafts could not be made: ${job.data.error ?? "no reason given"}.`}
          </p>
        )}
      </section>
      {milestoneTitle.size > 0 && (
        <WriteQuestion lessonId={lessonId} milestones={[...milestoneTitle].map(([id, label]) => ({ id, label }))} onCreated={() => void refresh()} />
      )}
      <div className="tabs" role="tablist" aria-label="Questions by status">
        {TABS.map((tab) => (
          <button key={tab.status} type="button" role="tab" aria-selected={status === tab.status} className={status === tab.status ? "" : "secondary"} onClick={() => { setStatus(tab.status); setFocus(0); }}>
            {tab.label}
          </button>
        ))}
      </div>
      {status === "PENDING_REVIEW" && (
        <p className="meta" id="shortcuts">
          Keys: <kbd>j</kbd>/<kbd>k</kbd> next/previous, <kbd>a</kbd> approve, <kbd>e</kbd> edit, <kbd>r</kbd> reject, <kbd>x</kbd> select,{" "}
          <kbd>b</kbd> approve the selected.{" "}
          {items.length > 1 && (
            <button type="button" className="link" onClick={() => setSelected(new Set(items.map((q) => q.id)))}>
              Select all
            </button>
          )}
          {selected.size > 0 && (
            <button type="button" className="secondary" onClick={() => bulk.mutate([...selected])} disabled={bulk.isPending}>
              Approve {selected.size} selected
            </button>
          )}
        </p>
      )}
      {bulk.data && bulk.data.skipped?.length > 0 && (
        <p className="notice warn" role="status">
          Not approved: {bulk.data.skipped.map((s) => `${s.id.slice(0, 8)} (${s.reason})`).join(", ")}
        </p>
      )}
      {failed && <ErrorNotice error={failed.error} />}
      {drafts.isPending && <Loading />}
      {drafts.isError && <ErrorNotice error={drafts.error} retry={() => void drafts.refetch()} />}
      {drafts.isSuccess && items.length === 0 && (
        <Empty title={status === "PENDING_REVIEW" ? "Nothing to review." : "None here."}>
          {status === "PENDING_REVIEW" && <p>Ask for AI drafts above.</p>}
        </Empty>
      )}
      <ol className="plain drafts">
        {items.map((q, index) => {
          const span = q.ai?.transcript_span;
          const source = span && q.video_id ? (segmentsOf.get(q.video_id) ?? []).filter((s) => s.end > (span[0] ?? 0) && s.start < (span[1] ?? 0)) : [];
          return (
            <li key={q.id} id={`draft-${q.id}`} tabIndex={-1} className={`card draft ${index === focus ? "focused" : ""}`} onFocus={() => setFocus(index)} aria-describedby="shortcuts">
              <div className="row actions">
                {status === "PENDING_REVIEW" && (
                  <label className="check">
                    <input type="checkbox" checked={selected.has(q.id)} onChange={() => setSelected((all) => toggle(all, q.id))} />
                    <span className="visually-hidden">Select</span>
                  </label>
                )}
                <span className="tag">{q.type.replace(/_/g, " ").toLowerCase()}</span>
                <span className="meta">{q.milestone_id ? milestoneTitle.get(q.milestone_id) ?? "" : ""}</span>
                <span className="tag">{q.source === "AI" ? `AI · ${q.ai?.provider ?? ""}` : "written"}</span>
              </div>
              {editing === q.id ? (
                <EditForm prompt={q.prompt} explanation={q.explanation} onCancel={() => setEditing(null)} onSave={(prompt, explanation) => approve.mutate({ id: q.id, prompt, explanation })} />
              ) : (
                <>
                  <h3>{q.prompt}</h3>
                  <AnswerKey content={q.content as Record<string, unknown>} />
                  {q.explanation && <p className="meta">Why: {q.explanation}</p>}
                </>
              )}
              {span && (
                <blockquote className="source">
                  <span className="meta">From the transcript, {clock(span[0] ?? 0)}–{clock(span[1] ?? 0)}:</span>{" "}
                  {source.map((s) => s.text).join(" ") || "(the transcript is not loaded)"}
                </blockquote>
              )}
              {q.rejection_reason && <p className="meta">Rejected: {q.rejection_reason}</p>}
              {status === "PENDING_REVIEW" && editing !== q.id && (
                <div className="row actions">
                  <button type="button" onClick={() => approve.mutate({ id: q.id })}>Approve</button>
                  <button type="button" className="secondary" onClick={() => setEditing(q.id)}>Edit and approve</button>
                  <button type="button" className="danger" onClick={() => askReject(q.id)}>Reject</button>
                </div>
              )}
            </li>
          );
        })}
      </ol>
    </div>
  );
}

function toggle(all: Set<string>, id: string): Set<string> {
  const next = new Set(all);
  if (next.has(id)) next.delete(id);
  else next.add(id);
  return next;
}

function EditForm({ prompt, explanation, onSave, onCancel }: { prompt: string; explanation: string; onSave: (p: string, e: string) => void; onCancel: () => void }) {
  const [p, setP] = useState(prompt);
  const [e, setE] = useState(explanation);
  return (
    <form className="form wide-form" onSubmit={(event) => { event.preventDefault(); onSave(p, e); }}>
      <label>
        Question
        <textarea value={p} onChange={(event) => setP(event.target.value)} rows={2} maxLength={2000} required autoFocus />
      </label>
      <label>
        Explanation (shown once the question is settled)
        <textarea value={e} onChange={(event) => setE(event.target.value)} rows={2} maxLength={4000} />
      </label>
      <div className="row">
        <button type="submit">Save and approve</button>
        <button type="button" className="secondary" onClick={onCancel}>Cancel</button>
      </div>
    </form>
  );
}

/** The answer key, as a teacher reads it. */
function AnswerKey({ content }: { content: Record<string, unknown> }) {
  const type = content.type as string;
  if (type === "MULTIPLE_CHOICE") {
    const correct = new Set((content.correct_option_ids as string[]) ?? []);
    return (
      <ul className="key">
        {((content.options as { id: string; text: string }[]) ?? []).map((o) => (
          <li key={o.id} className={correct.has(o.id) ? "right" : undefined}>
            {o.text}
            {correct.has(o.id) && <span className="visually-hidden"> (correct)</span>}
          </li>
        ))}
      </ul>
    );
  }
  if (type === "TRUE_FALSE") return <p>Answer: {content.correct ? "True" : "False"}</p>;
  if (type === "SHORT_ANSWER") return <p>Accepted: {((content.accepted_answers as string[]) ?? []).join(", ")}</p>;
  if (type === "FILL_IN_THE_BLANK") return <p>{String(content.template ?? "")} — {((content.blanks as { id: string; accepted: string[] }[]) ?? []).map((b) => `${b.id}: ${b.accepted.join("/")}`).join("; ")}</p>;
  if (type === "MATCHING") return <ul className="key">{((content.pairs as { left: string; right: string }[]) ?? []).map((p, i) => <li key={i}>{p.left} → {p.right}</li>)}</ul>;
  if (type === "ORDERING") {
    const text = new Map(((content.items as { id: string; text: string }[]) ?? []).map((i) => [i.id, i.text]));
    return <ol className="key">{((content.correct_order as string[]) ?? []).map((id) => <li key={id}>{text.get(id)}</li>)}</ol>;
  }
  return null;
}

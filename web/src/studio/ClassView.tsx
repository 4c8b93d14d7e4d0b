// The class, live: every student's progress in a lesson, updated without a reload through the
// lesson's SSE stream, and a student's drill-down with each answer and score.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { Link, useParams } from "react-router";
import { assessment, progress, unwrap } from "../api/client";
import { API_BASE } from "../api/base";
import { lessonQuery } from "../api/queries";
import { errorMessage } from "../api/problem";
import { follow } from "../api/stream";
import { Empty, ErrorNotice, Loading, ProgressBar } from "../ui/states";

const when = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

type Row = { student_id: string; student_name?: string | null; status: string; completion_percent: number; average_score: number | null; total_time_spent: number; updated_at: string };

function minutes(seconds: number): string {
  return seconds < 60 ? `${seconds} s` : `${Math.round(seconds / 60)} min`;
}

export function ClassView() {
  const { lessonId = "" } = useParams();
  const queryClient = useQueryClient();
  const lesson = useQuery(lessonQuery(lessonId));
  const key = ["progress", "class", lessonId] as const;
  const rows = useQuery({
    queryKey: key,
    queryFn: () => unwrap(progress.GET("/v1/lessons/{lesson_id}/progress", { params: { path: { lesson_id: lessonId }, query: { limit: 100 } } })),
  });
  const [live, setLive] = useState(false);
  const [lastUpdate, setLastUpdate] = useState<Date | null>(null);
  const [open, setOpen] = useState<string | null>(null);

  useEffect(() => {
    const stop = new AbortController();
    void follow(
      `${API_BASE}/progress/v1/lessons/${lessonId}/stream`,
      (event) => {
        if (event.event !== "progress") return;
        const changed = JSON.parse(event.data) as Row;
        setLastUpdate(new Date());
        queryClient.setQueryData(key, (old: { items: Row[]; total: number; limit: number; offset: number } | undefined) => {
          if (!old) return old;
          const others = old.items.filter((r) => r.student_id !== changed.student_id);
          const before = old.items.find((r) => r.student_id === changed.student_id);
          return { ...old, items: [{ ...before, ...changed }, ...others], total: before ? old.total : old.total + 1 };
        });
        void queryClient.invalidateQueries({ queryKey: ["assessment", "attempts-of", changed.student_id] });
      },
      stop.signal,
      setLive,
    );
    return () => stop.abort();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [lessonId]);

  const items = (rows.data?.items ?? []) as Row[];
  return (
    <div className="page wide">
      <p className="crumbs">
        <Link to="/teach">Studio</Link> › <Link to={`/teach/lessons/${lessonId}`}>{lesson.data?.title ?? "Lesson"}</Link>
      </p>
      <div className="row">
        <h1>Class progress</h1>
        <p className="meta" role="status">
          <span className={`live ${live ? "on" : ""}`} aria-hidden="true" /> {live ? "Live" : "Connecting…"}
          {lastUpdate && ` · last change ${lastUpdate.toLocaleTimeString()}`}
        </p>
      </div>
      {rows.isPending && <Loading />}
      {rows.isError && <ErrorNotice error={rows.error} retry={() => void rows.refetch()} />}
      {rows.isSuccess && items.length === 0 && <Empty title="No student has started this lesson yet." />}
      {items.length > 0 && (
        <table className="data">
          <caption className="visually-hidden">Each student's progress in this lesson</caption>
          <thead>
            <tr>
              <th scope="col">Student</th>
              <th scope="col">Completion</th>
              <th scope="col">Average score</th>
              <th scope="col">Time spent</th>
              <th scope="col">Last activity</th>
              <th scope="col"><span className="visually-hidden">Answers</span></th>
            </tr>
          </thead>
          <tbody>
            {items.map((row) => (
              <StudentRow key={row.student_id} row={row} lessonId={lessonId} open={open === row.student_id} onToggle={() => setOpen(open === row.student_id ? null : row.student_id)} />
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

function StudentRow({ row, lessonId, open, onToggle }: { row: Row; lessonId: string; open: boolean; onToggle: () => void }) {
  const name = row.student_name || `Student ${row.student_id.slice(0, 8)}`;
  return (
    <>
      <tr data-student={row.student_id}>
        <th scope="row">{name}</th>
        <td>
          <ProgressBar value={row.completion_percent} label={`${name}: completion`} />
          <span className="meta">{Math.round(row.completion_percent)}% · {row.status.replace("_", " ").toLowerCase()}</span>
        </td>
        <td>{row.average_score == null ? "—" : `${Math.round(row.average_score)}%`}</td>
        <td>{minutes(row.total_time_spent)}</td>
        <td>{when.format(new Date(row.updated_at))}</td>
        <td>
          <button type="button" className="link" aria-expanded={open} onClick={onToggle}>
            {open ? "Hide answers" : "Answers"}<span className="visually-hidden"> of {name}</span>
          </button>
        </td>
      </tr>
      {open && (
        <tr>
          <td colSpan={6}>
            <Answers lessonId={lessonId} studentId={row.student_id} />
          </td>
        </tr>
      )}
    </>
  );
}

function Answers({ lessonId, studentId }: { lessonId: string; studentId: string }) {
  const attempts = useQuery({
    queryKey: ["assessment", "attempts-of", studentId, lessonId],
    queryFn: () => unwrap(assessment.GET("/v1/attempts", { params: { query: { lesson_id: lessonId, student_id: studentId, limit: 100 } } })),
  });
  if (attempts.isPending) return <Loading />;
  if (attempts.isError) return <ErrorNotice error={attempts.error} />;
  if (attempts.data.items.length === 0) return <p className="meta">No answers yet.</p>;
  return (
    <ul className="plain">
      {attempts.data.items.map((a) => (
        <li key={a.question_id}>
          <strong>{a.type.replace(/_/g, " ").toLowerCase()}</strong> · score {a.score} of {a.max_score} · {a.attempts_used}{" "}
          {a.attempts_used === 1 ? "attempt" : "attempts"}
          {a.settled ? " · settled" : ""}
          {a.score_overridden && a.override && <span className="tag">re-scored: {a.override.reason}</span>}
          <br />
          <span className="meta">answer: {JSON.stringify(a.answer).replace(/[{}"]/g, " ").replace(/\s+/g, " ")}</span>
          {(a.type === "SHORT_ANSWER" || a.type === "FILL_IN_THE_BLANK") && <Override attemptId={a.attempt_id} max={a.max_score} />}
        </li>
      ))}
    </ul>
  );
}

/** A teacher re-scores a typed answer the key missed, with a reason the student sees. */
function Override({ attemptId, max }: { attemptId: string; max: number }) {
  const queryClient = useQueryClient();
  const [open, setOpen] = useState(false);
  const [score, setScore] = useState(String(max));
  const [reason, setReason] = useState("");
  const save = useMutation({
    mutationFn: () => unwrap(assessment.POST("/v1/attempts/{attempt_id}/override", { params: { path: { attempt_id: attemptId } }, body: { score: Number(score), reason: reason.trim() } })),
    onSuccess: () => {
      setOpen(false);
      void queryClient.invalidateQueries({ queryKey: ["assessment", "attempts-of"] });
    },
  });
  if (!open) return <button type="button" className="link" onClick={() => setOpen(true)}>Re-score</button>;
  return (
    <form className="row" onSubmit={(e) => { e.preventDefault(); save.mutate(); }}>
      <label>Score (0–{max})<input type="number" min={0} max={max} step="0.01" value={score} onChange={(e) => setScore(e.target.value)} required /></label>
      <label className="grow">Reason (the student sees it)<input value={reason} onChange={(e) => setReason(e.target.value)} required maxLength={500} /></label>
      <button type="submit" disabled={save.isPending}>Save score</button>
      <button type="button" className="secondary" onClick={() => setOpen(false)}>Cancel</button>
      {save.isError && <p className="notice error" role="alert">{errorMessage(save.error)}</p>}
    </form>
  );
}

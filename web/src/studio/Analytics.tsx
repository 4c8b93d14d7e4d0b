// The teacher's dashboards, as pictures with their numbers beside them: the seed's Teacher
// Analytics Query for all their lessons, and for one lesson the item analysis (difficulty,
// discrimination, the share of each option picked) and the engagement along each video's
// timeline (views, rewatches, drop-off, with the milestones on the same axis), and completion over
// time (students started and completed per day, the running completion rate). CSV for each.
import { useQueries, useQuery } from "@tanstack/react-query";
import { useMemo, useState } from "react";
import { Link, useParams } from "react-router";
import { analytics, assessment, authorizedFetch, jsonOnly, unwrap } from "../api/client";
import { API_BASE } from "../api/base";
import { lessonQuery } from "../api/queries";
import { errorMessage } from "../api/problem";
import { clock } from "../player/rules";
import { Empty, ErrorNotice, Loading } from "../ui/states";
import { Chart, downloadCsv } from "./Chart";

const BLUE = "#1f4fd6";

const AMBER = "#b45309";
const GREEN = "#166534";

function CsvButton({ path, filename }: { path: string; filename: string }) {
  const [error, setError] = useState("");
  return (
    <>
      <button
        type="button"
        className="secondary"
        onClick={() => downloadCsv(() => authorizedFetch(new Request(`${API_BASE}/analytics${path}${path.includes("?") ? "&" : "?"}format=csv`)), filename).catch((e) => setError(errorMessage(e)))}
      >
        Download CSV<span className="visually-hidden"> {filename}</span>
      </button>
      {error && <span className="notice error" role="alert">{error}</span>}
    </>
  );
}

/** All of a teacher's lessons: the seed's Teacher Analytics Query. */
export function LessonsDashboard() {
  const lessons = useQuery({ queryKey: ["analytics", "lessons"], queryFn: async () => jsonOnly(await unwrap(analytics.GET("/v1/dashboards/lessons", { params: { query: { limit: 100 } } }))) });
  const items = lessons.data?.items ?? [];
  const config = useMemo(
    () => ({
      type: "bar" as const,
      data: {
        labels: items.map((l) => l.title),
        datasets: [
          { label: "Average completion %", data: items.map((l) => l.avg_completion ?? 0), backgroundColor: BLUE },
          { label: "Average score %", data: items.map((l) => l.avg_score ?? 0), backgroundColor: AMBER },
        ],
      },
      options: { scales: { y: { min: 0, max: 100 } } },
    }),
    [items],
  );
  return (
    <div className="page">
      <p className="crumbs"><Link to="/teach">Studio</Link></p>
      <div className="row">
        <h1>Your lessons at a glance</h1>
        <CsvButton path="/v1/dashboards/lessons" filename="lessons.csv" />
      </div>
      {lessons.isPending && <Loading />}
      {lessons.isError && <ErrorNotice error={lessons.error} />}
      {lessons.isSuccess && items.length === 0 && <Empty title="No lessons with students yet." />}
      {items.length > 0 && (
        <>
          <Chart config={config} label="Average completion and score per lesson" />
          <table className="data">
            <thead>
              <tr><th scope="col">Lesson</th><th scope="col">Students</th><th scope="col">Avg completion</th><th scope="col">Avg score</th><th scope="col">Avg time</th></tr>
            </thead>
            <tbody>
              {items.map((l) => (
                <tr key={l.title}>
                  <th scope="row">{l.title}</th>
                  <td>{l.enrolled_students}</td>
                  <td>{l.avg_completion == null ? "—" : `${Math.round(l.avg_completion)}%`}</td>
                  <td>{l.avg_score == null ? "—" : `${Math.round(l.avg_score)}%`}</td>
                  <td>{l.avg_time_spent == null ? "—" : `${Math.round(l.avg_time_spent / 60)} min`}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </div>
  );
}

/** One lesson: item analysis and engagement along each video. */
export function LessonAnalytics() {
  const { lessonId = "" } = useParams();
  const lesson = useQuery(lessonQuery(lessonId));
  const items = useQuery({
    queryKey: ["analytics", "items", lessonId],
    queryFn: async () => jsonOnly(await unwrap(analytics.GET("/v1/dashboards/lessons/{lesson_id}/questions", { params: { path: { lesson_id: lessonId }, query: { limit: 200 } } }))),
  });
  const questions = useQuery({
    queryKey: ["assessment", "questions", lessonId, "APPROVED"],
    queryFn: () => unwrap(assessment.GET("/v1/questions", { params: { query: { lesson_id: lessonId, status: "APPROVED", limit: 100 } } })),
  });
  const prompt = new Map((questions.data?.items ?? []).map((q) => [q.id, q.prompt]));
  const rows = items.data?.items ?? [];
  const difficulty = useMemo(
    () => ({
      type: "bar" as const,
      data: {
        labels: rows.map((_, i) => `Q${i + 1}`),
        datasets: [
          { label: "Difficulty (share answering right first time)", data: rows.map((r) => r.difficulty ?? 0), backgroundColor: BLUE },
          { label: "Discrimination", data: rows.map((r) => r.discrimination ?? 0), backgroundColor: GREEN },
        ],
      },
      options: { scales: { y: { min: -1, max: 1 } } },
    }),
    [rows],
  );
  const picks = useMemo(() => {
    const options = [...new Set(rows.flatMap((r) => Object.keys(r.option_picks ?? {})))];
    const colours = ["#1f4fd6", "#b45309", "#166534", "#7c3aed", "#a11a1a", "#0e7490"];
    return {
      type: "bar" as const,
      data: {
        labels: rows.map((_, i) => `Q${i + 1}`),
        datasets: options.map((option, i) => ({
          label: `option ${option}`,
          data: rows.map((r) => Math.round(Number(r.option_picks?.[option] ?? 0) * 100)),
          backgroundColor: colours[i % colours.length],
        })),
      },
      options: { scales: { x: { stacked: true }, y: { stacked: true, min: 0, max: 100 } } },
    };
  }, [rows]);
  const videos = [...(lesson.data?.videos ?? [])].sort((a, b) => a.position - b.position);
  const engagement = useQueries({
    queries: videos.map((v) => ({
      queryKey: ["analytics", "engagement", v.id],
      queryFn: async () => jsonOnly(await unwrap(analytics.GET("/v1/dashboards/videos/{video_id}/engagement", { params: { path: { video_id: v.id } } }))),
    })),
  });

  return (
    <div className="page wide">
      <p className="crumbs">
        <Link to="/teach">Studio</Link> › <Link to={`/teach/lessons/${lessonId}`}>{lesson.data?.title ?? "Lesson"}</Link>
      </p>
      <h1>Analytics</h1>
      <section className="card" aria-labelledby="items-title">
        <div className="row">
          <h2 id="items-title">Questions</h2>
          <CsvButton path={`/v1/dashboards/lessons/${lessonId}/questions`} filename="questions.csv" />
        </div>
        {items.isPending && <Loading />}
        {items.isError && <ErrorNotice error={items.error} />}
        {items.isSuccess && rows.length === 0 && <Empty title="No answers yet." />}
        {rows.length > 0 && (
          <>
            <Chart config={difficulty} label="Difficulty and discrimination per question" />
            {picks.data.datasets.length > 0 && <Chart config={picks} label="Share of students picking each option, per choice question (%)" />}
            <table className="data">
              <thead>
                <tr><th scope="col">#</th><th scope="col">Question</th><th scope="col">Students</th><th scope="col">Difficulty</th><th scope="col">Discrimination</th><th scope="col">Options picked</th></tr>
              </thead>
              <tbody>
                {rows.map((r, i) => (
                  <tr key={r.question_id}>
                    <th scope="row">Q{i + 1}</th>
                    <td>{prompt.get(r.question_id) ?? r.question_id.slice(0, 8)}</td>
                    <td>{r.students}</td>
                    <td>{r.difficulty ?? "—"}</td>
                    <td>{r.discrimination ?? "—"}</td>
                    <td>{Object.entries(r.option_picks ?? {}).map(([option, share]) => `${option}: ${Math.round(Number(share) * 100)}%`).join(", ") || "—"}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </>
        )}
      </section>
      <CompletionOverTime lessonId={lessonId} />
      {videos.map((video, index) => {
        const data = engagement[index]?.data;
        return (
          <section className="card" key={video.id} aria-label={`Engagement: ${video.title}`}>
            <div className="row">
              <h2>{video.title}: engagement</h2>
              <CsvButton path={`/v1/dashboards/videos/${video.id}/engagement`} filename={`engagement-${index + 1}.csv`} />
            </div>
            {engagement[index]?.isPending && <Loading />}
            {engagement[index]?.isError && <ErrorNotice error={engagement[index]?.error} />}
            {data && data.buckets.length === 0 && <Empty title="Nobody has watched this video yet." />}
            {data && data.buckets.length > 0 && <EngagementChart data={data} />}
          </section>
        );
      })}
    </div>
  );
}

type EngagementData = { bucket_seconds: number; buckets: { start: number; views: number; rewatches: number; drop_off: number }[]; milestones: { id: string; timestamp: number; title: string }[] };

function EngagementChart({ data }: { data: EngagementData }) {
  const config = useMemo(() => {
    const labels = data.buckets.map((b) => clock(b.start));
    const peak = Math.max(1, ...data.buckets.map((b) => b.views));
    const atBucket = (t: number) => Math.floor(t / data.bucket_seconds);
    return {
      type: "line" as const,
      data: {
        labels,
        datasets: [
          { label: "Views", data: data.buckets.map((b) => b.views), borderColor: BLUE, backgroundColor: BLUE },
          { label: "Rewatches", data: data.buckets.map((b) => b.rewatches), borderColor: GREEN, backgroundColor: GREEN },
          { label: "Drop-off", data: data.buckets.map((b) => b.drop_off), borderColor: "#a11a1a", backgroundColor: "#a11a1a" },
          {
            type: "bar" as const,
            label: "Milestones",
            data: data.buckets.map((_, i) => (data.milestones.some((m) => atBucket(m.timestamp) === i) ? peak : null)),
            backgroundColor: "rgba(180, 83, 9, 0.35)",
          },
        ],
      },
      options: { scales: { y: { beginAtZero: true } } },
    };
  }, [data]);
  return (
    <>
      <Chart config={config as never} label="Views, rewatches and drop-off along the video, milestones marked" />
      <p className="meta">
        Milestones: {data.milestones.map((m) => `${m.title} at ${clock(m.timestamp)}`).join(" · ") || "none"} · each point is {data.bucket_seconds} s of
        video.
      </p>
    </>
  );
}

const RANGES = [
  { days: 7, label: "7 days" },
  { days: 30, label: "30 days" },
  { days: 90, label: "90 days" },
];

/** Students who started and completed the lesson per day, and the running completion rate. */
function CompletionOverTime({ lessonId }: { lessonId: string }) {
  const [days, setDays] = useState(30);
  const end = new Date().toISOString().slice(0, 10);
  const start = new Date(Date.now() - (days - 1) * 86_400_000).toISOString().slice(0, 10);
  const completion = useQuery({
    queryKey: ["analytics", "completion", lessonId, start, end],
    queryFn: async () =>
      jsonOnly(await unwrap(analytics.GET("/v1/dashboards/lessons/{lesson_id}/completion", { params: { path: { lesson_id: lessonId }, query: { start, end } } }))),
  });
  const rows = completion.data?.days ?? [];
  const config = useMemo(
    () => ({
      type: "bar" as const,
      data: {
        labels: rows.map((d) => d.day.slice(5)),
        datasets: [
          { label: "Started", data: rows.map((d) => d.started), backgroundColor: BLUE, yAxisID: "students" },
          { label: "Completed", data: rows.map((d) => d.completed), backgroundColor: GREEN, yAxisID: "students" },
          {
            type: "line" as const,
            label: "Completion rate (%)",
            data: rows.map((d) => d.completion_rate),
            borderColor: AMBER,
            backgroundColor: AMBER,
            yAxisID: "rate",
          },
        ],
      },
      options: {
        scales: {
          students: { type: "linear" as const, position: "left" as const, beginAtZero: true, ticks: { precision: 0 } },
          rate: { type: "linear" as const, position: "right" as const, min: 0, max: 100, grid: { drawOnChartArea: false } },
        },
      },
    }),
    [rows],
  );
  const anyone = rows.some((d) => d.cumulative_started > 0);
  return (
    <section className="card" aria-labelledby="completion-title">
      <div className="row">
        <h2 id="completion-title">Completion over time</h2>
        <label>
          Range
          <select value={days} onChange={(e) => setDays(Number(e.target.value))}>
            {RANGES.map((r) => (
              <option key={r.days} value={r.days}>
                last {r.label}
              </option>
            ))}
          </select>
        </label>
        <CsvButton path={`/v1/dashboards/lessons/${lessonId}/completion?start=${start}&end=${end}`} filename="completion.csv" />
      </div>
      {completion.isPending && <Loading />}
      {completion.isError && <ErrorNotice error={completion.error} />}
      {completion.isSuccess && !anyone && <Empty title="Nobody has started this lesson yet." />}
      {anyone && (
        <>
          <Chart config={config as never} label={`Students started and completed per day, and the completion rate, from ${start} to ${end}`} />
          <p className="meta">
            By {end}: {rows.at(-1)?.cumulative_completed ?? 0} of {rows.at(-1)?.cumulative_started ?? 0} students completed (
            {rows.at(-1)?.completion_rate ?? 0}%). Days are UTC.
          </p>
        </>
      )}
    </section>
  );
}

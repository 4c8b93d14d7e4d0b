import { useQuery } from "@tanstack/react-query";
import { useDeferredValue, useState } from "react";
import { Link } from "react-router";
import { dashboardQuery, lessonsQuery } from "../api/queries";
import { Empty, ErrorNotice, Loading, ProgressBar } from "../ui/states";
import { Thumbnail } from "../ui/Thumbnail";

const when = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

/** The seed's Student Dashboard Query as a page, and the published lessons to start. */
export function MyLessons() {
  const [search, setSearch] = useState("");
  const query = useDeferredValue(search.trim());
  const dashboard = useQuery(dashboardQuery);
  const lessons = useQuery(lessonsQuery(query));
  const started = dashboard.data?.items ?? [];
  const startedIds = new Set(started.map((row) => row.lesson_id));
  const available = (lessons.data?.items ?? []).filter((lesson) => !startedIds.has(lesson.id));

  return (
    <div className="page">
      <h1>My lessons</h1>
      <section aria-labelledby="continue-title">
        <h2 id="continue-title">Continue where you left off</h2>
        {dashboard.isPending && <Loading />}
        {dashboard.isError && <ErrorNotice error={dashboard.error} retry={() => void dashboard.refetch()} />}
        {dashboard.isSuccess && started.length === 0 && (
          <Empty title="You have not started a lesson yet.">
            <p>Pick one below: your progress shows up here.</p>
          </Empty>
        )}
        <ul className="cards">
          {started.map((row) => (
            <li key={row.lesson_id} className="card lesson">
              <Thumbnail src={row.thumbnail} title={row.title} />
              <div>
                <h3>
                  <Link to={`/lessons/${row.lesson_id}`}>{row.title}</Link>
                </h3>
                <ProgressBar value={row.completion_percent ?? 0} label={`${row.title}: completion`} />
                <p className="meta">
                  {Math.round(row.completion_percent ?? 0)}% complete
                  {row.average_score != null && <> · average score {Math.round(row.average_score)}%</>}
                  {row.last_activity && <> · last activity {when.format(new Date(row.last_activity))}</>}
                </p>
              </div>
            </li>
          ))}
        </ul>
      </section>
      <section aria-labelledby="available-title">
        <div className="row">
          <h2 id="available-title">Lessons you can start</h2>
          <label className="search">
            <span className="visually-hidden">Search lessons</span>
            <input type="search" placeholder="Search lessons" value={search} onChange={(e) => setSearch(e.target.value)} />
          </label>
        </div>
        {lessons.isPending && <Loading />}
        {lessons.isError && <ErrorNotice error={lessons.error} retry={() => void lessons.refetch()} />}
        {lessons.isSuccess && available.length === 0 && (
          <Empty title={query ? `No lesson matches “${query}”.` : "No other lessons are published yet."} />
        )}
        <ul className="cards">
          {available.map((lesson) => (
            <li key={lesson.id} className="card lesson">
              <Thumbnail src={lesson.thumbnail} title={lesson.title} />
              <div>
                <h3>
                  <Link to={`/lessons/${lesson.id}`}>{lesson.title}</Link>
                </h3>
                {lesson.description && <p className="meta">{lesson.description}</p>}
              </div>
            </li>
          ))}
        </ul>
      </section>
    </div>
  );
}

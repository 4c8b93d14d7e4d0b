import { useMutation, useQuery } from "@tanstack/react-query";
import { useDeferredValue, useState, type FormEvent } from "react";
import { Link, useNavigate } from "react-router";
import { content, unwrap } from "../api/client";
import { errorMessage } from "../api/problem";
import { Empty, ErrorNotice, Loading } from "../ui/states";
import { Thumbnail } from "../ui/Thumbnail";
import { studioLessonsQuery } from "./queries";

const when = new Intl.DateTimeFormat(undefined, { dateStyle: "medium" });

/** The teacher's lessons: typo-tolerant search, status filter, and a new lesson in one step. */
export function LessonsList() {
  const [search, setSearch] = useState("");
  const [status, setStatus] = useState("");
  const query = useDeferredValue(search.trim());
  const lessons = useQuery(studioLessonsQuery(query, status));
  const navigate = useNavigate();
  const [title, setTitle] = useState("");
  const create = useMutation({
    mutationFn: () =>
      unwrap(
        content.POST("/v1/lessons", {
          body: { title: title.trim(), description: "", seek_policy: "FREE", auto_generate_questions: false },
        }),
      ),
    onSuccess: (lesson) => navigate(`/teach/lessons/${lesson.id}`),
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (title.trim()) create.mutate();
  };

  return (
    <div className="page">
      <div className="row">
        <h1>Studio</h1>
        <Link to="/teach/dashboards">Your lessons at a glance</Link>
      </div>
      <form className="card row" onSubmit={submit} aria-labelledby="new-lesson-title">
        <h2 id="new-lesson-title" className="visually-hidden">
          New lesson
        </h2>
        <label className="grow">
          New lesson title
          <input value={title} onChange={(e) => setTitle(e.target.value)} maxLength={200} placeholder="e.g. The water cycle" />
        </label>
        <button type="submit" disabled={!title.trim() || create.isPending}>
          {create.isPending ? "Creating…" : "Create lesson"}
        </button>
        {create.isError && <p className="notice error" role="alert">{errorMessage(create.error)}</p>}
      </form>
      <div className="row">
        <h2>Your lessons</h2>
        <div className="row">
          <label className="compact">
            <span className="visually-hidden">Status</span>
            <select value={status} onChange={(e) => setStatus(e.target.value)}>
              <option value="">All statuses</option>
              <option value="DRAFT">Drafts</option>
              <option value="PUBLISHED">Published</option>
              <option value="ARCHIVED">Archived</option>
            </select>
          </label>
          <label className="search">
            <span className="visually-hidden">Search lessons</span>
            <input type="search" placeholder="Search lessons" value={search} onChange={(e) => setSearch(e.target.value)} />
          </label>
        </div>
      </div>
      {lessons.isPending && <Loading />}
      {lessons.isError && <ErrorNotice error={lessons.error} retry={() => void lessons.refetch()} />}
      {lessons.isSuccess && lessons.data.items.length === 0 && (
        <Empty title={query ? `No lesson matches “${query}”.` : "No lessons yet."}>
          <p>Create one above: add videos, milestones and questions, then publish it to your students.</p>
        </Empty>
      )}
      <ul className="cards">
        {(lessons.data?.items ?? []).map((lesson) => (
          <li key={lesson.id} className="card lesson">
            <Thumbnail src={lesson.thumbnail} title={lesson.title} />
            <div>
              <h3>
                <Link to={`/teach/lessons/${lesson.id}`}>{lesson.title}</Link>
              </h3>
              <p className="meta">
                <span className={`tag status-${lesson.status.toLowerCase()}`}>{lesson.status.toLowerCase()}</span>
                {lesson.published_at ? ` · published ${when.format(new Date(lesson.published_at))}` : ""}
                {lesson.updated_at ? ` · edited ${when.format(new Date(lesson.updated_at))}` : ""}
              </p>
            </div>
          </li>
        ))}
      </ul>
    </div>
  );
}

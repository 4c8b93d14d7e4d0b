import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useState, type FormEvent } from "react";
import { Link, useParams } from "react-router";
import { content, unwrap } from "../api/client";
import { lessonQuery } from "../api/queries";
import { errorMessage } from "../api/problem";
import type { Lesson } from "../api/types";
import { clock } from "../player/rules";
import { Empty, ErrorNotice, Loading } from "../ui/states";
import { studioKeys } from "./queries";
import { VideoUpload } from "./VideoUpload";
import { Thumbnail } from "../ui/Thumbnail";

/** One lesson's working draft: details, chapters, videos (with uploads), and publishing. */
export function LessonEditor() {
  const { lessonId = "" } = useParams();
  const lesson = useQuery(lessonQuery(lessonId));
  const queryClient = useQueryClient();
  const refresh = () => queryClient.invalidateQueries({ queryKey: studioKeys.lesson(lessonId) });

  if (lesson.isPending) return <Loading />;
  if (lesson.isError) return <div className="page"><ErrorNotice error={lesson.error} retry={() => void lesson.refetch()} /></div>;
  const data = lesson.data;
  const videos = [...data.videos].sort((a, b) => a.position - b.position);
  const groups = [...data.video_groups].sort((a, b) => a.position - b.position);

  return (
    <div className="page">
      <p className="crumbs">
        <Link to="/teach">Studio</Link>
      </p>
      <div className="row">
        <h1>{data.title}</h1>
        <span className={`tag status-${data.status.toLowerCase()}`}>
          {data.status.toLowerCase()}
          {data.version ? ` · version ${data.version}` : ""}
        </span>
      </div>
      <Details lessonId={lessonId} data={data} onSaved={refresh} />
      <section className="card" aria-labelledby="chapters-title">
        <h2 id="chapters-title">Chapters</h2>
        <Chapters lessonId={lessonId} groups={groups} onChanged={refresh} />
      </section>
      <section className="card" aria-labelledby="videos-title">
        <h2 id="videos-title">Videos</h2>
        {videos.length === 0 && <Empty title="No videos yet: upload the first one below." />}
        <VideoList lessonId={lessonId} videos={videos} groups={groups} onChanged={refresh} />
        <VideoUpload lessonId={lessonId} groups={groups} onUploaded={refresh} />
      </section>
      <section className="card" aria-labelledby="questions-title">
        <h2 id="questions-title">Questions</h2>
        <p>Ask the AI for drafts from the transcript, review them, or write your own.</p>
        <Link className="button secondary" to={`/teach/lessons/${lessonId}/review`}>
          Review questions
        </Link>
      </section>
      <section className="card row actions" aria-label="Students">
        <Link className="button secondary" to={`/teach/lessons/${lessonId}/class`}>
          Class progress (live)
        </Link>
        <Link className="button secondary" to={`/teach/lessons/${lessonId}/analytics`}>
          Analytics
        </Link>
      </section>
      <Publish lessonId={lessonId} status={data.status} onPublished={refresh} />
    </div>
  );
}

function Details({ lessonId, data, onSaved }: { lessonId: string; data: Lesson; onSaved: () => void }) {
  const [title, setTitle] = useState(data.title);
  const [description, setDescription] = useState(data.description);
  const [seekPolicy, setSeekPolicy] = useState(data.seek_policy);
  useEffect(() => {
    setTitle(data.title);
    setDescription(data.description);
    setSeekPolicy(data.seek_policy);
  }, [data.title, data.description, data.seek_policy]);
  const save = useMutation({
    mutationFn: () =>
      unwrap(
        content.PATCH("/v1/lessons/{lesson_id}", {
          params: { path: { lesson_id: lessonId } },
          body: { title: title.trim(), description, seek_policy: seekPolicy },
        }),
      ),
    onSuccess: onSaved,
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    save.mutate();
  };
  return (
    <form className="card form wide-form" onSubmit={submit} aria-labelledby="details-title">
      <h2 id="details-title">Details</h2>
      <label>
        Title
        <input value={title} onChange={(e) => setTitle(e.target.value)} required maxLength={200} />
      </label>
      <label>
        Description
        <textarea value={description} onChange={(e) => setDescription(e.target.value)} maxLength={5000} rows={3} />
      </label>
      <ThumbnailPicker lessonId={lessonId} title={data.title} current={data.thumbnail ?? null} onChanged={onSaved} />
      <label>
        Seeking
        <select value={seekPolicy} onChange={(e) => setSeekPolicy(e.target.value as typeof seekPolicy)}>
          <option value="FREE">Students may seek freely (but not past a required milestone)</option>
          <option value="NO_SKIP_AHEAD">No skipping ahead of what they watched</option>
        </select>
      </label>
      <div className="row">
        <button type="submit" disabled={save.isPending}>
          {save.isPending ? "Saving…" : "Save details"}
        </button>
        <span aria-live="polite" className="meta">{save.isSuccess ? "Saved." : ""}</span>
      </div>
      {save.isError && <p className="notice error" role="alert">{errorMessage(save.error)}</p>}
    </form>
  );
}

const THUMBNAIL_TYPES = ["image/png", "image/jpeg", "image/webp"];

/** The lesson's picture: uploaded as soon as it is chosen (content checks it is the image it says). */
function ThumbnailPicker({ lessonId, title, current, onChanged }: { lessonId: string; title: string; current: string | null; onChanged: () => void }) {
  const upload = useMutation({
    mutationFn: (file: File) => {
      if (!THUMBNAIL_TYPES.includes(file.type)) throw new Error("Choose a PNG, JPEG or WebP image");
      return unwrap(
        content.PUT("/v1/lessons/{lesson_id}/thumbnail", {
          params: { path: { lesson_id: lessonId } },
          body: file as never, // the image itself is the body
          bodySerializer: (body: unknown) => body as File,
          headers: { "Content-Type": file.type },
        }),
      );
    },
    onSuccess: onChanged,
  });
  const remove = useMutation({
    mutationFn: () => unwrap(content.PATCH("/v1/lessons/{lesson_id}", { params: { path: { lesson_id: lessonId } }, body: { thumbnail: null } })),
    onSuccess: onChanged,
  });
  return (
    <div className="thumbnail-picker">
      <Thumbnail src={current} title={title} />
      <label>
        Thumbnail image (PNG, JPEG or WebP, up to 2 MB)
        <input type="file" accept={THUMBNAIL_TYPES.join(",")} onChange={(e) => e.target.files?.[0] && upload.mutate(e.target.files[0])} />
      </label>
      {current && (
        <button type="button" className="secondary" onClick={() => remove.mutate()} disabled={remove.isPending}>
          Remove the thumbnail
        </button>
      )}
      <span aria-live="polite" className="meta">{upload.isPending ? "Uploading…" : upload.isSuccess ? "Thumbnail saved." : ""}</span>
      {(upload.isError || remove.isError) && <p className="notice error" role="alert">{errorMessage(upload.error ?? remove.error)}</p>}
    </div>
  );
}

function Chapters({ lessonId, groups, onChanged }: { lessonId: string; groups: { id: string; title: string; position: number }[]; onChanged: () => void }) {
  const [title, setTitle] = useState("");
  const add = useMutation({
    mutationFn: () => unwrap(content.POST("/v1/lessons/{lesson_id}/video-groups", { params: { path: { lesson_id: lessonId } }, body: { title: title.trim() } })),
    onSuccess: () => {
      setTitle("");
      onChanged();
    },
  });
  const rename = useMutation({
    mutationFn: ({ id, title: next }: { id: string; title: string }) =>
      unwrap(content.PATCH("/v1/video-groups/{group_id}", { params: { path: { group_id: id } }, body: { title: next } })),
    onSuccess: onChanged,
  });
  const move = useMutation({
    mutationFn: ({ id, position }: { id: string; position: number }) =>
      unwrap(content.PATCH("/v1/video-groups/{group_id}", { params: { path: { group_id: id } }, body: { position } })),
    onSuccess: onChanged,
  });
  const remove = useMutation({
    mutationFn: (id: string) => unwrap(content.DELETE("/v1/video-groups/{group_id}", { params: { path: { group_id: id } } })),
    onSuccess: onChanged,
  });
  const failed = [add, rename, move, remove].find((m) => m.isError);
  return (
    <>
      {groups.length === 0 && <p className="meta">No chapters: videos show as one list. Add chapters to group them.</p>}
      <ol className="plain">
        {groups.map((group, index) => (
          <li key={group.id} className="row">
            <input
              aria-label={`Chapter ${index + 1} title`}
              defaultValue={group.title}
              maxLength={200}
              onBlur={(e) => e.target.value.trim() && e.target.value !== group.title && rename.mutate({ id: group.id, title: e.target.value.trim() })}
            />
            <span className="row">
              <button type="button" className="icon" aria-label={`Move chapter “${group.title}” up`} disabled={index === 0} onClick={() => move.mutate({ id: group.id, position: index - 1 })}>
                ↑
              </button>
              <button type="button" className="icon" aria-label={`Move chapter “${group.title}” down`} disabled={index === groups.length - 1} onClick={() => move.mutate({ id: group.id, position: index + 1 })}>
                ↓
              </button>
              <button type="button" className="danger" onClick={() => window.confirm(`Delete the chapter “${group.title}”? Its videos stay in the lesson.`) && remove.mutate(group.id)}>
                Delete<span className="visually-hidden"> chapter {group.title}</span>
              </button>
            </span>
          </li>
        ))}
      </ol>
      <form
        className="row"
        onSubmit={(event) => {
          event.preventDefault();
          if (title.trim()) add.mutate();
        }}
      >
        <label className="grow">
          New chapter
          <input value={title} onChange={(e) => setTitle(e.target.value)} maxLength={200} />
        </label>
        <button type="submit" className="secondary" disabled={!title.trim() || add.isPending}>
          Add chapter
        </button>
      </form>
      {failed && <ErrorNotice error={failed.error} />}
    </>
  );
}

function Publish({ lessonId, status, onPublished }: { lessonId: string; status: string; onPublished: () => void }) {
  const changes = useQuery({
    queryKey: ["content", "changes", lessonId],
    queryFn: () => unwrap(content.GET("/v1/lessons/{lesson_id}/changes", { params: { path: { lesson_id: lessonId } } })),
    staleTime: 0, // every edit elsewhere in the studio changes it: read it afresh each time the page opens
  });
  const versions = useQuery({
    queryKey: ["content", "versions", lessonId],
    queryFn: () => unwrap(content.GET("/v1/lessons/{lesson_id}/versions", { params: { path: { lesson_id: lessonId } } })),
  });
  const queryClient = useQueryClient();
  const publish = useMutation({
    mutationFn: () => unwrap(content.POST("/v1/lessons/{lesson_id}/publish", { params: { path: { lesson_id: lessonId } } })),
    onSuccess: () => {
      onPublished();
      void queryClient.invalidateQueries({ queryKey: ["content", "changes", lessonId] });
      void queryClient.invalidateQueries({ queryKey: ["content", "versions", lessonId] });
    },
  });
  const c = changes.data;
  const lines = c
    ? [
        ...Object.entries(c.lesson).filter(([, change]) => change).map(([field]) => `lesson ${field.replace("_", " ")} changed`),
        ...c.chapters.added.map((x) => `chapter “${x.title}” added`),
        ...c.chapters.removed.map((x) => `chapter “${x.title}” removed`),
        ...c.chapters.renamed.map((x) => `chapter renamed to “${x.title.after}”`),
        ...c.videos.added.map((x) => `video “${x.title}” added`),
        ...c.videos.removed.map((x) => `video “${x.title}” removed`),
        ...c.videos.changed.map((x) => `video “${x.title}” changed`),
        ...c.milestones.added.map((x) => `milestone “${x.title}” at ${clock(x.timestamp)} added`),
        ...c.milestones.removed.map((x) => `milestone “${x.title}” removed`),
        ...c.milestones.changed.map((x) => `milestone “${x.title}” changed`),
      ]
    : [];
  return (
    <section className="card" aria-labelledby="publish-title">
      <h2 id="publish-title">Publish</h2>
      <p>
        Publishing freezes this draft as the version students see. Students who started an earlier version keep
        it until they finish.
      </p>
      {changes.isError && <ErrorNotice error={changes.error} />}
      {c && (
        <div aria-live="polite">
          {c.has_changes ? (
            <>
              <p className="meta">{c.base_version ? `Against version ${c.base_version}:` : "First publication:"}</p>
              <ul className="changes">{lines.map((line, i) => <li key={i}>{line}</li>)}</ul>
            </>
          ) : (
            <p className="meta">Nothing has changed since version {c.base_version}.</p>
          )}
        </div>
      )}
      <button type="button" onClick={() => publish.mutate()} disabled={publish.isPending || (c ? !c.has_changes && status === "PUBLISHED" : false)}>
        {publish.isPending ? "Publishing…" : status === "PUBLISHED" ? "Publish the changes" : "Publish"}
      </button>
      <p aria-live="polite">{publish.isSuccess ? `Published version ${publish.data.version}.` : ""}</p>
      {publish.isError && <p className="notice error" role="alert">{errorMessage(publish.error)}</p>}
      {versions.data && versions.data.items.length > 0 && (
        <>
          <h3>Published versions</h3>
          <ol className="plain">
            {versions.data.items.map((v) => (
              <li key={v.version} className="meta">
                Version {v.version} · {new Date(v.published_at).toLocaleString()} · {v.video_count} {v.video_count === 1 ? "video" : "videos"},{" "}
                {v.milestone_count} milestones ({v.required_milestone_count} required)
              </li>
            ))}
          </ol>
        </>
      )}
    </section>
  );
}

function VideoList({ lessonId, videos, groups, onChanged }: { lessonId: string; videos: Lesson["videos"]; groups: { id: string; title: string }[]; onChanged: () => void }) {
  const update = useMutation({
    mutationFn: ({ id, ...body }: { id: string; title?: string; position?: number; video_group_id?: string | null }) =>
      unwrap(content.PATCH("/v1/videos/{video_id}", { params: { path: { video_id: id } }, body })),
    onSuccess: onChanged,
  });
  const remove = useMutation({
    mutationFn: (id: string) => unwrap(content.DELETE("/v1/videos/{video_id}", { params: { path: { video_id: id } } })),
    onSuccess: onChanged,
  });
  const failed = [update, remove].find((m) => m.isError);
  return (
    <>
      <ol className="plain">
        {videos.map((video, index) => (
          <li key={video.id} className="milestone-row">
            <Link to={`/teach/lessons/${lessonId}/videos/${video.id}`} className="grow">
              {video.title}
            </Link>
            <span className="meta">
              {video.status.toLowerCase()}
              {video.duration ? ` · ${clock(video.duration)}` : ""} · {video.milestones.length} {video.milestones.length === 1 ? "milestone" : "milestones"}
            </span>
            {groups.length > 0 && (
              <label className="compact">
                <span className="visually-hidden">Chapter of {video.title}</span>
                <select value={video.video_group_id ?? ""} onChange={(e) => update.mutate({ id: video.id, video_group_id: e.target.value || null })}>
                  <option value="">No chapter</option>
                  {groups.map((g) => (
                    <option key={g.id} value={g.id}>{g.title}</option>
                  ))}
                </select>
              </label>
            )}
            <button type="button" className="icon" aria-label={`Move “${video.title}” up`} disabled={index === 0} onClick={() => update.mutate({ id: video.id, position: index - 1 })}>↑</button>
            <button type="button" className="icon" aria-label={`Move “${video.title}” down`} disabled={index === videos.length - 1} onClick={() => update.mutate({ id: video.id, position: index + 1 })}>↓</button>
            <button
              type="button"
              className="secondary"
              onClick={() => {
                const title = window.prompt("New title", video.title);
                if (title && title.trim() && title !== video.title) update.mutate({ id: video.id, title: title.trim() });
              }}
            >
              Rename<span className="visually-hidden"> {video.title}</span>
            </button>
            <button type="button" className="danger" onClick={() => window.confirm(`Delete “${video.title}” from the draft? A published version keeps playing it until you publish again.`) && remove.mutate(video.id)}>
              Delete<span className="visually-hidden"> {video.title}</span>
            </button>
          </li>
        ))}
      </ol>
      {failed && <ErrorNotice error={failed.error} />}
    </>
  );
}

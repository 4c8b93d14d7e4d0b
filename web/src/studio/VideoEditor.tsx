// One video of a lesson's draft: a preview, the transcript beside it (click a line to seek; upload
// a VTT or SRT file), and its milestones on the timeline — add one at the current frame, drag it,
// set required, rename, delete — with the transcript window AI generation will read for the
// selected milestone (from the previous milestone to this one).
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useRef, useState, type PointerEvent as ReactPointerEvent } from "react";
import { Link, useParams } from "react-router";
import { assessment, content, unwrap } from "../api/client";
import { lessonQuery, playbackQuery } from "../api/queries";
import { errorMessage } from "../api/problem";
import { clock } from "../player/rules";
import { ErrorNotice, Loading } from "../ui/states";
import { studioKeys, transcriptQuery } from "./queries";
import { VideoUpload } from "./VideoUpload";

interface Segment {
  start: number;
  end: number;
  text: string;
}

/** The transcript AI generation reads for a milestone: from the previous milestone to this one. */
export function generationWindow(segments: Segment[], timestamps: number[], at: number): Segment[] {
  const since = Math.max(0, ...timestamps.filter((t) => t < at));
  return segments.filter((s) => s.start < at && s.end > since);
}

export function VideoEditor() {
  const { lessonId = "", videoId = "" } = useParams();
  const queryClient = useQueryClient();
  const lesson = useQuery(lessonQuery(lessonId));
  const playback = useQuery(playbackQuery(videoId));
  const transcript = useQuery(transcriptQuery(videoId));
  const player = useRef<HTMLVideoElement>(null);
  const [time, setTime] = useState(0);
  const [selected, setSelected] = useState<string | null>(null);
  // Milestones come with the lesson; the preview's signed URL is left alone, since a new one
  // would reload the video and lose the frame the teacher is at.
  const refresh = () => void queryClient.invalidateQueries({ queryKey: studioKeys.lesson(lessonId) });
  const [src, setSrc] = useState<string | null>(null);
  // After the file is replaced, the preview waits for a playback answer newer than the replacement.
  const [replacedAt, setReplacedAt] = useState(0);
  if (playback.data && (!src || (replacedAt && playback.dataUpdatedAt > replacedAt))) {
    setSrc(playback.data.url);
    setReplacedAt(0);
  }

  const video = lesson.data?.videos.find((v) => v.id === videoId);
  const milestones = [...(video?.milestones ?? [])].sort((a, b) => a.timestamp - b.timestamp);
  const duration = video?.duration ?? playback.data?.duration ?? 0;
  const segments: Segment[] = (transcript.data?.segments ?? []) as Segment[];

  const add = useMutation({
    mutationFn: (at: number) =>
      unwrap(
        content.POST("/v1/videos/{video_id}/milestones", {
          params: { path: { video_id: videoId } },
          body: { timestamp: Math.round(at * 10) / 10, title: `Check at ${clock(at)}`, is_required: true },
        }),
      ),
    onSuccess: (created) => {
      setSelected(created.id);
      refresh();
    },
  });
  const update = useMutation({
    mutationFn: ({ id, ...body }: { id: string; timestamp?: number; title?: string; is_required?: boolean }) =>
      unwrap(content.PATCH("/v1/milestones/{milestone_id}", { params: { path: { milestone_id: id } }, body })),
    onSuccess: refresh,
  });
  const remove = useMutation({
    mutationFn: (id: string) => unwrap(content.DELETE("/v1/milestones/{milestone_id}", { params: { path: { milestone_id: id } } })),
    onSuccess: refresh,
  });

  const seek = (at: number) => {
    if (player.current) player.current.currentTime = at;
    setTime(at);
  };

  // Dragging a marker along the timeline moves the milestone; it is saved on release.
  const timeline = useRef<HTMLDivElement>(null);
  const [dragging, setDragging] = useState<{ id: string; at: number } | null>(null);
  const positionAt = (event: ReactPointerEvent) => {
    const box = timeline.current?.getBoundingClientRect();
    if (!box || !duration) return 0;
    return Math.max(0, Math.min(duration, ((event.clientX - box.left) / box.width) * duration));
  };

  if (lesson.isPending) return <Loading />;
  if (lesson.isError) return <div className="page"><ErrorNotice error={lesson.error} /></div>;
  if (!video) return <div className="page"><ErrorNotice error={new Error("This video is not in the lesson's draft.")} /></div>;

  const chosen = milestones.find((m) => m.id === selected) ?? null;
  const readWindow = chosen ? generationWindow(segments, milestones.map((m) => m.timestamp), chosen.timestamp) : [];
  const failed = [add, update, remove].find((m) => m.isError);

  return (
    <div className="page wide">
      <p className="crumbs">
        <Link to="/teach">Studio</Link> › <Link to={`/teach/lessons/${lessonId}`}>{lesson.data.title}</Link>
      </p>
      <h1>{video.title}</h1>
      <div className="editor">
        <div>
          {playback.isError && <ErrorNotice error={playback.error} />}
          {playback.data && (
            <video
              ref={player}
              className="preview"
              src={src ?? playback.data.url}
              controls
              preload="metadata"
              onTimeUpdate={(e) => setTime(e.currentTarget.currentTime)}
              aria-label="Video preview"
            />
          )}
          <div
            className="timeline studio-timeline"
            ref={timeline}
            onPointerMove={(e) => dragging && setDragging({ ...dragging, at: positionAt(e) })}
            onPointerUp={() => {
              if (dragging) update.mutate({ id: dragging.id, timestamp: Math.round(dragging.at * 10) / 10 });
              setDragging(null);
            }}
          >
            <div className="track" aria-hidden="true">
              <span className="now" style={{ left: `${duration ? (time / duration) * 100 : 0}%` }} />
            </div>
            {milestones.map((m) => {
              const at = dragging?.id === m.id ? dragging.at : m.timestamp;
              // A milestone past the end (the file was replaced by a shorter one) sits at the end, marked.
              const pastEnd = duration > 0 && m.timestamp > duration;
              return (
                <button
                  key={m.id}
                  type="button"
                  className={`mark ${m.is_required ? "required" : ""} ${selected === m.id ? "selected" : ""} ${pastEnd ? "past-end" : ""}`}
                  style={{ left: `${duration ? (Math.min(at, duration) / duration) * 100 : 0}%` }}
                  aria-label={`Milestone “${m.title}” at ${clock(m.timestamp)}${pastEnd ? " (after the end of the video)" : ""}: select; drag, or use the arrow keys, to move it`}
                  onClick={() => {
                    setSelected(m.id);
                    seek(m.timestamp);
                  }}
                  onPointerDown={(e) => {
                    e.currentTarget.setPointerCapture(e.pointerId);
                    setDragging({ id: m.id, at: m.timestamp });
                  }}
                  onKeyDown={(e) => {
                    if (e.key !== "ArrowLeft" && e.key !== "ArrowRight") return;
                    e.preventDefault();
                    const step = (e.key === "ArrowLeft" ? -1 : 1) * (e.shiftKey ? 5 : 1);
                    update.mutate({ id: m.id, timestamp: Math.max(0, Math.min(duration || Infinity, m.timestamp + step)) });
                  }}
                />
              );
            })}
          </div>
          <div className="row">
            <span className="meta">
              {clock(time)} / {clock(duration)}
            </span>
            <button type="button" onClick={() => add.mutate(player.current?.currentTime ?? time)} disabled={add.isPending}>
              Add a milestone at {clock(player.current?.currentTime ?? time)}
            </button>
          </div>
          {failed && <ErrorNotice error={failed.error} />}
          <section aria-labelledby="milestones-title">
            <h2 id="milestones-title">Milestones</h2>
            {milestones.length === 0 && <p className="meta">None yet: play to a moment and add one; playback will pause there for questions.</p>}
            <ol className="plain">
              {milestones.map((m) => (
                <li key={m.id} className={`milestone-row ${selected === m.id ? "selected" : ""}`}>
                  <button type="button" className="link when" onClick={() => { setSelected(m.id); seek(m.timestamp); }}>
                    {clock(m.timestamp)}
                  </button>
                  <input
                    aria-label={`Title of the milestone at ${clock(m.timestamp)}`}
                    defaultValue={m.title}
                    maxLength={200}
                    onBlur={(e) => e.target.value.trim() && e.target.value !== m.title && update.mutate({ id: m.id, title: e.target.value.trim() })}
                  />
                  {duration > 0 && m.timestamp > duration && <span className="tag warning">after the end: move or delete it</span>}
                  <label className="check">
                    <input type="checkbox" checked={m.is_required} onChange={(e) => update.mutate({ id: m.id, is_required: e.target.checked })} />
                    Required
                  </label>
                  <button type="button" className="danger" onClick={() => window.confirm(`Delete the milestone “${m.title}”?`) && remove.mutate(m.id)}>
                    Delete<span className="visually-hidden"> the milestone at {clock(m.timestamp)}</span>
                  </button>
                </li>
              ))}
            </ol>
          </section>
          {chosen && <Policy key={chosen.id} milestoneId={chosen.id} title={chosen.title} />}
          <details className="card replace">
            <summary>Replace the video's file</summary>
            <VideoUpload
              lessonId={lessonId}
              groups={[]}
              replacing={{ id: videoId, title: video.title }}
              onUploaded={() => {
                // The preview follows the new file: a fresh signed URL, and its length for the timeline.
                setReplacedAt(Date.now());
                refresh();
                void queryClient.invalidateQueries({ queryKey: playbackQuery(videoId).queryKey });
              }}
            />
          </details>
        </div>
        <aside aria-labelledby="transcript-title" className="card transcript">
          <h2 id="transcript-title">Transcript</h2>
          {transcript.isPending && <Loading />}
          {transcript.isError && <ErrorNotice error={transcript.error} />}
          {chosen && (
            <div className="window">
              <p className="meta">
                AI drafts for “{chosen.title}” read this ({readWindow.length} {readWindow.length === 1 ? "line" : "lines"}):
              </p>
              <p>{readWindow.map((s) => s.text).join(" ") || "nothing yet: upload a transcript"}</p>
            </div>
          )}
          <ol className="lines">
            {segments.map((segment, index) => (
              <li key={index} className={segment.start <= time && time < segment.end ? "current" : undefined}>
                <button type="button" className="link" onClick={() => seek(segment.start)}>
                  <span className="when">{clock(segment.start)}</span> {segment.text}
                </button>
              </li>
            ))}
          </ol>
          <TranscriptUpload videoId={videoId} hasOne={segments.length > 0} onUploaded={() => void queryClient.invalidateQueries({ queryKey: studioKeys.transcript(videoId) })} />
        </aside>
      </div>
    </div>
  );
}

function TranscriptUpload({ videoId, hasOne, onUploaded }: { videoId: string; hasOne: boolean; onUploaded: () => void }) {
  const [language, setLanguage] = useState("en");
  const upload = useMutation({
    mutationFn: async (file: File) => {
      const text = await file.text();
      const format = /\.srt$/i.test(file.name) || /^\d+\s*\r?\n\d\d:/.test(text.trim()) ? "srt" : "vtt";
      return unwrap(
        content.PUT("/v1/videos/{video_id}/transcripts/{language}", {
          params: { path: { video_id: videoId, language } },
          body: { format, content: text },
        }),
      );
    },
    onSuccess: onUploaded,
  });
  return (
    <div className="form">
      <label>
        {hasOne ? "Replace the transcript (WebVTT or SRT)" : "Upload a transcript (WebVTT or SRT)"}
        <input type="file" accept=".vtt,.srt,text/vtt" onChange={(e) => e.target.files?.[0] && upload.mutate(e.target.files[0])} />
      </label>
      <label>
        Language
        <input value={language} onChange={(e) => setLanguage(e.target.value)} pattern="[a-zA-Z]{2,3}(-[a-zA-Z0-9]{2,8})*" maxLength={20} />
      </label>
      <p aria-live="polite" className="meta">{upload.isPending ? "Uploading…" : upload.isSuccess ? "Transcript saved." : ""}</p>
      {upload.isError && <p className="notice error" role="alert">{errorMessage(upload.error)}</p>}
    </div>
  );
}

/** The selected milestone's grading policy: attempts, retry penalty, partial credit. */
function Policy({ milestoneId, title }: { milestoneId: string; title: string }) {
  const [attempts, setAttempts] = useState("3");
  const [penalty, setPenalty] = useState("0");
  const [partial, setPartial] = useState(true);
  const save = useMutation({
    mutationFn: () =>
      unwrap(
        assessment.PUT("/v1/milestones/{milestone_id}/policy", {
          params: { path: { milestone_id: milestoneId } },
          body: { max_attempts: Number(attempts), retry_penalty: Number(penalty) / 100, partial_credit: partial },
        }),
      ),
  });
  return (
    <form className="card form policy" onSubmit={(e) => { e.preventDefault(); save.mutate(); }} aria-label={`Grading of “${title}”`}>
      <h2>Grading of “{title}”</h2>
      <div className="row">
        <label>Attempts<input type="number" min={1} max={20} value={attempts} onChange={(e) => setAttempts(e.target.value)} /></label>
        <label>Each retry costs (%)<input type="number" min={0} max={100} value={penalty} onChange={(e) => setPenalty(e.target.value)} /></label>
        <label className="check"><input type="checkbox" checked={partial} onChange={(e) => setPartial(e.target.checked)} /> Partial credit</label>
      </div>
      <button type="submit" className="secondary" disabled={save.isPending}>Save grading</button>
      <p aria-live="polite" className="meta">{save.isSuccess ? "Saved: it applies to this milestone's questions." : ""}</p>
      {save.isError && <p className="notice error" role="alert">{errorMessage(save.error)}</p>}
    </form>
  );
}

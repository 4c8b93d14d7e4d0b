// Add a video, or replace a video's file: the file goes from the browser straight to object storage
// through the resumable session content opens, with a progress bar (speed, time left), pause and
// resume, recovery from a dropped connection at the offset storage committed, and cancel. A
// replacement keeps the video (title, milestones, transcripts); published versions keep their file.
import { useRef, useState, type FormEvent } from "react";
import { content, unwrap } from "../api/client";
import { errorMessage } from "../api/problem";
import { ProgressBar } from "../ui/states";
import { ResumableUpload, UploadFailed, UploadPaused, xhrTransport, type UploadProgress } from "./upload";

type Phase = "idle" | "uploading" | "paused" | "verifying" | "done" | "failed";
const RETRIES = 5;

function size(bytes: number): string {
  if (bytes >= 1024 ** 3) return `${(bytes / 1024 ** 3).toFixed(1)} GB`;
  if (bytes >= 1024 ** 2) return `${(bytes / 1024 ** 2).toFixed(1)} MB`;
  return `${Math.round(bytes / 1024)} KB`;
}

/** What the browser can read of the file: its length, so content can check it. */
function readDuration(file: File): Promise<number | undefined> {
  return new Promise((resolve) => {
    const element = document.createElement("video");
    element.preload = "metadata";
    element.onloadedmetadata = () => {
      URL.revokeObjectURL(element.src);
      resolve(Number.isFinite(element.duration) && element.duration > 0 ? element.duration : undefined);
    };
    element.onerror = () => resolve(undefined);
    element.src = URL.createObjectURL(file);
  });
}

interface Props {
  lessonId: string;
  groups: { id: string; title: string }[];
  onUploaded: () => void;
  /** The video whose file this upload replaces; without it, the upload adds a new video. */
  replacing?: { id: string; title: string };
}

export function VideoUpload({ lessonId, groups, onUploaded, replacing }: Props) {
  const [file, setFile] = useState<File | null>(null);
  const [title, setTitle] = useState("");
  const [group, setGroup] = useState("");
  const [phase, setPhase] = useState<Phase>("idle");
  const [progress, setProgress] = useState<UploadProgress | null>(null);
  const [error, setError] = useState("");
  const [warnings, setWarnings] = useState<string[]>([]);
  const upload = useRef<ResumableUpload | null>(null);
  const videoId = useRef<string | null>(null);

  async function send() {
    const current = upload.current;
    if (!current) return;
    setPhase("uploading");
    setError("");
    for (let attempt = 0; ; attempt++) {
      try {
        await current.run();
        break;
      } catch (failure) {
        if (failure instanceof UploadPaused) {
          setPhase("paused");
          return;
        }
        if (failure instanceof UploadFailed && failure.status === 0 && attempt < RETRIES) {
          setError(`The connection dropped; resuming from what storage has (try ${attempt + 1} of ${RETRIES})…`);
          await new Promise((resolve) => setTimeout(resolve, 1000 * 2 ** attempt));
          continue;
        }
        setPhase("failed");
        setError(`${errorMessage(failure)}. Resume to go on from where storage stopped.`);
        return;
      }
    }
    setPhase("verifying");
    setError("");
    try {
      const completed = await unwrap(content.POST("/v1/videos/{video_id}/complete", { params: { path: { video_id: videoId.current as string } } }));
      setWarnings(completed.warnings);
      setPhase("done");
      onUploaded();
    } catch (failure) {
      setPhase("failed");
      setError(errorMessage(failure));
    }
  }

  async function start(event: FormEvent) {
    event.preventDefault();
    if (!file) return;
    setError("");
    setWarnings([]);
    try {
      const announced = { content_type: file.type || "video/mp4", size_bytes: file.size, duration_seconds: (await readDuration(file)) ?? null };
      const session = await unwrap(
        replacing
          ? content.POST("/v1/videos/{video_id}/replace", { params: { path: { video_id: replacing.id } }, body: announced })
          : content.POST("/v1/lessons/{lesson_id}/videos", {
              params: { path: { lesson_id: lessonId } },
              body: { ...announced, title: title.trim() || file.name, video_group_id: group || null },
            }),
      );
      videoId.current = session.video_id;
      upload.current = new ResumableUpload(session.upload_url, file, session.content_type, xhrTransport, setProgress);
      await send();
    } catch (failure) {
      setPhase("failed");
      setError(errorMessage(failure));
    }
  }

  function reset() {
    upload.current?.pause();
    // A cancelled upload leaves no half-made video behind in the draft (a cancelled replacement
    // just leaves the current file in place: its session expires).
    if (videoId.current && phase !== "done" && !replacing) {
      void unwrap(content.DELETE("/v1/videos/{video_id}", { params: { path: { video_id: videoId.current } } })).then(onUploaded, () => undefined);
    }
    upload.current = null;
    videoId.current = null;
    setFile(null);
    setTitle("");
    setProgress(null);
    setPhase("idle");
    setError("");
    setWarnings([]);
  }

  const busy = phase === "uploading" || phase === "verifying";
  const percent = progress ? (progress.sent / progress.total) * 100 : 0;
  return (
    <form className="upload" onSubmit={start} aria-labelledby="upload-title">
      <h3 id="upload-title">{replacing ? `Replace the file of “${replacing.title}”` : "Add a video"}</h3>
      {replacing && (
        <p className="meta">
          Milestones, questions and transcripts stay. Students who started a published version keep its file until you publish
          again.
        </p>
      )}
      <div className="row">
        <label className="grow">
          Video file
          <input
            type="file"
            accept="video/*"
            disabled={phase !== "idle" && phase !== "done"}
            onChange={(e) => {
              const chosen = e.target.files?.[0] ?? null;
              setFile(chosen);
              setPhase("idle");
              setProgress(null);
              if (chosen && !title && !replacing) setTitle(chosen.name.replace(/\.[^.]+$/, ""));
            }}
          />
        </label>
        {!replacing && (
          <label className="grow">
            Title
            <input value={title} onChange={(e) => setTitle(e.target.value)} maxLength={200} />
          </label>
        )}
        {!replacing && groups.length > 0 && (
          <label>
            Chapter
            <select value={group} onChange={(e) => setGroup(e.target.value)}>
              <option value="">No chapter</option>
              {groups.map((g) => (
                <option key={g.id} value={g.id}>
                  {g.title}
                </option>
              ))}
            </select>
          </label>
        )}
      </div>
      {progress && (
        <div className="upload-progress">
          <ProgressBar value={percent} label="Upload progress" />
          <p className="meta" aria-live="polite">
            {phase === "verifying"
              ? "Checking the video…"
              : phase === "done"
                ? replacing
                  ? "Replaced and checked: the draft plays the new file."
                  : "Uploaded and checked."
                : `${Math.floor(percent)}% · ${size(progress.sent)} of ${size(progress.total)}`}
            {phase === "uploading" && progress.bytesPerSecond > 0 && ` · ${size(progress.bytesPerSecond)}/s`}
            {phase === "uploading" && progress.secondsLeft !== null && ` · about ${Math.ceil(progress.secondsLeft)} s left`}
          </p>
        </div>
      )}
      {warnings.length > 0 && (
        <div className="notice" role="status">
          <p>Look at this before you publish:</p>
          <ul>
            {warnings.map((warning) => (
              <li key={warning}>{warning}</li>
            ))}
          </ul>
        </div>
      )}
      {error && <p className={phase === "failed" ? "notice error" : "notice"} role={phase === "failed" ? "alert" : "status"}>{error}</p>}
      <div className="row">
        {(phase === "idle" || phase === "done") && (
          <button type="submit" disabled={!file || phase === "done"}>
            {replacing ? "Upload the new file" : "Upload"}
          </button>
        )}
        {phase === "uploading" && (
          <button type="button" className="secondary" onClick={() => upload.current?.pause()}>
            Pause
          </button>
        )}
        {(phase === "paused" || phase === "failed") && upload.current && (
          <button type="button" onClick={() => void send()}>
            Resume
          </button>
        )}
        {(busy || phase === "paused" || phase === "failed") && (
          <button type="button" className="danger" onClick={reset} disabled={phase === "verifying"}>
            Cancel
          </button>
        )}
        {phase === "done" && !replacing && (
          <button type="button" className="secondary" onClick={reset}>
            Add another
          </button>
        )}
      </div>
    </form>
  );
}

// Add a video: the file goes from the browser straight to object storage through the resumable
// session content opens, with a progress bar (speed, time left), pause and resume, recovery from
// a dropped connection at the offset storage committed, and cancel.
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

export function VideoUpload({ lessonId, groups, onUploaded }: { lessonId: string; groups: { id: string; title: string }[]; onUploaded: () => void }) {
  const [file, setFile] = useState<File | null>(null);
  const [title, setTitle] = useState("");
  const [group, setGroup] = useState("");
  const [phase, setPhase] = useState<Phase>("idle");
  const [progress, setProgress] = useState<UploadProgress | null>(null);
  const [error, setError] = useState("");
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
      await unwrap(content.POST("/v1/videos/{video_id}/complete", { params: { path: { video_id: videoId.current as string } } }));
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
    try {
      const session = await unwrap(
        content.POST("/v1/lessons/{lesson_id}/videos", {
          params: { path: { lesson_id: lessonId } },
          body: {
            title: title.trim() || file.name,
            content_type: file.type || "video/mp4",
            size_bytes: file.size,
            video_group_id: group || null,
            duration_seconds: (await readDuration(file)) ?? null,
          },
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
    // A cancelled upload leaves no half-made video behind in the draft.
    if (videoId.current && phase !== "done") {
      void unwrap(content.DELETE("/v1/videos/{video_id}", { params: { path: { video_id: videoId.current } } })).then(onUploaded, () => undefined);
    }
    upload.current = null;
    videoId.current = null;
    setFile(null);
    setTitle("");
    setProgress(null);
    setPhase("idle");
    setError("");
  }

  const busy = phase === "uploading" || phase === "verifying";
  const percent = progress ? (progress.sent / progress.total) * 100 : 0;
  return (
    <form className="upload" onSubmit={start} aria-labelledby="upload-title">
      <h3 id="upload-title">Add a video</h3>
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
              if (chosen && !title) setTitle(chosen.name.replace(/\.[^.]+$/, ""));
            }}
          />
        </label>
        <label className="grow">
          Title
          <input value={title} onChange={(e) => setTitle(e.target.value)} maxLength={200} />
        </label>
        {groups.length > 0 && (
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
                ? "Uploaded and checked."
                : `${Math.floor(percent)}% · ${size(progress.sent)} of ${size(progress.total)}`}
            {phase === "uploading" && progress.bytesPerSecond > 0 && ` · ${size(progress.bytesPerSecond)}/s`}
            {phase === "uploading" && progress.secondsLeft !== null && ` · about ${Math.ceil(progress.secondsLeft)} s left`}
          </p>
        </div>
      )}
      {error && <p className={phase === "failed" ? "notice error" : "notice"} role={phase === "failed" ? "alert" : "status"}>{error}</p>}
      <div className="row">
        {(phase === "idle" || phase === "done") && (
          <button type="submit" disabled={!file || phase === "done"}>
            Upload
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
        {phase === "done" && (
          <button type="button" className="secondary" onClick={reset}>
            Add another
          </button>
        )}
      </div>
    </form>
  );
}

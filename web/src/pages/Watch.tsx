import { useQuery } from "@tanstack/react-query";
import { useMemo } from "react";
import { Link, useParams } from "react-router";
import { lessonQuery, playbackQuery, preferencesQuery, resumeQuery } from "../api/queries";
import { Player } from "../player/Player";
import { ErrorNotice, Loading } from "../ui/states";

export function Watch() {
  const { lessonId = "", videoId = "" } = useParams();
  const lesson = useQuery(lessonQuery(lessonId));
  const playback = useQuery(playbackQuery(videoId));
  const resume = useQuery(resumeQuery(lessonId, videoId));
  const preferences = useQuery(preferencesQuery);
  const settledIds = useMemo(
    () => (resume.data?.milestones ?? []).filter((m) => m.answered).map((m) => String(m.id)),
    [resume.data],
  );
  const failed = [lesson, playback, resume, preferences].find((q) => q.isError);
  if (failed) return <div className="page"><ErrorNotice error={failed.error} retry={() => void failed.refetch()} /></div>;
  if (!lesson.data || !playback.data || !resume.data || !preferences.data) return <Loading label="Loading the lesson…" />;

  const videos = [...(lesson.data.videos ?? [])].sort((a, b) => (a.position ?? 0) - (b.position ?? 0));
  const index = videos.findIndex((v) => v.id === videoId);
  const video = videos[index];
  const next = videos[index + 1];
  const marks = playback.data.milestones.map((m) => ({ ...m, id: String(m.id), question_count: m.question_count ?? 0 }));

  return (
    <div className="page wide">
      <p className="crumbs">
        <Link to="/lessons">My lessons</Link> › <Link to={`/lessons/${lessonId}`}>{lesson.data.title}</Link>
      </p>
      <h1>{video?.title ?? "Video"}</h1>
      <Player
        key={videoId}
        lessonId={lessonId}
        videoId={videoId}
        url={playback.data.url}
        duration={playback.data.duration ?? 0}
        marks={marks}
        captions={playback.data.captions ?? []}
        resume={{
          position: resume.data.position ?? 0,
          watched: resume.data.watched ?? [],
          furthest_allowed: resume.data.furthest_allowed ?? 0,
          seek_policy: resume.data.seek_policy ?? "FREE",
          settled: settledIds,
          completed: Boolean(resume.data.completed),
        }}
        preferences={{
          playback_speed: preferences.data.playback_speed ?? 1,
          captions_enabled: Boolean(preferences.data.captions_enabled),
          captions_language: preferences.data.captions_language ?? undefined,
        }}
      />
      <p className="status-line" role="status">
        {resume.data.completed ? "You have completed this video." : `${Math.round((resume.data.coverage ?? 0) * 100)}% watched`}
      </p>
      {next && (
        <p>
          <Link className="button secondary" to={`/lessons/${lessonId}/videos/${next.id}`}>
            Next video: {next.title}
          </Link>
        </p>
      )}
    </div>
  );
}

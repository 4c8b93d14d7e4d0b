import { useQueries, useQuery } from "@tanstack/react-query";
import { Link, useParams } from "react-router";
import { lessonQuery, resumeQuery } from "../api/queries";
import { clock } from "../player/rules";
import { Empty, ErrorNotice, Loading, ProgressBar } from "../ui/states";

interface VideoLike {
  id: string;
  title: string;
  duration?: number | null;
  position?: number;
  video_group_id?: string | null;
}

/** A lesson: its chapters (video groups) and videos with this student's progress in each. */
export function LessonPage() {
  const { lessonId = "" } = useParams();
  const lesson = useQuery(lessonQuery(lessonId));
  const resume = useQuery(resumeQuery(lessonId));
  const videos: VideoLike[] = lesson.data?.videos ?? [];
  const progress = useQueries({ queries: videos.map((video) => resumeQuery(lessonId, video.id)) });

  if (lesson.isPending) return <Loading />;
  if (lesson.isError) return <div className="page"><ErrorNotice error={lesson.error} retry={() => void lesson.refetch()} /></div>;
  const data = lesson.data;
  const groups = [...(data.video_groups ?? [])].sort((a, b) => a.position - b.position);
  const chapters = [
    ...groups.map((group) => ({ id: group.id, title: group.title, videos: videos.filter((v) => v.video_group_id === group.id) })),
    { id: "", title: groups.length ? "More videos" : "", videos: videos.filter((v) => !groups.some((g) => g.id === v.video_group_id)) },
  ].filter((chapter) => chapter.videos.length);
  const coverage = new Map(videos.map((video, index) => [video.id, progress[index]?.data]));
  const last = resume.data;

  return (
    <div className="page">
      <p className="crumbs">
        <Link to="/lessons">My lessons</Link>
      </p>
      <h1>{data.title}</h1>
      {data.description && <p className="lead">{data.description}</p>}
      {last && last.position > 0 && (
        <p>
          <Link className="button" to={`/lessons/${lessonId}/videos/${last.video_id}`}>
            Continue at {clock(last.position)}
          </Link>
        </p>
      )}
      {chapters.length === 0 && <Empty title="This lesson has no videos yet." />}
      {chapters.map((chapter) => (
        <section key={chapter.id || "rest"} aria-label={chapter.title || "Videos"}>
          {chapter.title && <h2>{chapter.title}</h2>}
          <ol className="videos">
            {chapter.videos
              .sort((a, b) => (a.position ?? 0) - (b.position ?? 0))
              .map((video) => {
                const state = coverage.get(video.id);
                const percent = state ? Math.round((state.coverage ?? 0) * 100) : 0;
                return (
                  <li key={video.id} className="card video">
                    <div>
                      <h3>
                        <Link to={`/lessons/${lessonId}/videos/${video.id}`}>{video.title}</Link>
                      </h3>
                      <p className="meta">
                        {video.duration ? clock(video.duration) : "length unknown"}
                        {state?.completed ? " · completed" : percent ? ` · ${percent}% watched` : " · not started"}
                      </p>
                    </div>
                    <ProgressBar value={state?.completed ? 100 : percent} label={`${video.title}: watched`} />
                  </li>
                );
              })}
          </ol>
        </section>
      ))}
    </div>
  );
}

// The studio's server state: authors read the working draft of a lesson.
import { queryOptions } from "@tanstack/react-query";
import { assessment, content, unwrap } from "../api/client";

export const studioKeys = {
  lessons: (q: string, status: string) => ["content", "studio-lessons", q, status] as const,
  lesson: (id: string) => ["content", "lesson", id] as const,
  transcript: (videoId: string) => ["content", "transcript", videoId] as const,
  milestones: (videoId: string) => ["content", "milestones", videoId] as const,
  drafts: (lessonId: string, status: string) => ["assessment", "questions", lessonId, status] as const,
  job: (id: string) => ["assessment", "job", id] as const,
};

type LessonStatus = "DRAFT" | "PUBLISHED" | "ARCHIVED";

export const studioLessonsQuery = (q: string, status: string) =>
  queryOptions({
    queryKey: studioKeys.lessons(q, status),
    queryFn: () =>
      unwrap(
        content.GET("/v1/lessons", {
          params: { query: { q: q || undefined, status: (status || undefined) as LessonStatus | undefined, limit: 100 } },
        }),
      ),
  });

export const transcriptQuery = (videoId: string, language = "en") =>
  queryOptions({
    queryKey: studioKeys.transcript(videoId),
    queryFn: () =>
      unwrap(
        content.GET("/v1/videos/{video_id}/transcripts/{language}", { params: { path: { video_id: videoId, language } } }),
      ).catch((error) => {
        if (error?.status === 404) return null; // no transcript yet: the editor offers an upload
        throw error;
      }),
  });

type QuestionStatus = "DRAFT" | "PENDING_REVIEW" | "APPROVED" | "REJECTED" | "ARCHIVED";

export const draftsQuery = (lessonId: string, status: string) =>
  queryOptions({
    queryKey: studioKeys.drafts(lessonId, status),
    queryFn: () =>
      unwrap(
        assessment.GET("/v1/questions", {
          params: { query: { lesson_id: lessonId, status: (status || undefined) as QuestionStatus | undefined, limit: 100 } },
        }),
      ),
  });

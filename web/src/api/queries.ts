// The server state the pages share, through TanStack Query: one key per resource, so a
// page that changes something (an answer, a preference) refreshes exactly what it affects.
import { queryOptions } from "@tanstack/react-query";
import { assessment, content, identity, progress, unwrap } from "./client";

export const keys = {
  dashboard: ["progress", "dashboard"] as const,
  lessons: (q: string) => ["content", "lessons", q] as const,
  lesson: (id: string) => ["content", "lesson", id] as const,
  playback: (videoId: string) => ["content", "playback", videoId] as const,
  resume: (lessonId: string, videoId?: string) => ["progress", "resume", lessonId, videoId ?? ""] as const,
  milestoneQuestions: (milestoneId: string) => ["assessment", "milestone", milestoneId] as const,
  preferences: ["identity", "preferences"] as const,
  me: ["identity", "me"] as const,
  sessions: ["identity", "sessions"] as const,
};

export const dashboardQuery = queryOptions({
  queryKey: keys.dashboard,
  queryFn: () => unwrap(progress.GET("/v1/dashboard")),
});

export const lessonsQuery = (q: string) =>
  queryOptions({
    queryKey: keys.lessons(q),
    queryFn: () =>
      unwrap(content.GET("/v1/lessons", { params: { query: { q: q || undefined, status: "PUBLISHED", limit: 50 } } })),
  });

export const lessonQuery = (id: string) =>
  queryOptions({
    queryKey: keys.lesson(id),
    queryFn: () => unwrap(content.GET("/v1/lessons/{lesson_id}", { params: { path: { lesson_id: id } } })),
  });

export const playbackQuery = (videoId: string) =>
  queryOptions({
    queryKey: keys.playback(videoId),
    queryFn: () => unwrap(content.GET("/v1/videos/{video_id}/playback", { params: { path: { video_id: videoId } } })),
    staleTime: 5 * 60_000, // the signed URL lives 15 minutes; refetched well before
    refetchInterval: 10 * 60_000,
  });

export const resumeQuery = (lessonId: string, videoId?: string) =>
  queryOptions({
    queryKey: keys.resume(lessonId, videoId),
    queryFn: () =>
      unwrap(
        progress.GET("/v1/resume", {
          params: { query: videoId ? { video_id: videoId } : { lesson_id: lessonId } },
        }),
      ),
    staleTime: 0,
  });

export const milestoneQuestionsQuery = (milestoneId: string) =>
  queryOptions({
    queryKey: keys.milestoneQuestions(milestoneId),
    queryFn: () =>
      unwrap(
        assessment.GET("/v1/milestones/{milestone_id}/questions", { params: { path: { milestone_id: milestoneId } } }),
      ),
    staleTime: 0,
  });

export const preferencesQuery = queryOptions({
  queryKey: keys.preferences,
  queryFn: () => unwrap(identity.GET("/v1/users/me/preferences")),
});

export const meQuery = queryOptions({
  queryKey: keys.me,
  queryFn: () => unwrap(identity.GET("/v1/users/me")),
});

export const sessionsQuery = queryOptions({
  queryKey: keys.sessions,
  queryFn: () => unwrap(identity.GET("/v1/auth/sessions")),
});

/** The student's own latest answer per question of a milestone (shown again on another device). */
export const myAttemptsQuery = (milestoneId: string) =>
  queryOptions({
    queryKey: ["assessment", "attempts", milestoneId] as const,
    queryFn: () => unwrap(assessment.GET("/v1/attempts", { params: { query: { milestone_id: milestoneId, limit: 100 } } })),
    staleTime: 0,
  });

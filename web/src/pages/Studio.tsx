// The teacher's studio, loaded only for teachers and admins (a lazy chunk): lessons, their
// chapters and videos, uploads, transcripts and milestones, AI drafts and their review, publishing.
import { Route, Routes } from "react-router";
import { LessonAnalytics, LessonsDashboard } from "../studio/Analytics";
import { ClassView } from "../studio/ClassView";
import { LessonEditor } from "../studio/LessonEditor";
import { LessonsList } from "../studio/LessonsList";
import { Review } from "../studio/Review";
import { VideoEditor } from "../studio/VideoEditor";
import { NotFound } from "./NotFound";

export default function Studio() {
  return (
    <Routes>
      <Route index element={<LessonsList />} />
      <Route path="lessons/:lessonId" element={<LessonEditor />} />
      <Route path="lessons/:lessonId/videos/:videoId" element={<VideoEditor />} />
      <Route path="lessons/:lessonId/review" element={<Review />} />
      <Route path="lessons/:lessonId/class" element={<ClassView />} />
      <Route path="lessons/:lessonId/analytics" element={<LessonAnalytics />} />
      <Route path="dashboards" element={<LessonsDashboard />} />
      <Route path="*" element={<NotFound />} />
    </Routes>
  );
}

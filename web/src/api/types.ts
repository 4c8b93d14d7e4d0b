// Names for the generated schemas the pages use, so a page reads `StudentQuestion`, not a path
// into the generated file.
import type { components as Assessment } from "./generated/assessment";

export type StudentQuestion = Assessment["schemas"]["StudentQuestion"];
export type AttemptResult = Assessment["schemas"]["AttemptResult"];
export type QuestionAttempts = Assessment["schemas"]["QuestionAttempts"];
import type { components as Content } from "./generated/content";

export type Lesson = Content["schemas"]["Lesson"];
export type LessonVideo = Content["schemas"]["LessonVideo"];

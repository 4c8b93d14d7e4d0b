"""The events progress's use cases are driven by, as the other services publish them."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from cuepoint.contracts import analytics, assessment

from .fakes import OneVideoLesson


def heartbeat(lesson: OneVideoLesson, student: uuid.UUID, start: float, end: float, at: datetime, *,
              device: str = "laptop", **changes) -> analytics.ClientEventRecorded:
    event = analytics.VideoHeartbeat(lesson_id=changes.pop("lesson_id", lesson.lesson_id),
                                     video_id=changes.pop("video_id", lesson.video_id),
                                     position=changes.pop("position", end),
                                     played=[analytics.PlayedRange(start=start, end=end)], **changes)
    return client(student, device, at, event)


def client(student: uuid.UUID, device: str, at: datetime, event) -> analytics.ClientEventRecorded:
    return analytics.ClientEventRecorded(user_id=student, device_id=device, client_event_id=uuid.uuid4(),
                                         client_occurred_at=at, received_at=at, user_agent=f"test/{device}",
                                         event=event)


def attempt(lesson: OneVideoLesson, student: uuid.UUID, at: datetime, *, correct: bool,
            time_taken_ms: int = 4000) -> assessment.AttemptGraded:
    return assessment.AttemptGraded(
        attempt_id=uuid.uuid4(), student_id=student, question_id=lesson.question_id,
        milestone_id=lesson.milestone_id, video_id=lesson.video_id, lesson_id=lesson.lesson_id, attempt_number=1,
        max_attempts=3, is_correct=correct, score=1 if correct else 0, max_score=1, milestone_answered=correct,
        attempts_left=2, time_taken_ms=time_taken_ms, answered_at=at)


def override(lesson: OneVideoLesson, student: uuid.UUID, at: datetime, *, best: str) -> assessment.AttemptScoreOverridden:
    return assessment.AttemptScoreOverridden(
        attempt_id=uuid.uuid4(), student_id=student, question_id=lesson.question_id,
        milestone_id=lesson.milestone_id, video_id=lesson.video_id, lesson_id=lesson.lesson_id, attempt_number=1,
        score=Decimal(best), previous_score=0, graded_score=0, max_score=1, best_score=Decimal(best),
        reason="a fair reading", overridden_at=at)


def lesson_graded(lesson: OneVideoLesson, student: uuid.UUID, at: datetime, percent: str) -> assessment.LessonGraded:
    return assessment.LessonGraded(
        student_id=student, lesson_id=lesson.lesson_id, score=Decimal(percent) / 100, max_score=1, percent=percent,
        passed=Decimal(percent) >= 70, passing_threshold=70, questions_answered=1, questions_counted=1,
        reason="ANSWERED", graded_at=at)

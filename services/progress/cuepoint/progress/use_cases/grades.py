"""Assessment's results: a graded answer, an overridden score, a lesson grade. Each is recorded
and the student's progress in the lesson recomputed at the time of the grading."""

from __future__ import annotations

from dataclasses import dataclass

from cuepoint.contracts import assessment

from ..domain.progress import LessonProgress
from ..unit_of_work import ProgressUnitOfWork
from .progress import RefreshProgress, refresh_progress


@dataclass(frozen=True)
class RecordAttempt:
    attempt: assessment.AttemptGraded


@dataclass(frozen=True)
class RecordOverride:
    override: assessment.AttemptScoreOverridden


@dataclass(frozen=True)
class RecordLessonGrade:
    grade: assessment.LessonGraded


async def record_attempt(command: RecordAttempt, uow: ProgressUnitOfWork, *, announce: bool) -> list[LessonProgress]:
    data = command.attempt
    # Recorded in the same round trip as the refresh's reads, ahead of them (issue 21's R5: a round trip
    # fewer on the way from an answer to the teacher's view).
    return await refresh_progress(RefreshProgress({(data.student_id, data.lesson_id): (data.answered_at, data.answered_at)},
                                                  urgent=True),
                                  uow, announce=announce, first=[uow.results.attempt(uow.tenant_id, data)])


async def record_override(command: RecordOverride, uow: ProgressUnitOfWork, *, announce: bool
                          ) -> list[LessonProgress]:
    data = command.override
    await uow.results.record_override(uow.tenant_id, data)
    at = data.overridden_at
    return await refresh_progress(RefreshProgress({(data.student_id, data.lesson_id): (at, at)}, urgent=True), uow,
                                  announce=announce)


async def record_lesson_grade(command: RecordLessonGrade, uow: ProgressUnitOfWork, *, announce: bool
                              ) -> list[LessonProgress]:
    data = command.grade
    await uow.results.record_lesson_grade(uow.tenant_id, data)
    at = data.graded_at
    return await refresh_progress(RefreshProgress({(data.student_id, data.lesson_id): (at, at)}, urgent=True), uow,
                                  announce=announce)

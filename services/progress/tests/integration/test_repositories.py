"""progress's repositories on PostgreSQL: what only SQL keeps (and tests/unit/fakes.py mimics) —
a settled question stays settled, the best score is kept and time adds up, an older lesson grade
changes nothing, a session is upserted if newer and opened again by activity after its end."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import text

from cuepoint.contracts import assessment
from cuepoint.progress.repositories import session_id
from cuepoint.progress.settings import ProgressSettings
from cuepoint.progress.unit_of_work import ProgressUnitOfWork
from cuepoint.runtime.service import ServiceContext
from cuepoint.runtime.unit_of_work import UnitsOfWork

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@pytest.fixture
async def units(progress_settings: ProgressSettings) -> AsyncIterator[UnitsOfWork[ProgressUnitOfWork]]:
    context = ServiceContext("progress", progress_settings)
    try:
        yield UnitsOfWork(context.sessions, context.outbox, ProgressUnitOfWork)
    finally:
        await context.close()


def _attempt(student, question, lesson, at, *, settled: bool, score: int, ms: int) -> assessment.AttemptGraded:
    return assessment.AttemptGraded(
        attempt_id=uuid.uuid4(), student_id=student, question_id=question, milestone_id=uuid.uuid4(),
        lesson_id=lesson, attempt_number=1, max_attempts=3, is_correct=settled, score=score, max_score=1,
        milestone_answered=settled, time_taken_ms=ms, answered_at=at)


async def test_a_settled_question_stays_settled_the_best_score_is_kept_and_time_adds_up(units):
    tenant, student, question, lesson = (uuid.uuid4() for _ in range(4))
    async with units(tenant) as uow:
        await uow.progress.inputs({student}, {lesson}, world=None, announce=False, first=[
            uow.results.attempt(tenant, _attempt(student, question, lesson, T0, settled=True, score=1, ms=3000)),
            uow.results.attempt(tenant, _attempt(student, question, lesson, T0 - timedelta(seconds=5),
                                                 settled=False, score=0, ms=2000))])
        row = (await uow.session.execute(
            text("SELECT settled, best_score, time_spent_ms, updated_at FROM question_results "
                 "WHERE student_id = :s AND question_id = :q"), {"s": student, "q": question})).one()
    assert (row.settled, row.best_score, row.time_spent_ms, row.updated_at) == (True, 1, 5000, T0)


async def test_an_older_lesson_grade_arriving_late_changes_nothing(units):
    tenant, student, lesson = (uuid.uuid4() for _ in range(3))

    def graded(at, percent):
        return assessment.LessonGraded(student_id=student, lesson_id=lesson, score=Decimal(percent) / 100, max_score=1,
                                       percent=percent, passed=True, passing_threshold=70, questions_answered=1,
                                       questions_counted=1, reason="ANSWERED", graded_at=at)

    async with units(tenant) as uow:
        await uow.results.record_lesson_grade(tenant, graded(T0, "80"))
        await uow.results.record_lesson_grade(tenant, graded(T0 - timedelta(minutes=1), "20"))
        inputs = await uow.progress.inputs({student}, {lesson}, world=None, announce=False)
        assert inputs.grades == {(student, lesson): Decimal("80")}


async def test_a_session_is_upserted_if_newer_and_activity_after_its_end_opens_it_again(units):
    tenant, student, lesson, video = (uuid.uuid4() for _ in range(4))
    sid = session_id(student, "phone")

    def seen(at, position, agent="test/phone"):
        return {"id": sid, "tenant_id": tenant, "student_id": student, "device_id": "phone", "user_agent": agent,
                "started_at": at, "last_seen_at": at, "current_lesson_id": lesson, "current_video_id": video,
                "position": position}

    async with units(tenant) as uow:
        await uow.sessions.write([seen(T0, 10.0)])
        await uow.sessions.write([seen(T0 - timedelta(seconds=5), 5.0, agent=None)])  # older: ignored
        found = await uow.sessions.get(sid, student_id=student)
        assert (found.position, found.started_at, found.user_agent) == (10.0, T0, "test/phone")
        await uow.sessions.end(sid, T0 + timedelta(seconds=1))
        later = T0 + timedelta(minutes=5)
        await uow.sessions.write([seen(later, 20.0, agent=None)])
        found = await uow.sessions.get(sid, student_id=student)
        assert (found.active, found.started_at, found.position, found.user_agent) == (True, later, 20.0, "test/phone")
        assert await uow.sessions.get(sid, student_id=uuid.uuid4()) is None  # only its student's

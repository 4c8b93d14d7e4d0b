"""record_attempt, record_override and record_lesson_grade on the fake unit of work: how
assessment's results move a student's lesson progress, and what is announced."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from cuepoint.contracts import progress as events
from cuepoint.progress.domain.playback import VideoState
from cuepoint.progress.domain.progress import LessonProgress
from cuepoint.progress.use_cases.grades import (
    RecordAttempt,
    RecordLessonGrade,
    RecordOverride,
    record_attempt,
    record_lesson_grade,
    record_override,
)
from cuepoint.progress.use_cases.progress import RefreshProgress, refresh_progress

from .events import attempt, lesson_graded, override
from .fakes import Store, fake_units, one_video_lesson

pytestmark = pytest.mark.unit

TENANT = uuid.uuid4()
T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def _watched(store, lesson, student, *, until: float, at=T0):
    store.video_progress[(student, lesson.video_id)] = (
        VideoState(watched=((0.0, until),), last_position=until, last_heartbeat_at=at, time_spent=until), "laptop", at)


async def _run(units, use_case, command, *, announce=True):
    async with units(TENANT) as uow:
        return await use_case(command, uow, announce=announce)


async def test_an_answer_that_settles_the_last_required_milestone_completes_the_video_and_the_lesson():
    store = Store()
    lesson, student = one_video_lesson(store), uuid.uuid4()
    _watched(store, lesson, student, until=60)  # watched to the end, stopped at the milestone before
    units = fake_units(store)
    answered = T0 + timedelta(minutes=2)
    [progress] = await _run(units, record_attempt, RecordAttempt(attempt(lesson, student, answered, correct=True)))
    assert (progress.status, progress.completion_percent, progress.completed_at) == ("COMPLETED", 100, answered)
    assert progress.total_time_spent == 64  # 60 s watched and 4 s answering
    assert store.video_progress[(student, lesson.video_id)][0].completed_at == answered
    uow = units.opened[0]
    assert [e.completed_at for e in uow.events_of(events.VideoCompleted)] == [answered]
    assert len(uow.events_of(events.LessonCompleted)) == 1 and len(uow.events_of(events.LessonProgressed)) == 1
    assert {e.actor_id for e in units.emitted} == {student}


async def test_a_wrong_answer_settles_nothing():
    store = Store()
    lesson, student = one_video_lesson(store), uuid.uuid4()
    _watched(store, lesson, student, until=30)
    units = fake_units(store)
    [progress] = await _run(units, record_attempt, RecordAttempt(attempt(lesson, student, T0, correct=False)))
    assert progress.completion_percent == 25 and progress.status == "IN_PROGRESS"
    assert units.opened[0].events_of(events.VideoCompleted) == []
    # A later right answer settles it; the earlier wrong one does not undo that, in either order.
    await _run(units, record_attempt, RecordAttempt(attempt(lesson, student, T0 + timedelta(seconds=5), correct=True)))
    await _run(units, record_attempt, RecordAttempt(attempt(lesson, student, T0, correct=False)))
    assert store.progress[(student, lesson.lesson_id)].completion_percent == 75


async def test_the_score_shown_is_the_lesson_grade_and_a_late_older_grade_changes_nothing():
    store = Store()
    lesson, student = one_video_lesson(store), uuid.uuid4()
    _watched(store, lesson, student, until=30)
    units = fake_units(store)
    later = T0 + timedelta(minutes=1)
    await _run(units, record_lesson_grade, RecordLessonGrade(lesson_graded(lesson, student, later, "100")))
    [progress] = await _run(units, record_lesson_grade, RecordLessonGrade(lesson_graded(lesson, student, T0, "0")))
    assert progress.average_score == 100
    # The new score was announced at once; the late one changed nothing, so nothing more.
    assert [e.event.average_score for e in units.emitted if isinstance(e.event, events.LessonProgressed)] == [100]


async def test_an_override_replaces_the_best_score_even_lower_and_keeps_settled_and_time():
    store = Store()
    lesson, student = one_video_lesson(store), uuid.uuid4()
    units = fake_units(store)
    await _run(units, record_attempt, RecordAttempt(attempt(lesson, student, T0, correct=True)))
    await _run(units, record_override, RecordOverride(override(lesson, student, T0 + timedelta(hours=1), best="0.5")))
    result = store.results[(student, lesson.question_id)]
    assert (result.best_score, result.settled, result.time_spent_ms) == (Decimal("0.5"), True, 4000)


async def test_a_rebuild_recomputes_the_same_progress_and_announces_nothing():
    store = Store()
    lesson, student = one_video_lesson(store), uuid.uuid4()
    _watched(store, lesson, student, until=60)
    units = fake_units(store)
    [progress] = await _run(units, record_attempt, RecordAttempt(attempt(lesson, student, T0, correct=True)),
                            announce=False)
    assert progress.status == "COMPLETED"
    assert units.emitted == [] and store.announced == {}


async def test_completion_is_never_taken_back_by_a_required_milestone_added_later():
    store = Store()
    lesson, student = one_video_lesson(store, required_at=None), uuid.uuid4()
    _watched(store, lesson, student, until=60)
    store.progress[(student, lesson.lesson_id)] = LessonProgress(
        student, lesson.lesson_id, Decimal(100), None, 60, "COMPLETED", T0, T0, T0)
    store.video_progress[(student, lesson.video_id)] = (VideoState(watched=((0.0, 60.0),)), None, T0)
    one_more = one_video_lesson(store)  # a milestone of another lesson, moved here
    store.milestones[one_more.milestone_id].video_id = lesson.video_id
    store.milestones[one_more.milestone_id].lesson_id = lesson.lesson_id
    units = fake_units(store)
    async with units(TENANT) as uow:
        [progress] = await refresh_progress(RefreshProgress({(student, lesson.lesson_id): (T0, T0)}), uow,
                                            announce=True)
    assert (progress.status, progress.completion_percent, progress.completed_at) == ("COMPLETED", 100, T0)
    assert units.opened[0].events_of(events.LessonCompleted) == []


async def test_what_assessment_grades_reaches_the_live_streams_at_once_and_playback_does_not():
    """Answers, overrides and lesson grades notify as urgent (read at once by the streams, live.py);
    the playback test's notice is a plain one (coalesced)."""
    store = Store()
    lesson, student = one_video_lesson(store), uuid.uuid4()
    _watched(store, lesson, student, until=30)
    units = fake_units(store)
    await _run(units, record_attempt, RecordAttempt(attempt(lesson, student, T0 + timedelta(minutes=1), correct=False)))
    graded = lesson_graded(lesson, student, T0 + timedelta(minutes=2), "50")
    await _run(units, record_lesson_grade, RecordLessonGrade(graded))
    assert store.urgent_notices == [(TENANT, student, lesson.lesson_id)] * 2 and store.notices == []

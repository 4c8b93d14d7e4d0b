"""record_playback on the fake unit of work: what counts of a batch of client events, what is
dropped, and what is announced (nothing in a rebuild)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from cuepoint.contracts import analytics
from cuepoint.contracts import progress as events
from cuepoint.progress.repositories import session_id
from cuepoint.progress.use_cases.playback import RecordPlayback, record_playback

from .events import client, heartbeat
from .fakes import Store, fake_units, one_video_lesson

pytestmark = pytest.mark.unit

TENANT = uuid.uuid4()
T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def _watch(lesson, student, *, until: float, start: float = 0.0, device: str = "laptop", at=T0):
    """Heartbeats every 10 s of playback from ``start`` to ``until``."""
    beats, position, when = [], start, at
    while position < until:
        end = min(position + 10, until)
        when += timedelta(seconds=10)
        beats.append(heartbeat(lesson, student, position, end, when, device=device))
        position = end
    return beats


async def _play(units, records, *, announce=True):
    async with units(TENANT) as uow:
        return await record_playback(RecordPlayback(records), uow, announce=announce)


async def test_heartbeats_become_video_progress_a_session_and_lesson_progress():
    store = Store()
    lesson, student = one_video_lesson(store, required_at=None), uuid.uuid4()
    units = fake_units(store)
    await _play(units, _watch(lesson, student, until=30))
    state, device, at = store.video_progress[(student, lesson.video_id)]
    assert state.watched == ((0.0, 30.0),) and state.last_position == 30 and device == "laptop"
    session = store.sessions[session_id(student, "laptop")]
    assert (session.started_at, session.last_seen_at, session.position) == (T0 + timedelta(seconds=10), at, 30)
    progress = store.progress[(student, lesson.lesson_id)]
    assert progress.completion_percent == 50 and progress.status == "IN_PROGRESS"
    assert [e.completion_percent for e in units.opened[0].events_of(events.LessonProgressed)] == [50]
    assert store.notices == [(TENANT, student, lesson.lesson_id)]


async def test_a_video_watched_enough_is_completed_once_and_so_is_its_lesson():
    store = Store()
    lesson, student = one_video_lesson(store, required_at=None), uuid.uuid4()
    units = fake_units(store)
    await _play(units, _watch(lesson, student, until=60))
    await _play(units, _watch(lesson, student, until=60, at=T0 + timedelta(minutes=5)))  # watched again
    completed = [e for u in units.opened for e in u.events_of(events.VideoCompleted)]
    assert [(e.video_id, e.completed_at) for e in completed] == [(lesson.video_id, T0 + timedelta(seconds=60))]
    assert len([e for u in units.opened for e in u.events_of(events.LessonCompleted)]) == 1
    assert store.progress[(student, lesson.lesson_id)].status == "COMPLETED"


async def test_nothing_counts_past_an_unanswered_required_milestone():
    store = Store()
    lesson, student = one_video_lesson(store, required_at=30.0), uuid.uuid4()
    units = fake_units(store)
    recorded = await _play(units, _watch(lesson, student, until=60))
    state = store.video_progress[(student, lesson.video_id)][0]
    assert state.watched == ((0.0, 30.0),) and state.completed_at is None
    assert "range_clamped" in recorded.flagged
    assert store.progress[(student, lesson.lesson_id)].completion_percent == 25  # 0.5 of the video, 0 of 1 milestone
    assert units.opened[0].events_of(events.VideoCompleted) == []


async def test_reports_about_unknown_videos_or_another_lessons_video_are_dropped_and_the_rest_kept():
    store = Store()
    lesson, other, student = one_video_lesson(store), one_video_lesson(store), uuid.uuid4()
    units = fake_units(store)
    recorded = await _play(units, [
        heartbeat(lesson, student, 0, 10, T0, video_id=uuid.uuid4()),
        heartbeat(lesson, student, 0, 10, T0, video_id=other.video_id),
        heartbeat(lesson, student, 0, 200, T0, position=200),  # beyond the 60 s video
        heartbeat(lesson, student, 0, 10, T0 + timedelta(seconds=10)),
    ])
    assert recorded.dropped == ["unknown_video", "video_not_in_lesson", "position_outside_video"]
    assert list(store.video_progress) == [(student, lesson.video_id)]


async def test_client_events_other_than_playback_are_ignored():
    store = Store()
    lesson, student = one_video_lesson(store), uuid.uuid4()
    units = fake_units(store)
    shown = client(student, "laptop", T0, analytics.QuestionShown(lesson_id=lesson.lesson_id,
                                                                 question_id=lesson.question_id))
    recorded = await _play(units, [shown])
    assert recorded.dropped == [] and store.video_progress == {} and store.sessions == {}


async def test_a_rebuild_projects_the_same_but_announces_nothing():
    live, rebuilt = Store(), Store()
    lesson = one_video_lesson(live, required_at=None)
    rebuilt.lessons, rebuilt.videos = live.lessons, live.videos
    student = uuid.uuid4()
    beats = _watch(lesson, student, until=60)
    await _play(fake_units(live), beats)
    units = fake_units(rebuilt)
    await _play(units, beats, announce=False)
    assert rebuilt.video_progress == live.video_progress and rebuilt.progress == live.progress
    assert units.emitted == [] and rebuilt.announced == {}


async def test_sessions_are_per_device_and_resume_follows_the_latest():
    store = Store()
    lesson, student = one_video_lesson(store, required_at=None), uuid.uuid4()
    units = fake_units(store)
    await _play(units, _watch(lesson, student, until=20, device="laptop")
                + _watch(lesson, student, start=20, until=40, device="phone", at=T0 + timedelta(seconds=20)))
    assert {s.device_id: s.position for s in store.sessions.values()} == {"laptop": 20, "phone": 40}
    assert store.video_progress[(student, lesson.video_id)][1] == "phone"

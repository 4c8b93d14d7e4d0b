"""The lesson progress rules (domain/progress.py) and when progress is announced
(domain/announcements.py)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from cuepoint.progress.domain import announcements
from cuepoint.progress.domain.announcements import Announced
from cuepoint.progress.domain.progress import LessonProgress, VideoStanding, lesson_progress

pytestmark = pytest.mark.unit

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
STUDENT, LESSON = uuid.uuid4(), uuid.uuid4()


def _progress(videos, *, before=None, graded=None, watch=0.0, answering=0.0, first=T0, last=T0):
    return lesson_progress(STUDENT, LESSON, videos, watch_seconds=watch, answering_seconds=answering, graded=graded,
                           first=first, last=last, before=before)


def test_completion_is_capped_at_99_until_every_video_is_completed():
    watched_all = VideoStanding(coverage=1.0, required=1, answered=1, completed_at=None)
    progress = _progress([watched_all, VideoStanding(1.0, 0, 0, T0)])
    assert progress.completion_percent == Decimal("99.00")
    assert progress.status == "IN_PROGRESS" and progress.completed_at is None


def test_a_lesson_is_completed_when_every_video_is_and_then_at_the_last_completion():
    progress = _progress([VideoStanding(0.9, 1, 1, T0), VideoStanding(0.95, 0, 0, T0 + timedelta(minutes=5))])
    assert progress.completion_percent == 100 and progress.status == "COMPLETED"
    assert progress.completed_at == T0 + timedelta(minutes=5)


def test_completion_counts_a_unit_per_video_and_per_required_milestone():
    # 0.5 of the video watched, its one required milestone unanswered: 0.5 of 2 units.
    assert _progress([VideoStanding(0.5, 1, 0, None)]).completion_percent == Decimal("25.00")
    assert _progress([VideoStanding(0.5, 1, 1, None)]).completion_percent == Decimal("75.00")


def test_completion_is_never_taken_back():
    before = LessonProgress(STUDENT, LESSON, Decimal(100), None, 60, "COMPLETED", T0, T0, T0)
    # A required milestone added after the fact: the video no longer counts as completed.
    progress = _progress([VideoStanding(1.0, 1, 0, None)], before=before, last=T0 + timedelta(days=1))
    assert (progress.status, progress.completion_percent, progress.completed_at) == ("COMPLETED", 100, T0)
    assert progress.updated_at == T0 + timedelta(days=1)


def test_status_without_anything_watched_or_answered_is_not_started_and_time_spent_starts_it():
    assert _progress([VideoStanding(0.0, 0, 0, None)]).status == "NOT_STARTED"
    assert _progress([VideoStanding(0.0, 0, 0, None)], answering=1.5).status == "IN_PROGRESS"
    assert _progress([VideoStanding(0.0, 0, 0, None)], watch=2.4, answering=1.5).total_time_spent == 3


def test_the_score_is_the_lesson_grade_and_without_one_stays_what_it_was():
    assert _progress([VideoStanding(0.5, 0, 0, None)], graded=Decimal("66.666")).average_score == Decimal("66.67")
    before = LessonProgress(STUDENT, LESSON, Decimal(10), Decimal(80), 6, "IN_PROGRESS", T0, None, T0)
    assert _progress([VideoStanding(0.5, 0, 0, None)], before=before).average_score == Decimal(80)
    assert _progress([VideoStanding(0.5, 0, 0, None)]).average_score is None


def test_started_at_is_the_earliest_event_seen():
    before = LessonProgress(STUDENT, LESSON, Decimal(10), None, 6, "IN_PROGRESS", T0, None, T0)
    later = T0 + timedelta(hours=1)
    assert _progress([VideoStanding(0.5, 0, 0, None)], before=before, first=later, last=later).started_at == T0
    earlier = T0 - timedelta(hours=1)  # an event delivered late
    assert _progress([VideoStanding(0.5, 0, 0, None)], before=before, first=earlier).started_at == earlier


def test_the_last_activity_is_the_latest_event_seen_whatever_order_they_come_in():
    """An answer delivered after a later heartbeat (another topic, another partition) must not move the
    last activity back: a rebuild, which replays in time order, would then disagree with the live run."""
    watched = T0 + timedelta(seconds=50)
    before = LessonProgress(STUDENT, LESSON, Decimal(10), None, 6, "IN_PROGRESS", T0, None, watched)
    answered = T0 + timedelta(seconds=40)  # the earlier answer, projected second
    assert _progress([VideoStanding(0.5, 0, 1, None)], before=before, first=answered, last=answered).updated_at == watched
    later = T0 + timedelta(minutes=2)
    assert _progress([VideoStanding(0.5, 0, 1, None)], before=before, first=later, last=later).updated_at == later


def _at(percent: str, status: str = "IN_PROGRESS", score: Decimal | None = None) -> LessonProgress:
    return LessonProgress(STUDENT, LESSON, Decimal(percent), score, 0, status, T0, None, T0)


def test_progress_is_announced_the_first_time_and_then_throttled():
    assert announcements.progressed(_at("1"), None, None, T0)
    last = Announced(Decimal("10"), "IN_PROGRESS", T0)
    soon = T0 + timedelta(seconds=10)
    assert not announcements.progressed(_at("14.99"), _at("10"), last, soon)
    assert announcements.progressed(_at("15"), _at("10"), last, soon)  # a 5-point move
    assert announcements.progressed(_at("10.01"), _at("10"), last, T0 + timedelta(seconds=60))  # a minute later
    assert not announcements.progressed(_at("10"), _at("10"), last, T0 + timedelta(hours=1))  # nothing changed


def test_a_status_change_or_a_new_score_is_announced_at_once():
    last = Announced(Decimal("0"), "NOT_STARTED", T0)
    assert announcements.progressed(_at("0.5"), _at("0", "NOT_STARTED"), last, T0 + timedelta(seconds=1))
    last = Announced(Decimal("50"), "IN_PROGRESS", T0)
    assert announcements.progressed(_at("50", score=Decimal(100)), _at("50", score=Decimal(0)), last,
                                    T0 + timedelta(seconds=1))


def test_completion_is_announced_once():
    assert announcements.completed(_at("100", "COMPLETED"), None)
    assert announcements.completed(_at("100", "COMPLETED"), _at("99"))
    assert not announcements.completed(_at("100", "COMPLETED"), _at("100", "COMPLETED"))
    assert not announcements.completed(_at("99"), _at("50"))

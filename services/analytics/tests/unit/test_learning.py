"""How progress and attempt events move the read models."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from types import SimpleNamespace

import pytest

from cuepoint.analytics.domain import learning

pytestmark = pytest.mark.unit

LATE = datetime(2026, 3, 1, 23, 30, tzinfo=timezone(timedelta(hours=-5)))  # 04:30 UTC on 2 March


def test_a_completion_completes_and_progress_says_its_status():
    assert learning.progress_status(learning.COMPLETED, SimpleNamespace()) == "COMPLETED"
    assert learning.progress_status("progress.lesson.progressed.v1", SimpleNamespace(status="IN_PROGRESS")) \
        == "IN_PROGRESS"


def test_a_student_starts_on_the_events_day_and_completes_on_the_completions_day_in_utc():
    progressed = learning.progress_days("progress.lesson.progressed.v1", SimpleNamespace(), LATE)
    assert progressed == (datetime(2026, 3, 2).date(), datetime(2026, 3, 2).date())
    completed_at = datetime(2026, 2, 27, 10, 0)  # naive: UTC
    completed = learning.progress_days(learning.COMPLETED, SimpleNamespace(completed_at=completed_at),
                                       datetime(2026, 3, 1, tzinfo=UTC))
    assert completed == (datetime(2026, 3, 1).date(), datetime(2026, 2, 27).date())


def test_a_score_is_a_share_of_the_maximum_and_a_question_worth_nothing_scores_zero():
    assert learning.score_fraction(Decimal(2), Decimal(3)) == Decimal("0.6667")
    assert learning.score_fraction(1.0, 0) == 0


def test_difficulty_and_option_choices_count_first_attempts_only():
    assert learning.first_correct(True, 1) and not learning.first_correct(True, 2)
    assert not learning.first_correct(False, 1)
    assert learning.counts_option_picks(["a"], 1)
    assert not learning.counts_option_picks(["a"], 2) and not learning.counts_option_picks([], 1)

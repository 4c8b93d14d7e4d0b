"""How other services' learning events move analytics' read models."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

COMPLETED = "progress.lesson.completed.v1"
SUCCEEDED = "assessment.questions.generated.v1"
MILESTONE_DELETED = "content.milestone.deleted.v1"


def progress_status(event_type: str, data: Any) -> str:
    """A completion event completes; a progress event says its status."""
    return "COMPLETED" if event_type == COMPLETED else data.status


def progress_days(event_type: str, data: Any, occurred_at: datetime) -> tuple[date, date]:
    """The days (UTC) a student's progress event counts on: a student starts on the day of their first
    progress event, and completes on the day of their completion (the event's, or its completed_at)."""
    completed_at = data.completed_at if event_type == COMPLETED else occurred_at
    completed_at = completed_at if completed_at.tzinfo else completed_at.replace(tzinfo=UTC)
    return occurred_at.astimezone(UTC).date(), completed_at.astimezone(UTC).date()


def score_fraction(score: Any, max_score: Any) -> float:
    """An attempt's score as a share of its maximum, four decimals; 0 for a question worth nothing."""
    return round((score / max_score) if max_score else 0, 4)


def first_correct(is_correct: bool, attempt_number: int) -> bool:
    """Difficulty counts the first attempt only."""
    return is_correct and attempt_number == 1


def counts_option_picks(selected_options: Any, attempt_number: int) -> bool:
    """Option choices are counted on first attempts, like difficulty."""
    return bool(selected_options) and attempt_number == 1

"""A student's progress in a lesson, from where they stand in each of its videos.

- Completion counts a unit per video (its watched share) and one per required milestone (answered
  or not); it is 100 only once every video is completed, and at most 99 % until then.
- Completion is never taken back: a lesson once COMPLETED stays so (e.g. when a required milestone
  is added after the fact).
- The score shown is the lesson grade assessment announced; without one yet, it stays what it was.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

COMPLETION_CAP = Decimal("99.00")  # until every video is completed
NOT_STARTED, IN_PROGRESS, COMPLETED = "NOT_STARTED", "IN_PROGRESS", "COMPLETED"


def percent(value: float | Decimal) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class VideoStanding:
    """One student in one video of the lesson."""

    coverage: float  # share watched, 0–1
    required: int  # required milestones (with approved questions)
    answered: int  # of those, answered
    completed_at: datetime | None


@dataclass(frozen=True)
class LessonProgress:
    student_id: uuid.UUID
    lesson_id: uuid.UUID
    completion_percent: Decimal
    average_score: Decimal | None
    total_time_spent: int  # seconds of watching and answering
    status: str
    started_at: datetime | None
    completed_at: datetime | None
    updated_at: datetime


def lesson_progress(student_id: uuid.UUID, lesson_id: uuid.UUID, videos: Sequence[VideoStanding], *,
                    watch_seconds: float, answering_seconds: float, graded: Decimal | float | None,
                    first: datetime, last: datetime, before: LessonProgress | None) -> LessonProgress:
    """``first`` and ``last`` are the times of the first and last event that touched it now; ``graded``
    the lesson grade's percent, if any."""
    units = sum(1 + video.required for video in videos)
    earned = sum(video.coverage + video.answered for video in videos)
    finished = [video.completed_at for video in videos]
    all_done = bool(finished) and None not in finished
    completion = Decimal(100) if all_done else min(COMPLETION_CAP, percent(100 * earned / max(units, 1)))
    average = percent(graded) if graded is not None else (before.average_score if before is not None else None)
    spent = int(watch_seconds + answering_seconds)
    status = COMPLETED if all_done else (IN_PROGRESS if completion > 0 or spent > 0 else NOT_STARTED)
    started_at = min(first, before.started_at) if before and before.started_at else first
    completed_at = max(finished) if all_done else None  # type: ignore[type-var]
    if before is not None and before.status == COMPLETED and not all_done:
        # Completion is never taken back (e.g. a required milestone added after the fact).
        status, completion, completed_at = COMPLETED, Decimal(100), before.completed_at
    # The last activity is the latest event seen, not the last one projected: events of other topics and
    # partitions arrive in any order (and a rebuild replays them in time order), as started_at is the earliest.
    updated_at = max(last, before.updated_at) if before is not None else last
    return LessonProgress(student_id, lesson_id, completion, average, spent, status, started_at, completed_at,
                          updated_at)

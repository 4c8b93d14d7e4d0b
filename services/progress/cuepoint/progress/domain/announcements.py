"""When lesson progress is announced: LessonProgressed throttled, LessonCompleted once.

Playback moves completion a little with every heartbeat; announcing each would flood the
dashboards downstream, so a LessonProgressed goes out on a status change, a 5-point move, a new
score (the dashboards' average scores follow it at once), or any change after a minute.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from .progress import COMPLETED, LessonProgress

PROGRESS_STEP = Decimal(5)  # LessonProgressed when completion moved this much …
PROGRESS_INTERVAL = timedelta(seconds=60)  # … or changed at all after this long


@dataclass(frozen=True)
class Announced:
    """The last LessonProgressed of a student's lesson."""

    completion_percent: Decimal
    status: str
    announced_at: datetime


def progressed(now: LessonProgress, before: LessonProgress | None, last: Announced | None, at: datetime) -> bool:
    """Whether ``now`` (computed at ``at``) is worth a LessonProgressed."""
    completion = now.completion_percent
    rescored = before is not None and before.average_score != now.average_score
    return (last is None or now.status != last.status or abs(completion - last.completion_percent) >= PROGRESS_STEP
            or (completion != last.completion_percent and at - last.announced_at >= PROGRESS_INTERVAL) or rescored)


def completed(now: LessonProgress, before: LessonProgress | None) -> bool:
    """Whether ``now`` is the lesson's completion (announced once)."""
    return now.status == COMPLETED and (before is None or before.status != COMPLETED)

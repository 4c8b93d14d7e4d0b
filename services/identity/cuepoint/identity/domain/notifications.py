"""Notification emails: who wants which, and what a teacher's weekly summary says."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from uuid import UUID

from .preferences import Preferences

ACTIVITY_KEPT = timedelta(weeks=5)
"""How long answers are counted for summaries: longer than any summary still to be sent."""


@dataclass(frozen=True)
class Recipient:
    id: UUID
    tenant_id: UUID
    email: str
    display_name: str


@dataclass(frozen=True)
class LessonWeek:
    """A published lesson's answers in one week."""

    title: str
    attempts: int
    students: int
    correct: int


def wants(preferences: dict[str, Any] | None, notification: str) -> bool:
    """Whether a user's preferences (the default when they never changed them) allow a notification."""
    document = Preferences.model_validate(preferences) if preferences else Preferences()
    return bool(getattr(document.notifications, notification))


def week_to_summarize(today: date) -> date:
    """The Monday of last week: its summaries are due from this Monday on."""
    return today - timedelta(days=today.weekday() + 7)


def points(value: Any) -> str:
    """A score as a person writes it: 1.5, 2 (not 2.000)."""
    return f"{value.normalize():f}" if hasattr(value, "normalize") else str(value)


def weekly_summary(display_name: str, week_start: date, lessons: list[LessonWeek], base_url: str) -> str:
    lines = []
    for lesson in lessons:
        if lesson.attempts:
            lines.append(f"- {lesson.title}: {lesson.attempts} answers from {lesson.students} students, "
                         f"{round(100 * lesson.correct / lesson.attempts)} % right")
        else:
            lines.append(f"- {lesson.title}: no answers this week")
    body = "\n".join(lines) or "You have no published lessons yet."
    return (f"Hello {display_name},\n\nyour lessons in the week from {week_start:%d %B %Y}:\n{body}\n\n"
            f"Dashboards: {base_url}/teach\n")

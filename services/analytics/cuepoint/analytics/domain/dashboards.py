"""Who sees which dashboard, and the ranges a dashboard answers."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from cuepoint.runtime.actor import CurrentUser, Role
from cuepoint.runtime.errors import Forbidden, Invalid, NotFound


def ensure_sees_teacher(actor: CurrentUser, teacher_id: uuid.UUID | None) -> None:
    """A teacher sees their own lessons' performance; an admin may name any teacher."""
    if teacher_id not in (None, actor.id) and not actor.at_least(Role.ADMIN):
        raise Forbidden("teachers see their own lessons")


def ensure_sees_lesson(actor: CurrentUser, lesson: Any, lesson_id: uuid.UUID) -> None:
    """A lesson's analytics are its author's and the admins'; to a student the lesson does not exist."""
    if lesson is None or not actor.at_least(Role.TEACHER):
        raise NotFound(f"no lesson {lesson_id}")
    if lesson.created_by_id != actor.id and not actor.at_least(Role.ADMIN):
        raise Forbidden("teachers see the analytics of their own lessons")


def ensure_sees_video(actor: CurrentUser, lesson_id: uuid.UUID | None, video_id: uuid.UUID) -> None:
    """A video is seen through its lesson (then ensure_sees_lesson); one analytics has not learned of, or
    asked of by a student, does not exist."""
    if lesson_id is None or not actor.at_least(Role.TEACHER):
        raise NotFound(f"no video {video_id}")


def ensure_rates_range(actor: CurrentUser, start: date, end: date) -> None:
    if end < start or (end - start).days > 366:
        raise Invalid("the range must run forwards and span at most a year")
    if not actor.at_least(Role.TEACHER):
        raise Forbidden("teachers and admins see rates")


def ensure_completion_range(start: date, end: date) -> None:
    if end < start or (end - start).days > 365:
        raise Invalid("the range must run forwards and span at most 366 days")


def ensure_sees_ai_usage(actor: CurrentUser) -> None:
    if not actor.at_least(Role.ADMIN):
        raise Forbidden("admins see AI usage")


def ensure_audit_range(start: Any, end: Any) -> None:
    if start and end and end < start:
        raise Invalid("the time range must run forwards")

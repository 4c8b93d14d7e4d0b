"""Who sees whose progress: a student their own; a lesson's author (a teacher) and admins every
student's in it. To a student asking for someone else's, that progress does not exist (404), so
that ids are not confirmed; a teacher of another lesson is refused (403)."""

from __future__ import annotations

import uuid

from cuepoint.runtime.actor import CurrentUser, Role
from cuepoint.runtime.errors import Forbidden, NotFound


def teaches(actor: CurrentUser, created_by_id: uuid.UUID | None) -> bool:
    """The lesson's author, or an admin: sees every student's progress in it."""
    return actor.at_least(Role.ADMIN) or (actor.at_least(Role.TEACHER) and created_by_id == actor.id)


def ensure_may_see(actor: CurrentUser, student_id: uuid.UUID, created_by_id: uuid.UUID | None) -> None:
    if student_id == actor.id:
        return
    if not actor.at_least(Role.TEACHER):
        raise NotFound(f"no progress of student {student_id}")
    if created_by_id != actor.id and not actor.at_least(Role.ADMIN):
        raise Forbidden("only the lesson's author or an admin sees its students' progress")


def ensure_may_follow(actor: CurrentUser, lesson_id: uuid.UUID, created_by_id: uuid.UUID | None, *,
                      found: bool) -> None:
    """A lesson's students live: its author's, or an admin's; to anyone else not a teacher, no such lesson."""
    if not found or not actor.at_least(Role.TEACHER):
        raise NotFound(f"no lesson {lesson_id}")
    if created_by_id != actor.id and not actor.at_least(Role.ADMIN):
        raise Forbidden("only the lesson's author or an admin follows it live")

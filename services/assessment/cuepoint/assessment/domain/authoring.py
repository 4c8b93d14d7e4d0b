"""Who may manage a lesson's questions, and what review may do to a question in each status."""

from __future__ import annotations

import uuid
from typing import Any

from cuepoint.runtime.actor import CurrentUser, Role
from cuepoint.runtime.errors import Conflict, Forbidden, NotFound

APPROVABLE = ("DRAFT", "PENDING_REVIEW", "REJECTED")
# A rejection is a reviewer's decision: only approving that one question on purpose undoes it, never a bulk click.
BULK_APPROVABLE = ("DRAFT", "PENDING_REVIEW")
# Typed answers are matched against accepted spellings: a teacher may judge one the key missed. A choice,
# a match or an order is right or wrong by its key alone.
OVERRIDABLE = ("SHORT_ANSWER", "FILL_IN_THE_BLANK")


def ensure_manages(actor: CurrentUser, lesson: Any, lesson_id: uuid.UUID) -> None:
    """A lesson the actor may manage questions of: their own, or any for an admin. To a student the lesson
    does not exist."""
    if lesson is None or not actor.at_least(Role.TEACHER):
        raise NotFound(f"no lesson {lesson_id} (a lesson created a moment ago can take a second to appear)")
    if lesson.created_by_id != actor.id and not actor.at_least(Role.ADMIN):
        raise Forbidden("only the lesson's author or an admin can manage its questions")


def ensure_editable(question: Any) -> None:
    if question.status == "ARCHIVED":
        raise Conflict("this question is archived")


def ensure_approvable(question: Any) -> None:
    if question.status not in APPROVABLE:
        raise Conflict(f"a question that is {question.status} cannot be approved")


def why_not_bulk_approvable(status: str) -> str | None:
    """Why a bulk approval skips a question in ``status``; None: it approves it."""
    if status == "REJECTED":
        return "it was rejected; approve it on its own to undo the rejection"
    if status not in BULK_APPROVABLE:
        return f"it is {status}"
    return None


def ensure_rejectable(question: Any) -> None:
    if question.status in ("REJECTED", "ARCHIVED"):
        raise Conflict(f"this question is {question.status} already")


def ensure_overridable(question_type: str) -> None:
    if question_type not in OVERRIDABLE:
        raise Conflict(f"a {question_type} answer is graded by its key; only typed answers "
                       f"({', '.join(OVERRIDABLE)}) can be overridden", type=question_type)

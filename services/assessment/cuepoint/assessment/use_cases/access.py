"""The lookups every use case of lessons' questions starts with: the lesson, question or milestone
the actor may work on (the rules are domain.authoring's)."""

from __future__ import annotations

import uuid
from typing import Any

from cuepoint.runtime.auth import CurrentUser, Role
from cuepoint.runtime.errors import Invalid, NotFound

from ..domain.authoring import ensure_manages
from ..unit_of_work import AssessmentUnitOfWork


async def authored_lesson(uow: AssessmentUnitOfWork, actor: CurrentUser, lesson_id: uuid.UUID) -> Any:
    """A lesson the actor may manage questions of: their own, or any for an admin."""
    lesson = await uow.lessons.get(lesson_id)
    ensure_manages(actor, lesson, lesson_id)
    return lesson


async def managed_question(uow: AssessmentUnitOfWork, actor: CurrentUser, question_id: uuid.UUID) -> Any:
    """The question, locked, if the actor may manage its lesson's questions."""
    question = await uow.questions.get(question_id, lock=True)
    if not actor.at_least(Role.TEACHER):
        raise NotFound(f"no question {question_id}")
    await authored_lesson(uow, actor, question.lesson_id)
    return question


async def milestone_of(uow: AssessmentUnitOfWork, lesson_id: uuid.UUID, milestone_id: uuid.UUID | None) -> Any:
    """The live milestone a question is put on, which must be the question's lesson's (None: on none)."""
    if milestone_id is None:
        return None
    milestone = await uow.milestones.live(milestone_id)
    if milestone is None or milestone.lesson_id != lesson_id:
        raise Invalid(f"milestone {milestone_id} is not a milestone of lesson {lesson_id}")
    return milestone

"""Questions written by hand, and the review of drafts: edit, approve (one or many), reject."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, fields
from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import TypeAdapter

from cuepoint.contracts import assessment as events
from cuepoint.runtime.auth import CurrentUser
from cuepoint.runtime.clock import utc_now
from cuepoint.runtime.errors import Forbidden, NotFound

from ..domain import authoring
from ..domain.changes import as_json, changes_of
from ..domain.questions import QuestionContent, shown_ids, with_minted_ids
from ..unit_of_work import AssessmentUnitOfWork
from . import UNSET
from .access import authored_lesson, managed_question, milestone_of

CONTENT = TypeAdapter(QuestionContent)
QUESTION_EDITABLE = ("prompt", "explanation", "points", "difficulty", "type", "content", "milestone_id", "video_id",
                     "max_attempts", "retry_penalty", "partial_credit")



@dataclass(frozen=True)
class CreateQuestion:
    actor: CurrentUser
    lesson_id: uuid.UUID
    content: Any  # a domain.questions content model
    prompt: str
    milestone_id: uuid.UUID | None = None
    explanation: str = ""
    points: Decimal = Decimal(1)
    difficulty: str = "MEDIUM"
    max_attempts: int | None = None
    retry_penalty: Decimal | None = None
    partial_credit: bool | None = None
    approve: bool = False


@dataclass(frozen=True)
class QuestionChanges:
    """What an edit sets; a field left UNSET stays as it is."""

    milestone_id: uuid.UUID | None = UNSET
    prompt: str = UNSET
    explanation: str = UNSET
    points: Decimal = UNSET
    difficulty: str = UNSET
    content: Any = UNSET
    max_attempts: int | None = UNSET
    retry_penalty: Decimal | None = UNSET
    partial_credit: bool | None = UNSET

    def values(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not UNSET}


@dataclass(frozen=True)
class EditQuestion:
    actor: CurrentUser
    question_id: uuid.UUID
    changes: QuestionChanges = field(default_factory=QuestionChanges)
    approve: bool = False


@dataclass(frozen=True)
class RejectQuestion:
    actor: CurrentUser
    question_id: uuid.UUID
    reason: str | None = None


@dataclass(frozen=True)
class BulkApprove:
    actor: CurrentUser
    question_ids: list[uuid.UUID]


@dataclass(frozen=True)
class Skipped:
    id: uuid.UUID
    reason: str
    status: str | None


@dataclass(frozen=True)
class BulkApproval:
    approved: list[uuid.UUID]
    skipped: list[Skipped]


async def create_question(command: CreateQuestion, uow: AssessmentUnitOfWork) -> Any:
    """A draft written by hand (approved at once if asked): the stored question."""
    actor = command.actor
    question_id = uuid.uuid4()
    await authored_lesson(uow, actor, command.lesson_id)
    milestone = await milestone_of(uow, command.lesson_id, command.milestone_id)
    content = with_minted_ids(command.content)
    await uow.questions.add(
        id=question_id, tenant_id=actor.tenant_id, video_id=milestone.video_id if milestone else None,
        type=content.type, content=content.model_dump(mode="json"), status="DRAFT", source="MANUAL",
        created_by_id=actor.id, created_at=utc_now(), updated_at=utc_now(), lesson_id=command.lesson_id,
        milestone_id=command.milestone_id, prompt=command.prompt, explanation=command.explanation,
        points=command.points, difficulty=command.difficulty, max_attempts=command.max_attempts,
        retry_penalty=command.retry_penalty, partial_credit=command.partial_credit)
    if command.approve:
        await _approve(uow, actor, await uow.questions.get(question_id))
    return await uow.questions.get(question_id)


async def edit_question(command: EditQuestion, uow: AssessmentUnitOfWork) -> Any:
    """Edits (announced with what changed) and, if asked, approves: the stored question."""
    actor = command.actor
    question = await managed_question(uow, actor, command.question_id)
    authoring.ensure_editable(question)
    values = command.changes.values()
    if "content" in values:
        content = with_minted_ids(values.pop("content"), keep=shown_ids(question.content))
        values.update(type=content.type, content=content.model_dump(mode="json"))
    if "milestone_id" in values:
        milestone = await milestone_of(uow, question.lesson_id, values["milestone_id"])
        values["video_id"] = milestone.video_id if milestone else None
    changed = changes_of(question, values, QUESTION_EDITABLE)
    if changed:
        await uow.questions.update(command.question_id, updated_at=utc_now(), **{name: values[name] for name in changed})
    before = question
    question = await uow.questions.get(command.question_id)
    if changed:
        await uow.emit(events.QuestionEdited(
            question_id=command.question_id, lesson_id=question.lesson_id, milestone_id=question.milestone_id,
            status=question.status, changed_fields=changed,
            before={name: as_json(getattr(before, name)) for name in changed},
            after={name: as_json(getattr(question, name)) for name in changed}), actor_id=actor.id)
    if command.approve:
        authoring.ensure_approvable(question)
        await _approve(uow, actor, question)
    elif question.status == "APPROVED" and changed:
        # Students see approved questions: an edit is re-announced so projections stay right.
        await _emit_approved(uow, actor, question)
    return await uow.questions.get(command.question_id)


async def bulk_approve(command: BulkApprove, uow: AssessmentUnitOfWork) -> BulkApproval:
    """Approves each question it may; the others are skipped, each with why."""
    actor = command.actor
    approved: list[uuid.UUID] = []
    skipped: list[Skipped] = []
    for question_id in dict.fromkeys(command.question_ids):
        question = await uow.questions.find(question_id, lock=True)
        if question is None:
            skipped.append(Skipped(question_id, "not found", None))
            continue
        try:
            await authored_lesson(uow, actor, question.lesson_id)
        except (NotFound, Forbidden) as error:
            skipped.append(Skipped(question_id, error.detail, None))
            continue
        if (why := authoring.why_not_bulk_approvable(question.status)) is not None:
            skipped.append(Skipped(question_id, why, question.status))
            continue
        await _approve(uow, actor, question)
        approved.append(question_id)
    return BulkApproval(approved, skipped)


async def reject_question(command: RejectQuestion, uow: AssessmentUnitOfWork) -> Any:
    """Rejects, with a reason for the record: the stored question."""
    actor = command.actor
    question = await managed_question(uow, actor, command.question_id)
    authoring.ensure_rejectable(question)
    await uow.questions.update(command.question_id, status="REJECTED", rejection_reason=command.reason,
                               reviewed_by_id=actor.id, reviewed_at=utc_now(), updated_at=utc_now())
    await uow.emit(events.QuestionRejected(
        question_id=command.question_id, milestone_id=question.milestone_id, lesson_id=question.lesson_id,
        reason=command.reason), actor_id=actor.id)
    return await uow.questions.get(command.question_id)


async def _approve(uow: AssessmentUnitOfWork, actor: CurrentUser, question: Any) -> None:
    CONTENT.validate_python(question.content)  # stored content is validated again before students can see it
    await uow.questions.update(question.id, status="APPROVED", rejection_reason=None, reviewed_by_id=actor.id,
                               reviewed_at=utc_now(), updated_at=utc_now())
    await _emit_approved(uow, actor, question)


async def _emit_approved(uow: AssessmentUnitOfWork, actor: CurrentUser, question: Any) -> None:
    await uow.emit(events.QuestionApproved(
        question_id=question.id, milestone_id=question.milestone_id, lesson_id=question.lesson_id,
        type=question.type, points=question.points), actor_id=actor.id)

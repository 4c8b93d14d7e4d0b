"""Students answering questions (graded at once, retries within the policy), teachers overriding the
score of a typed answer, and the grades that follow either: a student's milestone, video and lesson
grades, and whether each is passed (judged again when the passing threshold changes)."""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import TypeAdapter, ValidationError

from cuepoint.contracts import assessment as events
from cuepoint.contracts.configs import CONFIG_KEYS
from cuepoint.runtime.auth import CurrentUser, Role
from cuepoint.runtime.clock import utc_now
from cuepoint.runtime.errors import Conflict, Invalid, NotFound

from ..domain import authoring
from ..domain.changes import changes_of
from ..domain.grading import (
    AlreadyAnsweredCorrectly,
    AnswerMismatch,
    AttemptLimitReached,
    Counted,
    Policy,
    grade,
    lesson_score,
    next_attempt_number,
    passed,
)
from ..domain.questions import Answer, QuestionContent, selected_options
from ..repositories import GRADE_FIELDS
from ..unit_of_work import AssessmentUnitOfWork
from .access import authored_lesson
from .policies import ConfigLookup, policy_of

log = logging.getLogger(__name__)
CONTENT = TypeAdapter(QuestionContent)
ANSWER = TypeAdapter(Answer)
THRESHOLD_KEY = "grading.passingThreshold"



@dataclass(frozen=True)
class SubmitAttempt:
    actor: CurrentUser
    question_id: uuid.UUID
    answer: dict[str, Any]
    idempotency_key: str | None = None
    time_taken_ms: int | None = None


@dataclass(frozen=True)
class AttemptOutcome:
    """The stored attempt, the question it answered and the policy it was graded by; ``replayed``: a retry
    of an earlier request with the same Idempotency-Key, answered as that one was."""

    attempt: Any
    question: Any
    policy: Policy
    replayed: bool


@dataclass(frozen=True)
class OverrideScore:
    actor: CurrentUser
    attempt_id: uuid.UUID
    score: Decimal
    reason: str


@dataclass(frozen=True)
class ScoreOverride:
    attempt_id: uuid.UUID
    question_id: uuid.UUID
    student_id: uuid.UUID
    lesson_id: uuid.UUID
    type: str
    attempt_number: int
    score: Decimal
    previous_score: Decimal
    graded_score: Decimal
    max_score: Decimal
    best_score: Decimal | None
    is_correct: bool
    reason: str
    overridden_by_id: uuid.UUID
    overridden_at: datetime


@dataclass(frozen=True)
class PassingThresholdChanged:
    """grading.passingThreshold changed (identity's system config): for one organisation
    (``scope_tenant_id``) or for the platform (None)."""

    scope_tenant_id: uuid.UUID | None
    value: Any
    is_default: bool
    actor_id: uuid.UUID | None


def _problem(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first.get("loc", ()))
    return f"{where}: {first.get('msg')}" if where else str(first.get("msg"))


async def submit_attempt(command: SubmitAttempt, uow: AssessmentUnitOfWork, *, config: ConfigLookup) -> AttemptOutcome:
    """A student's answer, graded at once; their grades follow. The same Idempotency-Key with the same answer
    is answered as the first time, with a different answer refused."""
    actor, question_id = command.actor, command.question_id
    request_hash = hashlib.sha256(json.dumps({"question": str(question_id), "answer": command.answer},
                                             sort_keys=True).encode()).hexdigest()
    await uow.attempts.lock(actor.id, question_id)
    if command.idempotency_key is not None:
        previous = await uow.attempts.by_idempotency_key(actor.id, command.idempotency_key)
        if previous is not None:
            if previous.request_hash != request_hash:
                raise Invalid("this Idempotency-Key was already used for a different answer; use a new key "
                              "for a new attempt")
            question = await uow.questions.get(previous.question_id)
            policy = await policy_of(uow, config, actor.tenant_id, question)
            return AttemptOutcome(previous, question, policy, replayed=True)
    question = await uow.questions.answerable(question_id)
    try:
        content = CONTENT.validate_python(question.content)
        parsed = ANSWER.validate_python({"type": content.type, **command.answer})
    except ValidationError as error:
        raise Invalid(f"this answer does not fit a {question.type} question: {_problem(error)}") from error
    policy = await policy_of(uow, config, actor.tenant_id, question)
    history = await uow.attempts.history(actor.id, question_id)
    try:
        result = grade(content, parsed, attempt_number=next_attempt_number(history), policy=policy)
    except AlreadyAnsweredCorrectly as error:
        raise Conflict("you already answered this question correctly", attempts_used=error.used) from error
    except AttemptLimitReached as error:
        raise Conflict(f"all {error.limit} attempts at this question are used", attempts_used=error.used,
                       max_attempts=error.limit) from error
    except AnswerMismatch as error:
        raise Invalid(f"this answer does not fit the question: {error}") from error
    attempt_id = uuid.uuid4()
    answered_at = utc_now()
    await uow.attempts.add(
        id=attempt_id, tenant_id=actor.tenant_id, question_id=question_id, student_id=actor.id,
        milestone_id=question.milestone_id, video_id=question.video_id, lesson_id=question.lesson_id,
        attempt_number=result.attempt_number, answer=parsed.model_dump(mode="json"), score=result.score,
        max_score=result.max_score, is_correct=result.is_correct, attempts_left=result.attempts_left,
        time_taken_ms=command.time_taken_ms, idempotency_key=command.idempotency_key, request_hash=request_hash,
        created_at=answered_at)
    graded = await update_grades(uow, config, actor.tenant_id, actor.id, question, reason="ANSWERED")
    await uow.emit(events.AttemptGraded(
        attempt_id=attempt_id, student_id=actor.id, question_id=question_id,
        milestone_id=question.milestone_id, video_id=question.video_id, lesson_id=question.lesson_id,
        attempt_number=result.attempt_number, max_attempts=policy.max_attempts, is_correct=result.is_correct,
        score=result.score, max_score=result.max_score, milestone_answered=result.settled,
        attempts_left=result.attempts_left, time_taken_ms=command.time_taken_ms,
        selected_options=selected_options(parsed), answered_at=answered_at), actor_id=actor.id)
    for event in graded:
        await uow.emit(event, actor_id=actor.id)
    return AttemptOutcome(await uow.attempts.get(attempt_id), question, policy, replayed=False)


async def override_score(command: OverrideScore, uow: AssessmentUnitOfWork, *, config: ConfigLookup) -> ScoreOverride:
    """The lesson's author (or an admin) sets the score of a typed answer; the grades follow."""
    actor, attempt_id, score = command.actor, command.attempt_id, command.score
    found = await uow.attempts.whose(attempt_id)
    if found is None or not actor.at_least(Role.TEACHER):
        raise NotFound(f"no attempt {attempt_id}")
    # The same lock as a new attempt of this student at this question: the best score is computed once.
    await uow.attempts.lock(found.student_id, found.question_id)
    attempt = await uow.attempts.get(attempt_id, lock=True)
    question = await uow.questions.get(attempt.question_id)
    await authored_lesson(uow, actor, question.lesson_id)
    authoring.ensure_overridable(question.type)
    if score > attempt.max_score:
        raise Invalid(f"the score must be between 0 and the question's {attempt.max_score} points",
                      max_score=float(attempt.max_score))
    overridden_at = utc_now()
    graded = attempt.graded_score if attempt.graded_score is not None else attempt.score
    await uow.attempts.update(attempt_id, score=score, graded_score=graded, override_reason=command.reason,
                              overridden_by_id=actor.id, overridden_at=overridden_at)
    regraded = await update_grades(uow, config, actor.tenant_id, attempt.student_id, question, reason="OVERRIDDEN")
    best = await uow.attempts.best(attempt.student_id, attempt.question_id)
    stored = await uow.attempts.get(attempt_id)
    await uow.emit(events.AttemptScoreOverridden(
        attempt_id=attempt_id, student_id=attempt.student_id, question_id=attempt.question_id,
        milestone_id=attempt.milestone_id, video_id=attempt.video_id, lesson_id=attempt.lesson_id,
        attempt_number=attempt.attempt_number, score=stored.score, previous_score=attempt.score,
        graded_score=graded, max_score=attempt.max_score, best_score=best, reason=command.reason,
        overridden_at=overridden_at), actor_id=actor.id)
    for event in regraded:
        await uow.emit(event, actor_id=actor.id)
    return ScoreOverride(
        attempt_id=attempt_id, question_id=attempt.question_id, student_id=attempt.student_id,
        lesson_id=attempt.lesson_id, type=question.type, attempt_number=attempt.attempt_number, score=stored.score,
        previous_score=attempt.score, graded_score=graded, max_score=attempt.max_score, best_score=best,
        is_correct=attempt.is_correct, reason=command.reason, overridden_by_id=actor.id,
        overridden_at=overridden_at)


async def update_grades(uow: AssessmentUnitOfWork, config: ConfigLookup, tenant_id: uuid.UUID,
                        student_id: uuid.UUID, question: Any, *, reason: str) -> list[Any]:
    """The student's milestone, video and lesson grades, by the lesson score's one definition
    (``domain.grading.lesson_score``); the LessonGraded to emit (after the caller's own event) if the lesson
    grade changed."""
    threshold = Decimal(str(await config(THRESHOLD_KEY, tenant_id)))
    rows = await uow.grades.lesson_questions(question.lesson_id, student_id)
    scopes = [("MILESTONE", question.milestone_id, "milestone_id"), ("VIDEO", question.video_id, "video_id"),
              ("LESSON", question.lesson_id, None)]
    announce: list[Any] = []
    for scope, scope_id, column in scopes:
        if scope_id is None:
            continue
        result = lesson_score([Counted(points=Decimal(row.points), required=row.required, best=row.best)
                               for row in rows if column is None or getattr(row, column) == scope_id])
        values = {"score": result.score, "max_score": result.max_score, "percent": result.percent,
                  "passed": passed(result.percent, threshold), "questions_answered": result.answered,
                  "questions_total": result.total, "updated_at": utc_now()}
        before = await uow.grades.get(student_id, scope, scope_id)
        await uow.grades.put(tenant_id=tenant_id, student_id=student_id, scope=scope, scope_id=scope_id,
                             lesson_id=question.lesson_id, values=values)
        if scope == "LESSON" and (before is None or changes_of(before, values, GRADE_FIELDS)):
            announce.append(lesson_graded(student_id, question.lesson_id, values, threshold, reason))
    return announce


async def passing_threshold_changed(command: PassingThresholdChanged, uow: Any, *, config: ConfigLookup) -> None:
    """Every stored grade the new threshold applies to has its ``passed`` judged again (the scores stay), and
    each lesson grade that flips is announced, so progress and the dashboards follow. An organisation's own
    value changes its grades; a platform-wide one those of every organisation without its own.
    ``uow``: the consumer's (AssessmentUnitOfWork.joining)."""
    if command.scope_tenant_id is not None:
        if command.is_default or command.value is None:  # the override removed: the platform's value, or the default
            threshold = Decimal(str(await config(THRESHOLD_KEY, None)))
        else:
            threshold = Decimal(str(CONFIG_KEYS[THRESHOLD_KEY].validate(command.value)))
        await _judge_again(uow, command.scope_tenant_id, threshold, command.actor_id)
        return
    # Platform-wide: each organisation's threshold as the config view resolves it, once the view has this
    # change (it follows the same topic on its own; until then the event is retried).
    expected = CONFIG_KEYS[THRESHOLD_KEY].default if command.is_default or command.value is None else \
        CONFIG_KEYS[THRESHOLD_KEY].validate(command.value)
    if await config(THRESHOLD_KEY, None) != expected:
        raise RuntimeError("the config view has not caught up with this platform-wide change yet")
    for tenant_id in await uow.grades.graded_tenants():
        await uow.grades.switch_tenant(tenant_id)
        await _judge_again(uow, tenant_id, Decimal(str(await config(THRESHOLD_KEY, tenant_id))), command.actor_id)


async def _judge_again(uow: Any, tenant_id: uuid.UUID, threshold: Decimal, actor_id: uuid.UUID | None) -> None:
    now = utc_now()
    flipped = await uow.grades.judge_again(threshold, now)
    for row in sorted(flipped, key=lambda r: (str(r.student_id), str(r.scope_id))):
        if row.scope == "LESSON":
            values = {name: getattr(row, name) for name in GRADE_FIELDS}
            await uow.emit(lesson_graded(row.student_id, row.lesson_id, {**values, "updated_at": now}, threshold,
                                         "THRESHOLD_CHANGED"), tenant_id=tenant_id, actor_id=actor_id)
    log.info("passing threshold changed: grades judged again", extra={
        "tenant_id": str(tenant_id), "threshold": str(threshold), "flipped": len(flipped)})


def lesson_graded(student_id: uuid.UUID, lesson_id: uuid.UUID, values: dict[str, Any], threshold: Decimal,
                  reason: str) -> events.LessonGraded:
    return events.LessonGraded(
        student_id=student_id, lesson_id=lesson_id, score=values["score"], max_score=values["max_score"],
        percent=values["percent"], passed=values["passed"], passing_threshold=threshold,
        questions_answered=values["questions_answered"], questions_counted=values["questions_total"], reason=reason,
        graded_at=values["updated_at"])

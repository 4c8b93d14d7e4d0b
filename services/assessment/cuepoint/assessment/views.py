"""The reads that answer assessment's GET routes, and the bodies its routes answer (the presenters
of rows and of use cases' results). A view never writes and never emits."""

from __future__ import annotations

import uuid
from dataclasses import asdict
from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy import and_, func, select, text
from sqlalchemy.dialects.postgresql import distinct_on

from cuepoint.runtime.api_models import Out, Page
from cuepoint.runtime.auth import CurrentUser, Role
from cuepoint.runtime.clock import utc_now
from cuepoint.runtime.db import one_or_404
from cuepoint.runtime.errors import Forbidden, Invalid, NotFound

from . import orm, schemas
from .domain.grading import Policy, settled
from .domain.questions import QuestionContent, answer_key, student_view
from .settings import AssessmentSettings
from .unit_of_work import AssessmentUnitOfWork
from .use_cases.access import authored_lesson
from .use_cases.attempts import AttemptOutcome, ScoreOverride
from .use_cases.configurations import ConnectionTested
from .use_cases.policies import ConfigLookup, MilestonePolicy, policy_of
from .use_cases.questions import BulkApproval

CONTENT = TypeAdapter(QuestionContent)
Body = dict[str, Any]  # a body being built, before its response model (schemas.py) takes it

# Running: a runner holds the lease and it has not lapsed (a lapsed one is waiting to be taken over).
QUEUE_SQL = """
SELECT q.job_id, j.provider, j.created_at, (q.leased_at IS NOT NULL AND q.available_at > now()) AS running
FROM generation_queue q JOIN generation_jobs j ON j.id = q.job_id
"""




def _page(kind: type[Out], items: list[Any], total: int, limit: int, offset: int) -> Page[Any]:
    return Page[kind](items=items, total=total, limit=limit, offset=offset)  # type: ignore[valid-type]


# --- AI configurations, usage, generation --------------------------------------------------------------


async def configurations(uow: AssessmentUnitOfWork, limit: int, offset: int) -> Page[schemas.Configuration]:
    session, table = uow.session, orm.ai_configurations
    total = (await session.execute(select(func.count()).select_from(table))).scalar_one()
    rows = (await session.execute(select(table).order_by(table.c.provider, table.c.name, table.c.id)
                                  .limit(limit).offset(offset))).all()
    return _page(schemas.Configuration, [configuration(row) for row in rows], total, limit, offset)


async def usage(uow: AssessmentUnitOfWork, config: ConfigLookup, tenant_id: uuid.UUID) -> schemas.Usage:
    """This month's AI spend against the organisation's budget, as generation checks it: read where the
    spend is written, so an admin sees what the next request will be refused on. The month-by-month
    report (the seed's "AI Usage Cost Tracking") is analytics' (docs/decisions/0007-ai-usage-owners.md)."""
    spent = await uow.usage.spent_this_month()
    budget = Decimal(str(await config("ai.monthlyBudgetUsd", tenant_id)))
    return schemas.Usage.model_validate({
        "this_month": {"budget_usd": budget, "spent_usd": spent, "remaining_usd": max(budget - spent, 0)}})


async def generation_job(uow: AssessmentUnitOfWork, actor: CurrentUser, job_id: uuid.UUID) -> schemas.GenerationJob:
    row = await one_or_404(uow.session, orm.generation_jobs, job_id, "generation job")
    await authored_lesson(uow, actor, row.lesson_id)
    return job(row)


async def generation_jobs(uow: AssessmentUnitOfWork, actor: CurrentUser, lesson_id: uuid.UUID, limit: int,
                          offset: int) -> Page[schemas.GenerationJob]:
    await authored_lesson(uow, actor, lesson_id)
    jobs = orm.generation_jobs
    where = jobs.c.lesson_id == lesson_id
    total = (await uow.session.execute(select(func.count()).select_from(jobs).where(where))).scalar_one()
    rows = (await uow.session.execute(select(jobs).where(where).order_by(
        jobs.c.created_at.desc()).limit(limit).offset(offset))).all()
    return _page(schemas.GenerationJob, [job(row) for row in rows], total, limit, offset)


async def generation_queue(uow: AssessmentUnitOfWork, settings: AssessmentSettings) -> schemas.GenerationQueue:
    """Depth and age of this organisation's queue (row-level security shows its rows only)."""
    rows = (await uow.session.execute(text(QUEUE_SQL))).all()
    waiting = [row for row in rows if not row.running]
    oldest = min(waiting, key=lambda row: (row.created_at, str(row.job_id)), default=None)
    providers = sorted({row.provider for row in rows})
    return schemas.GenerationQueue.model_validate({"waiting": len(waiting), "running": len(rows) - len(waiting),
            "oldest_waiting_job_id": oldest.job_id if oldest else None,
            "oldest_waiting_since": oldest.created_at if oldest else None,
            "oldest_waiting_seconds": round(max(0.0, (utc_now() - oldest.created_at).total_seconds()), 3)
            if oldest else None,
            "by_provider": [{"provider": p, "waiting": sum(1 for r in waiting if r.provider == p),
                             "running": sum(1 for r in rows if r.provider == p and r.running)}
                            for p in providers],
            "limits": {"per_tenant": settings.generation_per_tenant,
                       "per_provider": settings.generation_per_provider,
                       "in_all": settings.generation_concurrency,
                       "lease_seconds": settings.generation_lease_seconds}})


# --- questions -------------------------------------------------------------------------------------


async def review_queue(uow: AssessmentUnitOfWork, actor: CurrentUser, *, lesson_id: uuid.UUID | None,
                       status: str | None, video_id: uuid.UUID | None, milestone_id: uuid.UUID | None, limit: int,
                       offset: int) -> Page[schemas.AuthoredQuestion]:
    if not actor.at_least(Role.TEACHER):
        raise Forbidden("only teachers and admins review questions")
    q = orm.questions
    conditions = []
    if lesson_id is not None:
        conditions.append(q.c.lesson_id == lesson_id)
    if status is not None:
        conditions.append(q.c.status == status)
    if video_id is not None:
        conditions.append(q.c.video_id == video_id)
    if milestone_id is not None:
        conditions.append(q.c.milestone_id == milestone_id)
    if lesson_id is not None:
        await authored_lesson(uow, actor, lesson_id)
    elif not actor.at_least(Role.ADMIN):
        conditions.append(q.c.lesson_id.in_(select(orm.lessons.c.id).where(orm.lessons.c.created_by_id == actor.id)))
    base = select(q).outerjoin(orm.milestones, orm.milestones.c.id == q.c.milestone_id).where(and_(*conditions))
    total = (await uow.session.execute(select(func.count()).select_from(base.subquery()))).scalar_one()
    rows = (await uow.session.execute(base.order_by(q.c.lesson_id, orm.milestones.c.timestamp.nulls_last(),
                                                    q.c.created_at, q.c.id).limit(limit).offset(offset))).all()
    return _page(schemas.AuthoredQuestion, [teacher_view(row) for row in rows], total, limit, offset)


async def question(uow: AssessmentUnitOfWork, config: ConfigLookup, actor: CurrentUser,
                   question_id: uuid.UUID) -> schemas.AuthoredQuestion | schemas.StudentQuestion:
    """Teachers see everything of a question of their lesson; students an approved question without its key."""
    if not actor.at_least(Role.TEACHER):
        row = await uow.questions.answerable(question_id)
        state = await _student_state(uow, actor.id, [row])
        policy = await policy_of(uow, config, actor.tenant_id, row)
        return student_question(row, state.get(row.id), actor.id, policy)
    row = await uow.questions.get(question_id)
    await authored_lesson(uow, actor, row.lesson_id)
    return teacher_view(row)


async def _student_state(uow: AssessmentUnitOfWork, student_id: uuid.UUID,
                         questions: list[Any]) -> dict[uuid.UUID, dict[str, Any]]:
    a = orm.question_attempts
    rows = (await uow.session.execute(select(
        a.c.question_id, func.count().label("used"), func.max(a.c.score).label("best"),
        func.bool_or(a.c.is_correct).label("correct"), func.min(a.c.attempts_left).label("left"))
        .where(a.c.student_id == student_id, a.c.question_id.in_([q.id for q in questions]))
        .group_by(a.c.question_id))).all()
    return {row.question_id: {"used": row.used, "best": row.best, "correct": row.correct, "left": row.left}
            for row in rows}


async def milestone_questions(uow: AssessmentUnitOfWork, config: ConfigLookup, actor: CurrentUser,
                              milestone_id: uuid.UUID) -> schemas.MilestoneQuestions:
    """What a student answers at a milestone: approved questions without their keys."""
    q, lessons = orm.questions, orm.lessons
    milestone = (await uow.session.execute(select(orm.milestones).join(lessons, and_(
        lessons.c.id == orm.milestones.c.lesson_id, lessons.c.status == "PUBLISHED")).where(
        orm.milestones.c.id == milestone_id, ~orm.milestones.c.deleted))).first()
    if milestone is None:
        raise NotFound(f"no milestone {milestone_id}")
    questions = (await uow.session.execute(select(q).where(q.c.milestone_id == milestone_id, q.c.status == "APPROVED")
                                           .order_by(q.c.created_at, q.c.id))).all()
    state = await _student_state(uow, actor.id, questions)
    milestone_policy = await uow.policies.get(milestone_id)  # shared by all its questions
    items = []
    for row in questions:
        policy = await policy_of(uow, config, actor.tenant_id, row, milestone_policy=milestone_policy)
        items.append(student_question(row, state.get(row.id), actor.id, policy))
    return schemas.MilestoneQuestions(milestone_id=milestone_id, title=milestone.title,
                                      is_required=milestone.is_required, questions=items)


async def attempts(uow: AssessmentUnitOfWork, config: ConfigLookup, actor: CurrentUser, *,
                   milestone_id: uuid.UUID | None, lesson_id: uuid.UUID | None, student_id: uuid.UUID | None,
                   limit: int, offset: int) -> Page[schemas.QuestionAttempts]:
    """A student's latest answer per approved question of a milestone or lesson, for them to see again
    (on another device) or for the lesson's author: nobody else's, whatever ``student_id`` says."""
    if milestone_id is None and lesson_id is None:
        raise Invalid("name a milestone_id or a lesson_id")
    student_id = student_id or actor.id
    session = uow.session
    if student_id != actor.id:
        if not actor.at_least(Role.TEACHER):
            raise NotFound(f"no attempts of student {student_id}")
        for lesson in await _lessons_in_scope(uow, milestone_id, lesson_id):
            await authored_lesson(uow, actor, lesson)
    a, q = orm.question_attempts, orm.questions
    conditions = [a.c.student_id == student_id, q.c.status == "APPROVED"]
    if milestone_id is not None:
        conditions.append(q.c.milestone_id == milestone_id)
    if lesson_id is not None:
        conditions.append(q.c.lesson_id == lesson_id)
    per_question = {"partition_by": a.c.question_id}
    # Window functions run before DISTINCT ON: the latest row carries the counts over all of them.
    latest = (select(a, func.count().over(**per_question).label("attempts_used"),
                     func.max(a.c.score).over(**per_question).label("best_score"),
                     func.bool_or(a.c.is_correct).over(**per_question).label("ever_correct"),
                     func.bool_or(a.c.overridden_at.is_not(None)).over(**per_question).label("score_overridden"))
              .join(q, q.c.id == a.c.question_id).where(*conditions).ext(distinct_on(a.c.question_id))
              .order_by(a.c.question_id, a.c.attempt_number.desc())).subquery()
    total = (await session.execute(select(func.count()).select_from(latest))).scalar_one()
    rows = (await session.execute(
        select(latest).join(q, q.c.id == latest.c.question_id)
        .outerjoin(orm.milestones, orm.milestones.c.id == q.c.milestone_id)
        .order_by(orm.milestones.c.timestamp.nulls_last(), q.c.created_at, q.c.id)
        .limit(limit).offset(offset))).all()
    questions = {row.id: row for row in (await session.execute(
        select(q).where(q.c.id.in_([r.question_id for r in rows])))).all()}
    milestone_policies: dict[uuid.UUID | None, Any] = {}
    items = []
    for row in rows:
        answered = questions[row.question_id]
        if answered.milestone_id not in milestone_policies:
            milestone_policies[answered.milestone_id] = await uow.policies.get(answered.milestone_id)
        policy = await policy_of(uow, config, actor.tenant_id, answered,
                                 milestone_policy=milestone_policies[answered.milestone_id])
        items.append(question_attempts(row, answered, policy))
    return _page(schemas.QuestionAttempts, items, total, limit, offset)


async def _lessons_in_scope(uow: AssessmentUnitOfWork, milestone_id: uuid.UUID | None,
                            lesson_id: uuid.UUID | None) -> set[uuid.UUID]:
    lessons = {lesson_id} if lesson_id is not None else set()
    if milestone_id is not None:
        milestone = (await uow.session.execute(select(orm.milestones.c.lesson_id).where(
            orm.milestones.c.id == milestone_id))).first()
        if milestone is None:
            raise NotFound(f"no milestone {milestone_id}")
        lessons.add(milestone.lesson_id)
    return lessons


async def grades(uow: AssessmentUnitOfWork, actor: CurrentUser, *, lesson_id: uuid.UUID,
                 student_id: uuid.UUID | None, limit: int, offset: int) -> Page[schemas.Grade]:
    g = orm.grades
    conditions = [g.c.lesson_id == lesson_id]
    if actor.at_least(Role.TEACHER):
        await authored_lesson(uow, actor, lesson_id)
        if student_id is not None:
            conditions.append(g.c.student_id == student_id)
    else:
        if student_id not in (None, actor.id):
            raise NotFound(f"no grades of student {student_id}")
        conditions.append(g.c.student_id == actor.id)
    total = (await uow.session.execute(select(func.count()).select_from(g).where(*conditions))).scalar_one()
    rows = (await uow.session.execute(select(g).where(*conditions).order_by(
        g.c.student_id, g.c.scope.desc(), g.c.scope_id).limit(limit).offset(offset))).all()
    return _page(schemas.Grade, [grade(row) for row in rows], total, limit, offset)


# --- bodies ----------------------------------------------------------------------------------------


def configuration(row: Any) -> schemas.Configuration:
    return schemas.Configuration.model_validate({
            "id": row.id, "name": row.name, "provider": row.provider, "model": row.model, "base_url": row.base_url,
            "temperature": row.temperature, "max_tokens": row.max_tokens, "prompt_template": row.prompt_template,
            "input_price_per_1k": row.input_price_per_1k, "output_price_per_1k": row.output_price_per_1k,
            "has_api_key": row.api_key_encrypted is not None, "is_active": row.is_active,
            "created_at": row.created_at, "updated_at": row.updated_at})


def job(row: Any) -> schemas.GenerationJob:
    return schemas.GenerationJob.model_validate({
            "id": row.id, "lesson_id": row.lesson_id, "video_id": row.video_id, "milestone_ids": row.milestone_ids,
            "count_per_milestone": row.count_per_milestone, "types": row.types, "provider": row.provider,
            "model": row.model, "configuration_id": row.configuration_id, "trigger": row.trigger,
            "status": row.status, "error": row.error, "question_count": row.question_count, "runs": row.runs,
            "created_at": row.created_at, "started_at": row.started_at, "finished_at": row.finished_at})


def teacher_view(row: Any) -> schemas.AuthoredQuestion:
    return schemas.AuthoredQuestion.model_validate({
            "view": "AUTHOR", "id": row.id, "lesson_id": row.lesson_id, "video_id": row.video_id,
            "milestone_id": row.milestone_id, "type": row.type, "prompt": row.prompt, "content": row.content,
            "explanation": row.explanation, "points": row.points, "difficulty": row.difficulty, "status": row.status,
            "source": row.source,
            "ai": {"provider": row.ai_provider, "model": row.ai_model, "prompt_version": row.prompt_version,
                   "transcript_span": [row.transcript_start, row.transcript_end],
                   "generation_job_id": row.generation_job_id,
                   # Drafts from before drawn_for_milestone_id existed: the milestone they are on now.
                   "milestone_id": row.drawn_for_milestone_id or row.milestone_id} if row.source == "AI" else None,
            "max_attempts": row.max_attempts, "retry_penalty": row.retry_penalty, "partial_credit": row.partial_credit,
            "rejection_reason": row.rejection_reason, "reviewed_by_id": row.reviewed_by_id,
            "reviewed_at": row.reviewed_at, "created_at": row.created_at, "updated_at": row.updated_at})


def _revealed(row: Any, content: Any, *, is_settled: bool) -> Body:
    """The explanation and the key, for a student only once the question is settled for them."""
    return {"explanation": row.explanation, "correct_answer": answer_key(content)} if is_settled else {}


def student_question(row: Any, state: dict[str, Any] | None, student_id: uuid.UUID,
                     policy: Policy) -> schemas.StudentQuestion:
    content = CONTENT.validate_python(row.content)
    item: Body = {"view": "STUDENT", "id": row.id, "milestone_id": row.milestone_id, "type": row.type,
                  "prompt": row.prompt, "points": row.points, "difficulty": row.difficulty,
                  "content": student_view(content, seed=f"{row.id}:{student_id}"),
                  "attempts_used": 0, "attempts_left": policy.max_attempts,
                  "max_attempts": policy.max_attempts, "retry_penalty": policy.penalty_per_attempt,
                  "settled": False, "best_score": None}
    if state:
        is_settled = settled(is_correct=bool(state["correct"]), attempts_left=state["left"])
        item.update(attempts_used=state["used"], attempts_left=state["left"], best_score=state["best"],
                    settled=is_settled, **_revealed(row, content, is_settled=is_settled))
    return schemas.StudentQuestion.model_validate(item)


def attempt_result(outcome: AttemptOutcome) -> schemas.AttemptResult:
    row, question, policy = outcome.attempt, outcome.question, outcome.policy
    is_settled = settled(is_correct=row.is_correct, attempts_left=row.attempts_left)
    return schemas.AttemptResult.model_validate({
            "attempt_id": row.id, "question_id": row.question_id, "type": question.type,
            "attempt_number": row.attempt_number, "attempts_left": row.attempts_left,
            "max_attempts": policy.max_attempts, "retry_penalty": policy.penalty_per_attempt, "score": row.score,
            "max_score": row.max_score, "is_correct": row.is_correct, "settled": is_settled,
            "replayed": outcome.replayed, "answered_at": row.created_at,
            **_revealed(question, CONTENT.validate_python(question.content), is_settled=is_settled)})


def question_attempts(row: Any, question: Any, policy: Policy) -> schemas.QuestionAttempts:
    """One question's attempts by one student: ``row`` is the latest, with the counts over all of them."""
    is_settled = settled(is_correct=row.ever_correct, attempts_left=row.attempts_left)
    return schemas.QuestionAttempts.model_validate({
            "question_id": row.question_id, "student_id": row.student_id, "lesson_id": question.lesson_id,
            "video_id": question.video_id, "milestone_id": question.milestone_id, "type": question.type,
            "attempt_id": row.id, "attempt_number": row.attempt_number, "answer": row.answer, "score": row.score,
            "best_score": row.best_score, "max_score": row.max_score, "is_correct": row.is_correct,
            "attempts_used": row.attempts_used, "attempts_left": row.attempts_left,
            "max_attempts": policy.max_attempts, "retry_penalty": policy.penalty_per_attempt, "settled": is_settled,
            "answered_at": row.created_at, "score_overridden": row.score_overridden,
            "override": {"graded_score": row.graded_score, "reason": row.override_reason,
                         "overridden_at": row.overridden_at} if row.overridden_at is not None else None,
            **_revealed(question, CONTENT.validate_python(question.content), is_settled=is_settled)})


def connection_test(tested: ConnectionTested) -> schemas.ConnectionTest:
    row, check = tested.configuration, tested.check
    return schemas.ConnectionTest.model_validate({
            "configuration_id": row.id, "provider": row.provider, "model": row.model, "ok": check.ok,
            "latency_ms": check.latency_ms, "problem": check.problem, "detail": check.detail,
            "tokens_used": check.tokens_in + check.tokens_out, "usage_logged": tested.usage_logged})


def bulk_approval(result: BulkApproval) -> schemas.BulkApproval:
    return schemas.BulkApproval.model_validate(
        {"approved": result.approved, "skipped": [asdict(skipped) for skipped in result.skipped]})


def score_override(result: ScoreOverride) -> schemas.ScoreOverride:
    return schemas.ScoreOverride.model_validate(asdict(result))


def milestone_policy(result: MilestonePolicy) -> schemas.MilestonePolicy:
    return schemas.MilestonePolicy.model_validate(asdict(result))


def grade(row: Any) -> schemas.Grade:
    return schemas.Grade.model_validate({
            "student_id": row.student_id, "scope": row.scope, "scope_id": row.scope_id, "lesson_id": row.lesson_id,
            "score": row.score, "max_score": row.max_score, "percent": row.percent, "passed": row.passed,
            "questions_answered": row.questions_answered, "questions_total": row.questions_total,
            "updated_at": row.updated_at})

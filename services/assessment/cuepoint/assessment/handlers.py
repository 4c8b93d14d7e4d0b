"""assessment's use cases: AI configurations, generation requests, the review queue,
students' attempts and grades. One tenant-scoped transaction each, events through the outbox."""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from pydantic import TypeAdapter, ValidationError
from sqlalchemy import and_, func, or_, select, text, update
from sqlalchemy.dialects.postgresql import distinct_on, insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cuepoint.contracts import assessment as events
from cuepoint.contracts.configs import CONFIG_KEYS
from cuepoint.runtime.auth import CurrentUser, Role
from cuepoint.runtime.db import one_or_404, set_tenant, tenant_transaction
from cuepoint.runtime.errors import Conflict, Forbidden, Invalid, NotFound
from cuepoint.runtime.outbox import Outbox
from cuepoint.runtime.secrets import SecretBox

from . import orm
from .domain.grading import AnswerMismatch, AttemptLimitReached, Counted, Policy, grade, lesson_score, passed, settled
from .domain.prompting import DEFAULT_PROMPT_TEMPLATE, Prices, TemplateProblem, check_template, validate_types
from .domain.questions import (
    Answer,
    QuestionContent,
    answer_key,
    selected_options,
    shown_ids,
    student_view,
    with_minted_ids,
)
from .generation import Generation, api_key_purpose, ensure_milestones
from .providers import ConnectionCheck, check_offline, check_openai, no_api_key

log = logging.getLogger(__name__)
ConfigLookup = Callable[[str, uuid.UUID], Awaitable[Any]]
CONTENT = TypeAdapter(QuestionContent)
ANSWER = TypeAdapter(Answer)
CONNECTION_TEST = "CONNECTION_TEST"
APPROVABLE = ("DRAFT", "PENDING_REVIEW", "REJECTED")
# A rejection is a reviewer's decision: only approving that one question on purpose undoes it, never a bulk click.
BULK_APPROVABLE = ("DRAFT", "PENDING_REVIEW")
# Typed answers are matched against accepted spellings: a teacher may judge one the key missed. A choice,
# a match or an order is right or wrong by its key alone.
OVERRIDABLE = ("SHORT_ANSWER", "FILL_IN_THE_BLANK")

# Every approved question of a lesson with what the lesson score needs of it (domain.grading.lesson_score): its
# points, whether its milestone is required, and the student's best score (null: not answered). Questions on
# a deleted milestone no longer reach students and do not count.
LESSON_QUESTIONS_SQL = """
SELECT q.id, q.milestone_id, q.video_id, q.points, COALESCE(m.is_required, false) AS required, b.best
FROM questions q
LEFT JOIN milestones m ON m.id = q.milestone_id
LEFT JOIN (SELECT question_id, MAX(score) AS best FROM question_attempts
           WHERE student_id = :student_id AND lesson_id = :lesson_id GROUP BY question_id) b ON b.question_id = q.id
WHERE q.lesson_id = :lesson_id AND q.status = 'APPROVED' AND (m.id IS NULL OR NOT m.deleted)
"""


def _now() -> datetime:
    return datetime.now(UTC)


def _content(raw: Any) -> Any:
    return CONTENT.validate_python(raw)


class Assessment:
    def __init__(self, *, sessions: async_sessionmaker[AsyncSession], outbox: Outbox, box: SecretBox,
                 generation: Generation, config: ConfigLookup) -> None:
        self.sessions = sessions
        self.outbox = outbox
        self.box = box
        self.generation = generation
        self.config = config

    # --- access --------------------------------------------------------------------------------------

    _one = staticmethod(one_or_404)

    async def _authored_lesson(self, session: AsyncSession, actor: CurrentUser, lesson_id: uuid.UUID) -> Any:
        """A lesson the actor may manage questions of: their own, or any for an admin."""
        lesson = (await session.execute(select(orm.lessons).where(orm.lessons.c.id == lesson_id))).first()
        if lesson is None or not actor.at_least(Role.TEACHER):
            raise NotFound(f"no lesson {lesson_id} (a lesson created a moment ago can take a second to appear)")
        if lesson.created_by_id != actor.id and not actor.at_least(Role.ADMIN):
            raise Forbidden("only the lesson's author or an admin can manage its questions")
        return lesson

    async def _managed_question(self, session: AsyncSession, actor: CurrentUser, question_id: uuid.UUID) -> Any:
        question = await self._one(session, orm.questions, question_id, "question", lock=True)
        if not actor.at_least(Role.TEACHER):
            raise NotFound(f"no question {question_id}")
        await self._authored_lesson(session, actor, question.lesson_id)
        return question

    async def _milestone_of(self, session: AsyncSession, lesson_id: uuid.UUID, milestone_id: uuid.UUID | None) -> Any:
        if milestone_id is None:
            return None
        milestone = (await session.execute(select(orm.milestones).where(
            orm.milestones.c.id == milestone_id, ~orm.milestones.c.deleted))).first()
        if milestone is None or milestone.lesson_id != lesson_id:
            raise Invalid(f"milestone {milestone_id} is not a milestone of lesson {lesson_id}")
        return milestone

    # --- AI configurations (admins) ------------------------------------------------------------------

    def _check_configuration(self, fields: dict[str, Any], *, has_key: bool) -> None:
        try:
            check_template(fields.get("prompt_template") or DEFAULT_PROMPT_TEMPLATE)
        except TemplateProblem as error:
            raise Invalid(str(error)) from error
        if fields.get("provider") == "OPENAI" and fields.get("is_active") and not has_key:
            raise Invalid("an active OPENAI configuration needs an api_key")

    async def create_configuration(self, actor: CurrentUser, fields: dict[str, Any]) -> dict[str, Any]:
        api_key = fields.pop("api_key", None)
        fields.setdefault("prompt_template", DEFAULT_PROMPT_TEMPLATE)
        self._check_configuration(fields, has_key=bool(api_key))
        configuration_id = uuid.uuid4()
        encrypted = self.box.encrypt(api_key.encode(), purpose=api_key_purpose(configuration_id)) if api_key else None
        async with tenant_transaction(self.sessions, actor.tenant_id) as session:
            if (await session.execute(select(orm.ai_configurations.c.id).where(
                    orm.ai_configurations.c.name == fields["name"]))).first():
                raise Conflict(f"an AI configuration named {fields['name']!r} exists already")
            if fields.get("is_active"):
                await self._deactivate_others(session, actor, fields["provider"], configuration_id)
            await session.execute(orm.ai_configurations.insert().values(
                id=configuration_id, tenant_id=actor.tenant_id, api_key_encrypted=encrypted, created_at=_now(),
                updated_at=_now(), **fields))
            row = await self._one(session, orm.ai_configurations, configuration_id, "configuration")
            await self._emit_configuration_changed(session, actor, "CREATED", None, row)
            return _configuration(row)

    async def update_configuration(self, actor: CurrentUser, configuration_id: uuid.UUID,
                                   changes: dict[str, Any]) -> dict[str, Any]:
        async with tenant_transaction(self.sessions, actor.tenant_id) as session:
            row = await self._one(session, orm.ai_configurations, configuration_id, "AI configuration", lock=True)
            if "api_key" in changes:
                api_key = changes.pop("api_key")
                changes["api_key_encrypted"] = (self.box.encrypt(api_key.encode(),
                                                                 purpose=api_key_purpose(configuration_id))
                                                if api_key else None)
            merged = {**row._asdict(), **changes}
            self._check_configuration(merged, has_key=bool(merged["api_key_encrypted"]))
            if merged["is_active"]:
                await self._deactivate_others(session, actor, merged["provider"], configuration_id)
            await session.execute(update(orm.ai_configurations).where(orm.ai_configurations.c.id == configuration_id)
                                  .values(updated_at=_now(), **changes))
            changed = await self._one(session, orm.ai_configurations, configuration_id, "configuration")
            await self._emit_configuration_changed(session, actor, "UPDATED", row, changed)
            return _configuration(changed)

    async def _emit_configuration_changed(self, session: AsyncSession, actor: CurrentUser, change: str,
                                          before: Any, after: Any) -> None:
        """Announced without the key; an update that changed nothing is not announced."""
        key_changed = (before.api_key_encrypted if before is not None else None) != after.api_key_encrypted
        if before is None:
            fields = list(CONFIGURATION_FIELDS)
            previous: dict[str, Any] = {}
        else:
            fields = changes_of(before, after._asdict(), CONFIGURATION_FIELDS)
            previous = {name: as_json(getattr(before, name)) for name in fields}
            if not fields and not key_changed:
                return
        await self.outbox.emit(session, events.AIConfigurationChanged(
            configuration_id=after.id, change=change, name=after.name, provider=after.provider, model=after.model,
            is_active=after.is_active, has_api_key=after.api_key_encrypted is not None,
            api_key_changed=key_changed if before is not None else after.api_key_encrypted is not None,
            changed_fields=fields, before=previous, after={name: as_json(getattr(after, name)) for name in fields}),
            tenant_id=actor.tenant_id, actor_id=actor.id)

    async def _deactivate_others(self, session: AsyncSession, actor: CurrentUser, provider: str,
                                 keep: uuid.UUID) -> None:
        """One active configuration per provider, as the seed's lookup expects; each one switched off is
        announced too."""
        table = orm.ai_configurations
        switched_off = (await session.execute(
            update(table).where(table.c.provider == provider, table.c.id != keep, table.c.is_active)
            .values(is_active=False, updated_at=_now()).returning(*table.c))).all()
        for row in switched_off:
            await self.outbox.emit(session, events.AIConfigurationChanged(
                configuration_id=row.id, change="DEACTIVATED", name=row.name, provider=row.provider, model=row.model,
                is_active=False, has_api_key=row.api_key_encrypted is not None, api_key_changed=False,
                changed_fields=["is_active"], before={"is_active": True}, after={"is_active": False}),
                tenant_id=actor.tenant_id, actor_id=actor.id)

    async def list_configurations(self, actor: CurrentUser, limit: int, offset: int) -> dict[str, Any]:
        async with tenant_transaction(self.sessions, actor.tenant_id) as session:
            table = orm.ai_configurations
            total = (await session.execute(select(func.count()).select_from(table))).scalar_one()
            rows = (await session.execute(select(table).order_by(table.c.provider, table.c.name, table.c.id)
                                          .limit(limit).offset(offset))).all()
            return {"items": [_configuration(row) for row in rows], "total": total, "limit": limit, "offset": offset}

    async def test_configuration(self, actor: CurrentUser, configuration_id: uuid.UUID) -> dict[str, Any]:
        """One tiny, bounded request to the configured provider. A failed test is an answer, not an error.
        Logged in ai_usage_logs only when the provider billed tokens for it: a refused or unreachable request
        cost nothing, and the built-in generator never costs anything."""
        async with tenant_transaction(self.sessions, actor.tenant_id) as session:
            row = await self._one(session, orm.ai_configurations, configuration_id, "AI configuration")
        # The request happens outside any transaction: a slow provider must not hold a connection.
        if row.provider == "OFFLINE":
            check = check_offline()
        elif not row.api_key_encrypted:
            check = no_api_key()
        else:
            api_key = self.box.decrypt(row.api_key_encrypted, purpose=api_key_purpose(row.id)).decode()
            check = await check_openai(model=row.model, api_key=api_key, base_url=row.base_url,
                                       deadline=self.generation.settings.ai_test_timeout_seconds)
        billed = check.tokens_in + check.tokens_out > 0
        if billed:
            await self.generation.record_usage(
                tenant_id=actor.tenant_id, actor_id=actor.id, request_type=CONNECTION_TEST,
                configuration_id=row.id, job_id=None, provider=row.provider, model=row.model,
                prices=Prices(Decimal(row.input_price_per_1k), Decimal(row.output_price_per_1k)),
                tokens_in=check.tokens_in, tokens_out=check.tokens_out, response_time_ms=check.latency_ms or 0,
                error=check.detail)
        return _connection_test(row, check, usage_logged=billed)

    async def usage(self, actor: CurrentUser, months: int) -> dict[str, Any]:
        """The seed's "AI Usage Cost Tracking" for this organisation, and this month's budget."""
        async with tenant_transaction(self.sessions, actor.tenant_id) as session:
            rows = (await session.execute(text(USAGE_SQL), {"months": months})).mappings().all()
            spent = (await session.execute(select(func.coalesce(func.sum(orm.ai_usage_logs.c.cost), 0)).where(
                orm.ai_usage_logs.c.created_at >= func.date_trunc("month", func.now())))).scalar_one()
        budget = Decimal(str(await self.config("ai.monthlyBudgetUsd", actor.tenant_id)))
        return {"months": [dict(row) for row in rows],
                "this_month": {"budget_usd": budget, "spent_usd": spent, "remaining_usd": max(budget - spent, 0)}}

    # --- generation ----------------------------------------------------------------------------------

    async def request_generation(self, actor: CurrentUser, *, lesson_id: uuid.UUID, video_id: uuid.UUID | None,
                                 milestone_ids: list[uuid.UUID] | None, count: int, types: list[str] | None,
                                 configuration_id: uuid.UUID | None, provider: str | None) -> dict[str, Any]:
        try:
            chosen_types = validate_types(types)
        except ValueError as error:
            raise Invalid(str(error)) from error
        async with tenant_transaction(self.sessions, actor.tenant_id) as session:
            await self._authored_lesson(session, actor, lesson_id)
            query = select(orm.milestones).where(orm.milestones.c.lesson_id == lesson_id, ~orm.milestones.c.deleted)
            if video_id is not None:
                query = query.where(orm.milestones.c.video_id == video_id)
            if milestone_ids:
                query = query.where(orm.milestones.c.id.in_(milestone_ids))
            milestones = (await session.execute(query.order_by(orm.milestones.c.timestamp))).all()
            if milestone_ids and (unknown := set(milestone_ids) - {m.id for m in milestones}):
                raise Invalid(f"not milestones of this lesson: {sorted(str(u) for u in unknown)}")
            with_transcript = set((await session.execute(select(orm.transcripts.c.video_id).where(
                orm.transcripts.c.video_id.in_({m.video_id for m in milestones})))).scalars())
            ensure_milestones(milestones, with_transcript)
            configuration, chosen_provider, model = await self.generation.choose_configuration(
                session, actor.tenant_id, configuration_id=configuration_id, provider=provider)
            if configuration is not None:
                await self.generation.check_budget(session, actor.tenant_id, Prices(
                    Decimal(configuration.input_price_per_1k), Decimal(configuration.output_price_per_1k)))
            job_id = await self.generation.enqueue(
                session, tenant_id=actor.tenant_id, lesson_id=lesson_id, video_id=video_id,
                milestone_ids=[m.id for m in milestones], count=count, types=chosen_types, trigger="TEACHER",
                requested_by_id=actor.id, configuration=configuration, provider=chosen_provider, model=model)
            return _job(await self._one(session, orm.generation_jobs, job_id, "job"))

    async def get_job(self, actor: CurrentUser, job_id: uuid.UUID) -> dict[str, Any]:
        async with tenant_transaction(self.sessions, actor.tenant_id) as session:
            job = await self._one(session, orm.generation_jobs, job_id, "generation job")
            await self._authored_lesson(session, actor, job.lesson_id)
            return _job(job)

    async def list_jobs(self, actor: CurrentUser, lesson_id: uuid.UUID, limit: int, offset: int) -> dict[str, Any]:
        async with tenant_transaction(self.sessions, actor.tenant_id) as session:
            await self._authored_lesson(session, actor, lesson_id)
            where = orm.generation_jobs.c.lesson_id == lesson_id
            total = (await session.execute(select(func.count()).select_from(orm.generation_jobs).where(where))
                     ).scalar_one()
            rows = (await session.execute(select(orm.generation_jobs).where(where).order_by(
                orm.generation_jobs.c.created_at.desc()).limit(limit).offset(offset))).all()
            return {"items": [_job(row) for row in rows], "total": total, "limit": limit, "offset": offset}

    async def generation_queue(self, actor: CurrentUser) -> dict[str, Any]:
        """Depth and age of this organisation's queue (row-level security shows its rows only)."""
        async with tenant_transaction(self.sessions, actor.tenant_id) as session:
            rows = (await session.execute(text(QUEUE_SQL))).all()
        settings = self.generation.settings
        waiting = [row for row in rows if not row.running]
        oldest = min(waiting, key=lambda row: (row.created_at, str(row.job_id)), default=None)
        providers = sorted({row.provider for row in rows})
        return {"waiting": len(waiting), "running": len(rows) - len(waiting),
                "oldest_waiting_job_id": oldest.job_id if oldest else None,
                "oldest_waiting_since": oldest.created_at if oldest else None,
                "oldest_waiting_seconds": round(max(0.0, (_now() - oldest.created_at).total_seconds()), 3)
                if oldest else None,
                "by_provider": [{"provider": p, "waiting": sum(1 for r in waiting if r.provider == p),
                                 "running": sum(1 for r in rows if r.provider == p and r.running)}
                                for p in providers],
                "limits": {"per_tenant": settings.generation_per_tenant,
                           "per_provider": settings.generation_per_provider,
                           "in_all": settings.generation_concurrency,
                           "lease_seconds": settings.generation_lease_seconds}}

    # --- authoring and review ------------------------------------------------------------------------

    async def create_question(self, actor: CurrentUser, fields: dict[str, Any], *, approve: bool) -> dict[str, Any]:
        question_id = uuid.uuid4()
        async with tenant_transaction(self.sessions, actor.tenant_id) as session:
            await self._authored_lesson(session, actor, fields["lesson_id"])
            milestone = await self._milestone_of(session, fields["lesson_id"], fields.get("milestone_id"))
            content = with_minted_ids(fields.pop("content"))
            await session.execute(orm.questions.insert().values(
                id=question_id, tenant_id=actor.tenant_id, video_id=milestone.video_id if milestone else None,
                type=content.type, content=content.model_dump(mode="json"), status="DRAFT", source="MANUAL",
                created_by_id=actor.id, created_at=_now(), updated_at=_now(), **fields))
            if approve:
                await self._approve(session, actor, await self._one(session, orm.questions, question_id, "question"))
            return _teacher_view(await self._one(session, orm.questions, question_id, "question"))

    async def review_queue(self, actor: CurrentUser, *, lesson_id: uuid.UUID | None, status: str | None,
                           video_id: uuid.UUID | None, milestone_id: uuid.UUID | None, limit: int,
                           offset: int) -> dict[str, Any]:
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
        async with tenant_transaction(self.sessions, actor.tenant_id) as session:
            if lesson_id is not None:
                await self._authored_lesson(session, actor, lesson_id)
            elif not actor.at_least(Role.ADMIN):
                conditions.append(q.c.lesson_id.in_(select(orm.lessons.c.id).where(
                    orm.lessons.c.created_by_id == actor.id)))
            base = select(q).outerjoin(orm.milestones, orm.milestones.c.id == q.c.milestone_id).where(and_(*conditions))
            total = (await session.execute(select(func.count()).select_from(base.subquery()))).scalar_one()
            rows = (await session.execute(base.order_by(q.c.lesson_id, orm.milestones.c.timestamp.nulls_last(),
                                                        q.c.created_at, q.c.id).limit(limit).offset(offset))).all()
            return {"items": [_teacher_view(row) for row in rows], "total": total, "limit": limit, "offset": offset}

    async def get_question(self, actor: CurrentUser, question_id: uuid.UUID) -> dict[str, Any]:
        if not actor.at_least(Role.TEACHER):
            async with tenant_transaction(self.sessions, actor.tenant_id) as session:
                question = await self._answerable(session, question_id)
                state = await self._student_state(session, actor.id, [question])
                policy = await self._policy(session, actor.tenant_id, question)
                return _student_question(question, state.get(question.id), actor.id, policy)
        async with tenant_transaction(self.sessions, actor.tenant_id) as session:
            question = await self._one(session, orm.questions, question_id, "question")
            await self._authored_lesson(session, actor, question.lesson_id)
            return _teacher_view(question)

    async def edit_question(self, actor: CurrentUser, question_id: uuid.UUID, changes: dict[str, Any], *,
                            approve: bool = False) -> dict[str, Any]:
        async with tenant_transaction(self.sessions, actor.tenant_id) as session:
            question = await self._managed_question(session, actor, question_id)
            if question.status == "ARCHIVED":
                raise Conflict("this question is archived")
            values = dict(changes)
            if "content" in values:
                content = with_minted_ids(values.pop("content"), keep=shown_ids(question.content))
                values.update(type=content.type, content=content.model_dump(mode="json"))
            if "milestone_id" in values:
                milestone = await self._milestone_of(session, question.lesson_id, values["milestone_id"])
                values["video_id"] = milestone.video_id if milestone else None
            changed = changes_of(question, values, QUESTION_EDITABLE)
            if changed:
                await session.execute(update(orm.questions).where(orm.questions.c.id == question_id).values(
                    updated_at=_now(), **{name: values[name] for name in changed}))
            before = question
            question = await self._one(session, orm.questions, question_id, "question")
            if changed:
                await self.outbox.emit(session, events.QuestionEdited(
                    question_id=question_id, lesson_id=question.lesson_id, milestone_id=question.milestone_id,
                    status=question.status, changed_fields=changed,
                    before={name: as_json(getattr(before, name)) for name in changed},
                    after={name: as_json(getattr(question, name)) for name in changed}),
                    tenant_id=actor.tenant_id, actor_id=actor.id)
            if approve:
                if question.status not in APPROVABLE:
                    raise Conflict(f"a question that is {question.status} cannot be approved")
                await self._approve(session, actor, question)
            elif question.status == "APPROVED" and changed:
                # Students see approved questions: an edit is re-announced so projections stay right.
                await self._emit_approved(session, actor, question)
            return _teacher_view(await self._one(session, orm.questions, question_id, "question"))

    async def _approve(self, session: AsyncSession, actor: CurrentUser, question: Any) -> None:
        _content(question.content)  # stored content is validated again before students can see it
        await session.execute(update(orm.questions).where(orm.questions.c.id == question.id).values(
            status="APPROVED", rejection_reason=None, reviewed_by_id=actor.id, reviewed_at=_now(), updated_at=_now()))
        await self._emit_approved(session, actor, question)

    async def _emit_approved(self, session: AsyncSession, actor: CurrentUser, question: Any) -> None:
        await self.outbox.emit(session, events.QuestionApproved(
            question_id=question.id, milestone_id=question.milestone_id, lesson_id=question.lesson_id,
            type=question.type, points=question.points), tenant_id=actor.tenant_id, actor_id=actor.id)

    async def bulk_approve(self, actor: CurrentUser, question_ids: list[uuid.UUID]) -> dict[str, Any]:
        approved, skipped = [], []
        async with tenant_transaction(self.sessions, actor.tenant_id) as session:
            for question_id in dict.fromkeys(question_ids):
                question = (await session.execute(select(orm.questions).where(
                    orm.questions.c.id == question_id).with_for_update())).first()
                if question is None:
                    skipped.append({"id": question_id, "reason": "not found", "status": None})
                    continue
                try:
                    await self._authored_lesson(session, actor, question.lesson_id)
                except (NotFound, Forbidden) as error:
                    skipped.append({"id": question_id, "reason": error.detail, "status": None})
                    continue
                if question.status == "REJECTED":
                    skipped.append({"id": question_id, "status": question.status,
                                    "reason": "it was rejected; approve it on its own to undo the rejection"})
                    continue
                if question.status not in BULK_APPROVABLE:
                    skipped.append({"id": question_id, "reason": f"it is {question.status}",
                                    "status": question.status})
                    continue
                await self._approve(session, actor, question)
                approved.append(question_id)
        return {"approved": approved, "skipped": skipped}

    async def reject(self, actor: CurrentUser, question_id: uuid.UUID, reason: str | None) -> dict[str, Any]:
        async with tenant_transaction(self.sessions, actor.tenant_id) as session:
            question = await self._managed_question(session, actor, question_id)
            if question.status in ("REJECTED", "ARCHIVED"):
                raise Conflict(f"this question is {question.status} already")
            await session.execute(update(orm.questions).where(orm.questions.c.id == question_id).values(
                status="REJECTED", rejection_reason=reason, reviewed_by_id=actor.id, reviewed_at=_now(),
                updated_at=_now()))
            await self.outbox.emit(session, events.QuestionRejected(
                question_id=question_id, milestone_id=question.milestone_id, lesson_id=question.lesson_id,
                reason=reason), tenant_id=actor.tenant_id, actor_id=actor.id)
            return _teacher_view(await self._one(session, orm.questions, question_id, "question"))

    async def set_milestone_policy(self, actor: CurrentUser, milestone_id: uuid.UUID,
                                   policy: dict[str, Any]) -> dict[str, Any]:
        async with tenant_transaction(self.sessions, actor.tenant_id) as session:
            milestone = await self._one(session, orm.milestones, milestone_id, "milestone")
            await self._authored_lesson(session, actor, milestone.lesson_id)
            values = {"max_attempts": None, "retry_penalty": None, "partial_credit": None, **policy}
            current = (await session.execute(select(orm.milestone_policies).where(
                orm.milestone_policies.c.milestone_id == milestone_id).with_for_update())).first()
            previous = current._asdict() if current is not None else dict.fromkeys(values)
            changed = changes_of(previous, values, tuple(values))
            if changed:
                await session.execute(insert(orm.milestone_policies).values(
                    milestone_id=milestone_id, tenant_id=actor.tenant_id, updated_at=_now(), **values)
                    .on_conflict_do_update(index_elements=[orm.milestone_policies.c.milestone_id],
                                           set_={**values, "updated_at": _now()}))
                await self.outbox.emit(session, events.MilestonePolicyChanged(
                    milestone_id=milestone_id, lesson_id=milestone.lesson_id, changed_fields=changed,
                    before={name: as_json(previous[name]) for name in changed}, **values),
                    tenant_id=actor.tenant_id, actor_id=actor.id)
            return {"milestone_id": milestone_id, **values}

    # --- students --------------------------------------------------------------------------------------

    async def _answerable(self, session: AsyncSession, question_id: uuid.UUID, *, lock: bool = False) -> Any:
        """An approved question of a published lesson of this tenant, on a live milestone; else 404."""
        q, lessons, milestones = orm.questions, orm.lessons, orm.milestones
        query = (select(q).join(lessons, and_(lessons.c.id == q.c.lesson_id, lessons.c.status == "PUBLISHED"))
                 .outerjoin(milestones, milestones.c.id == q.c.milestone_id)
                 .where(q.c.id == question_id, q.c.status == "APPROVED",
                        or_(q.c.milestone_id.is_(None), ~milestones.c.deleted)))
        question = (await session.execute(query.with_for_update(of=q) if lock else query)).first()
        if question is None:
            raise NotFound(f"no question {question_id}")
        return question

    @staticmethod
    async def _milestone_policy(session: AsyncSession, milestone_id: uuid.UUID | None) -> Any:
        if milestone_id is None:
            return None
        return (await session.execute(select(orm.milestone_policies).where(
            orm.milestone_policies.c.milestone_id == milestone_id))).first()

    async def _policy(self, session: AsyncSession, tenant_id: uuid.UUID, question: Any, *,
                      milestone_policy: Any = ...) -> Policy:
        """Question → milestone → organisation default (pass ``milestone_policy`` when it is loaded already)."""
        if milestone_policy is ...:
            milestone_policy = await self._milestone_policy(session, question.milestone_id)

        def pick(name: str) -> Any:
            own = getattr(question, name)
            if own is not None:
                return own
            return getattr(milestone_policy, name) if milestone_policy is not None else None

        max_attempts = pick("max_attempts") or int(await self.config("grading.defaultMaxAttempts", tenant_id))
        penalty = pick("retry_penalty")
        partial = pick("partial_credit")
        return Policy(points=Decimal(question.points), max_attempts=max_attempts,
                      penalty_per_attempt=Decimal(penalty) if penalty is not None else Decimal(0),
                      partial_credit=True if partial is None else partial)

    async def _student_state(self, session: AsyncSession, student_id: uuid.UUID,
                             questions: list[Any]) -> dict[uuid.UUID, dict[str, Any]]:
        a = orm.question_attempts
        rows = (await session.execute(select(
            a.c.question_id, func.count().label("used"), func.max(a.c.score).label("best"),
            func.bool_or(a.c.is_correct).label("correct"), func.min(a.c.attempts_left).label("left"))
            .where(a.c.student_id == student_id, a.c.question_id.in_([q.id for q in questions]))
            .group_by(a.c.question_id))).all()
        return {row.question_id: {"used": row.used, "best": row.best, "correct": row.correct, "left": row.left}
                for row in rows}

    async def milestone_questions(self, actor: CurrentUser, milestone_id: uuid.UUID) -> dict[str, Any]:
        """What a student answers at a milestone: approved questions without their keys."""
        async with tenant_transaction(self.sessions, actor.tenant_id) as session:
            q, lessons = orm.questions, orm.lessons
            milestone = (await session.execute(select(orm.milestones).join(lessons, and_(
                lessons.c.id == orm.milestones.c.lesson_id, lessons.c.status == "PUBLISHED")).where(
                orm.milestones.c.id == milestone_id, ~orm.milestones.c.deleted))).first()
            if milestone is None:
                raise NotFound(f"no milestone {milestone_id}")
            questions = (await session.execute(select(q).where(q.c.milestone_id == milestone_id,
                                                               q.c.status == "APPROVED")
                                               .order_by(q.c.created_at, q.c.id))).all()
            state = await self._student_state(session, actor.id, questions)
            milestone_policy = await self._milestone_policy(session, milestone_id)  # shared by all its questions
            items = []
            for question in questions:
                policy = await self._policy(session, actor.tenant_id, question, milestone_policy=milestone_policy)
                items.append(_student_question(question, state.get(question.id), actor.id, policy))
            return {"milestone_id": milestone_id, "title": milestone.title, "is_required": milestone.is_required,
                    "questions": items}

    async def attempts(self, actor: CurrentUser, *, milestone_id: uuid.UUID | None, lesson_id: uuid.UUID | None,
                       student_id: uuid.UUID | None, limit: int, offset: int) -> dict[str, Any]:
        """A student's latest answer per approved question of a milestone or lesson, for them to see again
        (on another device) or for the lesson's author: nobody else's, whatever ``student_id`` says."""
        if milestone_id is None and lesson_id is None:
            raise Invalid("name a milestone_id or a lesson_id")
        student_id = student_id or actor.id
        async with tenant_transaction(self.sessions, actor.tenant_id) as session:
            if student_id != actor.id:
                if not actor.at_least(Role.TEACHER):
                    raise NotFound(f"no attempts of student {student_id}")
                for lesson in await self._lessons_in_scope(session, milestone_id, lesson_id):
                    await self._authored_lesson(session, actor, lesson)
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
                             func.bool_or(a.c.overridden_at.is_not(None)).over(**per_question)
                             .label("score_overridden"))
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
                question = questions[row.question_id]
                if question.milestone_id not in milestone_policies:
                    milestone_policies[question.milestone_id] = await self._milestone_policy(
                        session, question.milestone_id)
                policy = await self._policy(session, actor.tenant_id, question,
                                            milestone_policy=milestone_policies[question.milestone_id])
                items.append(_question_attempts(row, question, policy))
            return {"items": items, "total": total, "limit": limit, "offset": offset}

    @staticmethod
    async def _lessons_in_scope(session: AsyncSession, milestone_id: uuid.UUID | None,
                                lesson_id: uuid.UUID | None) -> set[uuid.UUID]:
        lessons = {lesson_id} if lesson_id is not None else set()
        if milestone_id is not None:
            milestone = (await session.execute(select(orm.milestones.c.lesson_id).where(
                orm.milestones.c.id == milestone_id))).first()
            if milestone is None:
                raise NotFound(f"no milestone {milestone_id}")
            lessons.add(milestone.lesson_id)
        return lessons

    async def submit_attempt(self, actor: CurrentUser, question_id: uuid.UUID, *, answer: dict[str, Any],
                             idempotency_key: str | None, time_taken_ms: int | None) -> dict[str, Any]:
        request_hash = hashlib.sha256(json.dumps({"question": str(question_id), "answer": answer},
                                                 sort_keys=True).encode()).hexdigest()
        async with tenant_transaction(self.sessions, actor.tenant_id) as session:
            # One student's attempts at one question are numbered one at a time.
            await session.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"),
                                  {"k": f"attempt:{actor.id}:{question_id}"})
            a = orm.question_attempts
            if idempotency_key is not None:
                previous = (await session.execute(select(a).where(
                    a.c.student_id == actor.id, a.c.idempotency_key == idempotency_key))).first()
                if previous is not None:
                    if previous.request_hash != request_hash:
                        raise Invalid("this Idempotency-Key was already used for a different answer; use a new key "
                                      "for a new attempt")
                    question = await self._one(session, orm.questions, previous.question_id, "question")
                    policy = await self._policy(session, actor.tenant_id, question)
                    return _attempt_result(previous, question, policy, replayed=True)
            question = await self._answerable(session, question_id)
            try:
                content = _content(question.content)
                parsed = ANSWER.validate_python({"type": content.type, **answer})
            except ValidationError as error:
                raise Invalid(f"this answer does not fit a {question.type} question: {_problem(error)}") from error
            policy = await self._policy(session, actor.tenant_id, question)
            history = (await session.execute(select(a.c.is_correct).where(
                a.c.student_id == actor.id, a.c.question_id == question_id))).scalars().all()
            if any(history):
                raise Conflict("you already answered this question correctly", attempts_used=len(history))
            try:
                result = grade(content, parsed, attempt_number=len(history) + 1, policy=policy)
            except AttemptLimitReached as error:
                raise Conflict(f"all {error.limit} attempts at this question are used", attempts_used=error.used,
                               max_attempts=error.limit) from error
            except AnswerMismatch as error:
                raise Invalid(f"this answer does not fit the question: {error}") from error
            attempt_id = uuid.uuid4()
            answered_at = _now()
            await session.execute(a.insert().values(
                id=attempt_id, tenant_id=actor.tenant_id, question_id=question_id, student_id=actor.id,
                milestone_id=question.milestone_id, video_id=question.video_id, lesson_id=question.lesson_id,
                attempt_number=result.attempt_number, answer=parsed.model_dump(mode="json"), score=result.score,
                max_score=result.max_score, is_correct=result.is_correct, attempts_left=result.attempts_left,
                time_taken_ms=time_taken_ms, idempotency_key=idempotency_key, request_hash=request_hash,
                created_at=answered_at))
            graded = await self._update_grades(session, actor.tenant_id, actor.id, question, reason="ANSWERED")
            await self.outbox.emit(session, events.AttemptGraded(
                attempt_id=attempt_id, student_id=actor.id, question_id=question_id,
                milestone_id=question.milestone_id, video_id=question.video_id, lesson_id=question.lesson_id,
                attempt_number=result.attempt_number, max_attempts=policy.max_attempts, is_correct=result.is_correct,
                score=result.score, max_score=result.max_score, milestone_answered=result.settled,
                attempts_left=result.attempts_left, time_taken_ms=time_taken_ms,
                selected_options=selected_options(parsed), answered_at=answered_at),
                tenant_id=actor.tenant_id, actor_id=actor.id)
            for event in graded:
                await self.outbox.emit(session, event, tenant_id=actor.tenant_id, actor_id=actor.id)
            stored = (await session.execute(select(a).where(a.c.id == attempt_id))).first()
            return _attempt_result(stored, question, policy, replayed=False)

    async def override_score(self, actor: CurrentUser, attempt_id: uuid.UUID, *, score: Decimal,
                             reason: str) -> dict[str, Any]:
        """The lesson's author (or an admin) sets the score of a typed answer; the grades follow."""
        a = orm.question_attempts
        async with tenant_transaction(self.sessions, actor.tenant_id) as session:
            found = (await session.execute(select(a.c.student_id, a.c.question_id).where(a.c.id == attempt_id))).first()
            if found is None or not actor.at_least(Role.TEACHER):
                raise NotFound(f"no attempt {attempt_id}")
            # The same lock as a new attempt of this student at this question: the best score is computed once.
            await session.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"),
                                  {"k": f"attempt:{found.student_id}:{found.question_id}"})
            attempt = await self._one(session, a, attempt_id, "attempt", lock=True)
            question = await self._one(session, orm.questions, attempt.question_id, "question")
            await self._authored_lesson(session, actor, question.lesson_id)
            if question.type not in OVERRIDABLE:
                raise Conflict(f"a {question.type} answer is graded by its key; only typed answers "
                               f"({', '.join(OVERRIDABLE)}) can be overridden", type=question.type)
            if score > attempt.max_score:
                raise Invalid(f"the score must be between 0 and the question's {attempt.max_score} points",
                              max_score=float(attempt.max_score))
            overridden_at = _now()
            graded = attempt.graded_score if attempt.graded_score is not None else attempt.score
            await session.execute(update(a).where(a.c.id == attempt_id).values(
                score=score, graded_score=graded, override_reason=reason, overridden_by_id=actor.id,
                overridden_at=overridden_at))
            regraded = await self._update_grades(session, actor.tenant_id, attempt.student_id, question,
                                                 reason="OVERRIDDEN")
            best = (await session.execute(select(func.max(a.c.score)).where(
                a.c.student_id == attempt.student_id, a.c.question_id == attempt.question_id))).scalar_one()
            stored = await self._one(session, a, attempt_id, "attempt")
            await self.outbox.emit(session, events.AttemptScoreOverridden(
                attempt_id=attempt_id, student_id=attempt.student_id, question_id=attempt.question_id,
                milestone_id=attempt.milestone_id, video_id=attempt.video_id, lesson_id=attempt.lesson_id,
                attempt_number=attempt.attempt_number, score=stored.score, previous_score=attempt.score,
                graded_score=graded, max_score=attempt.max_score, best_score=best, reason=reason,
                overridden_at=overridden_at), tenant_id=actor.tenant_id, actor_id=actor.id)
            for event in regraded:
                await self.outbox.emit(session, event, tenant_id=actor.tenant_id, actor_id=actor.id)
            return {"attempt_id": attempt_id, "question_id": attempt.question_id, "student_id": attempt.student_id,
                    "lesson_id": attempt.lesson_id, "type": question.type, "attempt_number": attempt.attempt_number,
                    "score": stored.score, "previous_score": attempt.score, "graded_score": graded,
                    "max_score": attempt.max_score, "best_score": best, "is_correct": attempt.is_correct,
                    "reason": reason, "overridden_by_id": actor.id, "overridden_at": overridden_at}

    async def _update_grades(self, session: AsyncSession, tenant_id: uuid.UUID, student_id: uuid.UUID,
                             question: Any, *, reason: str) -> list[Any]:
        """The student's milestone, video and lesson grades, by the lesson score's one definition
        (``domain.grading.lesson_score``); the LessonGraded to emit (after the caller's own event) if the lesson
        grade changed."""
        threshold = Decimal(str(await self.config("grading.passingThreshold", tenant_id)))
        rows = (await session.execute(text(LESSON_QUESTIONS_SQL), {"lesson_id": question.lesson_id,
                                                                   "student_id": student_id})).all()
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
                      "questions_total": result.total, "updated_at": _now()}
            g = orm.grades
            before = (await session.execute(select(g).where(g.c.student_id == student_id, g.c.scope == scope,
                                                            g.c.scope_id == scope_id))).first()
            await session.execute(insert(g).values(
                id=uuid.uuid4(), tenant_id=tenant_id, student_id=student_id, scope=scope, scope_id=scope_id,
                lesson_id=question.lesson_id, **values).on_conflict_do_update(
                index_elements=[g.c.student_id, g.c.scope, g.c.scope_id], set_=values))
            if scope == "LESSON" and (before is None or changes_of(before, values, (
                    "score", "max_score", "percent", "passed", "questions_answered", "questions_total"))):
                announce.append(_lesson_graded(student_id, question.lesson_id, values, threshold, reason))
        return announce

    async def passing_threshold_changed(self, session: AsyncSession, envelope: Any) -> None:
        """grading.passingThreshold changed (identity.system-configs): every stored grade it applies to has its
        ``passed`` judged again (the scores stay), and each lesson grade that flips is announced, so progress and
        the dashboards follow. An organisation's own value changes its grades; a platform-wide one those of
        every organisation without its own."""
        change = envelope.data
        key = "grading.passingThreshold"
        if change.key != key:
            return
        if change.scope_tenant_id is not None:
            if change.is_default or change.value is None:  # the override removed: the platform's value, or the default
                threshold = Decimal(str(await self.config(key, None)))
            else:
                threshold = Decimal(str(CONFIG_KEYS[key].validate(change.value)))
            await self._judge_again(session, change.scope_tenant_id, threshold, envelope.actor_id)
            return
        # Platform-wide: each organisation's threshold as the config view resolves it, once the view has this
        # change (it follows the same topic on its own; until then the event is retried).
        expected = CONFIG_KEYS[key].default if change.is_default or change.value is None else \
            CONFIG_KEYS[key].validate(change.value)
        if await self.config(key, None) != expected:
            raise RuntimeError("the config view has not caught up with this platform-wide change yet")
        for tenant_id in (await session.execute(text("SELECT graded_tenants()"))).scalars().all():
            await set_tenant(session, tenant_id)
            await self._judge_again(session, tenant_id, Decimal(str(await self.config(key, tenant_id))),
                                    envelope.actor_id)

    async def _judge_again(self, session: AsyncSession, tenant_id: uuid.UUID, threshold: Decimal,
                           actor_id: uuid.UUID | None) -> None:
        g = orm.grades
        now = _now()
        flipped = (await session.execute(update(g).where(g.c.passed != (g.c.percent >= threshold)).values(
            passed=g.c.percent >= threshold, updated_at=now).returning(*g.c))).all()
        for row in sorted(flipped, key=lambda r: (str(r.student_id), str(r.scope_id))):
            if row.scope == "LESSON":
                values = {name: getattr(row, name) for name in (
                    "score", "max_score", "percent", "passed", "questions_answered", "questions_total")}
                await self.outbox.emit(session, _lesson_graded(row.student_id, row.lesson_id, {
                    **values, "updated_at": now}, threshold, "THRESHOLD_CHANGED"), tenant_id=tenant_id,
                    actor_id=actor_id)
        log.info("passing threshold changed: grades judged again", extra={
            "tenant_id": str(tenant_id), "threshold": str(threshold), "flipped": len(flipped)})

    async def grades(self, actor: CurrentUser, *, lesson_id: uuid.UUID, student_id: uuid.UUID | None,
                     limit: int, offset: int) -> dict[str, Any]:
        async with tenant_transaction(self.sessions, actor.tenant_id) as session:
            g = orm.grades
            conditions = [g.c.lesson_id == lesson_id]
            if actor.at_least(Role.TEACHER):
                await self._authored_lesson(session, actor, lesson_id)
                if student_id is not None:
                    conditions.append(g.c.student_id == student_id)
            else:
                if student_id not in (None, actor.id):
                    raise NotFound(f"no grades of student {student_id}")
                conditions.append(g.c.student_id == actor.id)
            total = (await session.execute(select(func.count()).select_from(g).where(*conditions))).scalar_one()
            rows = (await session.execute(select(g).where(*conditions).order_by(
                g.c.student_id, g.c.scope.desc(), g.c.scope_id).limit(limit).offset(offset))).all()
            return {"items": [_grade(row) for row in rows], "total": total, "limit": limit, "offset": offset}


# Running: a runner holds the lease and it has not lapsed (a lapsed one is waiting to be taken over).
QUEUE_SQL = """
SELECT q.job_id, j.provider, j.created_at, (q.leased_at IS NOT NULL AND q.available_at > now()) AS running
FROM generation_queue q JOIN generation_jobs j ON j.id = q.job_id
"""

USAGE_SQL = """
SELECT
    DATE_TRUNC('month', created_at) as month,
    request_type,
    COUNT(*) as total_requests,
    SUM(tokens_used) as total_tokens,
    SUM(cost) as total_cost,
    AVG(response_time) as avg_response_time
FROM ai_usage_logs
WHERE created_at >= CURRENT_DATE - make_interval(months => :months)
GROUP BY month, request_type
ORDER BY month DESC, total_cost DESC
"""


QUESTION_EDITABLE = ("prompt", "explanation", "points", "difficulty", "type", "content", "milestone_id", "video_id",
                     "max_attempts", "retry_penalty", "partial_credit")
CONFIGURATION_FIELDS = ("name", "provider", "model", "base_url", "temperature", "max_tokens", "prompt_template",
                        "input_price_per_1k", "output_price_per_1k", "is_active")


def as_json(value: Any) -> Any:
    """A column's value as an event carries it: decimals as strings (no float rounding), ids as strings."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def _same(old: Any, new: Any) -> bool:
    if isinstance(old, Decimal | int | float) and isinstance(new, Decimal | int | float) \
            and not isinstance(old, bool) and not isinstance(new, bool):
        return Decimal(str(old)) == Decimal(str(new))
    return old == new


def changes_of(current: Any, values: dict[str, Any], names: tuple[str, ...]) -> list[str]:
    """Which of ``names`` ``values`` sets to something other than ``current`` holds (a row or a dict), sorted."""
    read = current.get if isinstance(current, dict) else lambda name: getattr(current, name)
    return sorted(name for name in names if name in values and not _same(read(name), values[name]))


def _problem(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first.get("loc", ()))
    return f"{where}: {first.get('msg')}" if where else str(first.get("msg"))


def _configuration(row: Any) -> dict[str, Any]:
    return {"id": row.id, "name": row.name, "provider": row.provider, "model": row.model, "base_url": row.base_url,
            "temperature": row.temperature, "max_tokens": row.max_tokens, "prompt_template": row.prompt_template,
            "input_price_per_1k": row.input_price_per_1k, "output_price_per_1k": row.output_price_per_1k,
            "has_api_key": row.api_key_encrypted is not None, "is_active": row.is_active,
            "created_at": row.created_at, "updated_at": row.updated_at}


def _job(row: Any) -> dict[str, Any]:
    return {"id": row.id, "lesson_id": row.lesson_id, "video_id": row.video_id, "milestone_ids": row.milestone_ids,
            "count_per_milestone": row.count_per_milestone, "types": row.types, "provider": row.provider,
            "model": row.model, "configuration_id": row.configuration_id, "trigger": row.trigger,
            "status": row.status, "error": row.error, "question_count": row.question_count, "runs": row.runs,
            "created_at": row.created_at, "started_at": row.started_at, "finished_at": row.finished_at}


def _teacher_view(row: Any) -> dict[str, Any]:
    return {"view": "AUTHOR", "id": row.id, "lesson_id": row.lesson_id, "video_id": row.video_id,
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
            "reviewed_at": row.reviewed_at, "created_at": row.created_at, "updated_at": row.updated_at}


def _revealed(question: Any, content: Any, *, is_settled: bool) -> dict[str, Any]:
    """The explanation and the key, for a student only once the question is settled for them."""
    return {"explanation": question.explanation, "correct_answer": answer_key(content)} if is_settled else {}


def _student_question(row: Any, state: dict[str, Any] | None, student_id: uuid.UUID,
                      policy: Policy) -> dict[str, Any]:
    content = _content(row.content)
    item: dict[str, Any] = {"view": "STUDENT", "id": row.id, "milestone_id": row.milestone_id, "type": row.type,
                            "prompt": row.prompt, "points": row.points, "difficulty": row.difficulty,
                            "content": student_view(content, seed=f"{row.id}:{student_id}"),
                            "attempts_used": 0, "attempts_left": policy.max_attempts,
                            "max_attempts": policy.max_attempts, "retry_penalty": policy.penalty_per_attempt,
                            "settled": False, "best_score": None}
    if state:
        is_settled = settled(is_correct=bool(state["correct"]), attempts_left=state["left"])
        item.update(attempts_used=state["used"], attempts_left=state["left"], best_score=state["best"],
                    settled=is_settled, **_revealed(row, content, is_settled=is_settled))
    return item


def _attempt_result(row: Any, question: Any, policy: Policy, *, replayed: bool) -> dict[str, Any]:
    is_settled = settled(is_correct=row.is_correct, attempts_left=row.attempts_left)
    return {"attempt_id": row.id, "question_id": row.question_id, "type": question.type,
            "attempt_number": row.attempt_number, "attempts_left": row.attempts_left,
            "max_attempts": policy.max_attempts, "retry_penalty": policy.penalty_per_attempt, "score": row.score,
            "max_score": row.max_score, "is_correct": row.is_correct, "settled": is_settled, "replayed": replayed,
            "answered_at": row.created_at, **_revealed(question, _content(question.content), is_settled=is_settled)}


def _question_attempts(row: Any, question: Any, policy: Policy) -> dict[str, Any]:
    """One question's attempts by one student: ``row`` is the latest, with the counts over all of them."""
    is_settled = settled(is_correct=row.ever_correct, attempts_left=row.attempts_left)
    return {"question_id": row.question_id, "student_id": row.student_id, "lesson_id": question.lesson_id,
            "video_id": question.video_id, "milestone_id": question.milestone_id, "type": question.type,
            "attempt_id": row.id, "attempt_number": row.attempt_number, "answer": row.answer, "score": row.score,
            "best_score": row.best_score, "max_score": row.max_score, "is_correct": row.is_correct,
            "attempts_used": row.attempts_used, "attempts_left": row.attempts_left,
            "max_attempts": policy.max_attempts, "retry_penalty": policy.penalty_per_attempt, "settled": is_settled,
            "answered_at": row.created_at, "score_overridden": row.score_overridden,
            "override": {"graded_score": row.graded_score, "reason": row.override_reason,
                         "overridden_at": row.overridden_at} if row.overridden_at is not None else None,
            **_revealed(question, _content(question.content), is_settled=is_settled)}


def _connection_test(row: Any, check: ConnectionCheck, *, usage_logged: bool) -> dict[str, Any]:
    return {"configuration_id": row.id, "provider": row.provider, "model": row.model, "ok": check.ok,
            "latency_ms": check.latency_ms, "problem": check.problem, "detail": check.detail,
            "tokens_used": check.tokens_in + check.tokens_out, "usage_logged": usage_logged}


def _lesson_graded(student_id: uuid.UUID, lesson_id: uuid.UUID, values: dict[str, Any], threshold: Decimal,
                   reason: str) -> Any:
    return events.LessonGraded(
        student_id=student_id, lesson_id=lesson_id, score=values["score"], max_score=values["max_score"],
        percent=values["percent"], passed=values["passed"], passing_threshold=threshold,
        questions_answered=values["questions_answered"], questions_counted=values["questions_total"], reason=reason,
        graded_at=values["updated_at"])


def _grade(row: Any) -> dict[str, Any]:
    return {"student_id": row.student_id, "scope": row.scope, "scope_id": row.scope_id, "lesson_id": row.lesson_id,
            "score": row.score, "max_score": row.max_score, "percent": row.percent, "passed": row.passed,
            "questions_answered": row.questions_answered, "questions_total": row.questions_total,
            "updated_at": row.updated_at}

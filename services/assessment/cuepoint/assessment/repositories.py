"""The SQL that loads and saves what assessment's use cases work on, on the unit of work's session
(a tenant transaction: row-level security shows this tenant's rows only). Rows come back as
SQLAlchemy rows (attribute access); the fakes in tests/unit/fakes.py answer the same methods."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, func, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from cuepoint.runtime.clock import utc_now
from cuepoint.runtime.db import one_or_404, set_tenant
from cuepoint.runtime.errors import NotFound

from . import orm

# A row of one of the tables (orm.py), read by attribute.
Row = Any

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

GRADE_FIELDS = ("score", "max_score", "percent", "passed", "questions_answered", "questions_total")



async def _advisory_lock(session: AsyncSession, key: str) -> None:
    await session.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"), {"k": key})


class Lessons:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, lesson_id: uuid.UUID) -> Row | None:
        return (await self.session.execute(select(orm.lessons).where(orm.lessons.c.id == lesson_id))).first()


class Milestones:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, milestone_id: uuid.UUID) -> Row:
        return await one_or_404(self.session, orm.milestones, milestone_id, "milestone")

    async def live(self, milestone_id: uuid.UUID) -> Row | None:
        """The milestone unless it is deleted."""
        return (await self.session.execute(select(orm.milestones).where(
            orm.milestones.c.id == milestone_id, ~orm.milestones.c.deleted))).first()

    async def of_lesson(self, lesson_id: uuid.UUID, *, video_id: uuid.UUID | None,
                        milestone_ids: list[uuid.UUID] | None) -> list[Row]:
        """The lesson's live milestones (of one video, or these ones), in playback order."""
        m = orm.milestones
        query = select(m).where(m.c.lesson_id == lesson_id, ~m.c.deleted)
        if video_id is not None:
            query = query.where(m.c.video_id == video_id)
        if milestone_ids:
            query = query.where(m.c.id.in_(milestone_ids))
        return list((await self.session.execute(query.order_by(m.c.timestamp))).all())

    async def live_among(self, milestone_ids: list[uuid.UUID]) -> list[Row]:
        """These milestones but the deleted ones, by video and playback order."""
        m = orm.milestones
        return list((await self.session.execute(select(m).where(m.c.id.in_(milestone_ids), ~m.c.deleted)
                                                .order_by(m.c.video_id, m.c.timestamp))).all())

    async def timestamps(self, video_ids: set[uuid.UUID]) -> list[tuple[uuid.UUID, float]]:
        """(video_id, timestamp) of every live milestone of these videos."""
        m = orm.milestones
        return [(row.video_id, row.timestamp) for row in (await self.session.execute(
            select(m.c.video_id, m.c.timestamp).where(m.c.video_id.in_(video_ids), ~m.c.deleted))).all()]

    async def uncovered_by_automatic_jobs(self, video_id: uuid.UUID) -> list[uuid.UUID]:
        """The video's live milestones no automatic generation job has covered yet, in playback order."""
        m, jobs = orm.milestones, orm.generation_jobs
        covered = select(jobs.c.id).where(jobs.c.trigger == "AUTOMATIC", m.c.id == func.any(jobs.c.milestone_ids))
        return list((await self.session.execute(select(m.c.id).where(
            m.c.video_id == video_id, ~m.c.deleted, ~covered.exists()).order_by(m.c.timestamp))).scalars().all())


class Transcripts:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def videos_with_one(self, video_ids: set[uuid.UUID]) -> set[uuid.UUID]:
        return set((await self.session.execute(select(orm.transcripts.c.video_id).where(
            orm.transcripts.c.video_id.in_(video_ids)))).scalars())


    async def segments(self, video_ids: set[uuid.UUID]) -> dict[uuid.UUID, list[dict[str, Any]]]:
        """One transcript's segments per video: English first, then alphabetical."""
        found: dict[uuid.UUID, list[dict[str, Any]]] = {}
        for row in (await self.session.execute(select(orm.transcripts).where(
                orm.transcripts.c.video_id.in_(video_ids)).order_by(
                orm.transcripts.c.language != "en", orm.transcripts.c.language))).all():
            found.setdefault(row.video_id, row.segments)
        return found


class Questions:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, question_id: uuid.UUID, *, lock: bool = False) -> Row:
        return await one_or_404(self.session, orm.questions, question_id, "question", lock=lock)

    async def find(self, question_id: uuid.UUID, *, lock: bool = False) -> Row | None:
        query = select(orm.questions).where(orm.questions.c.id == question_id)
        return (await self.session.execute(query.with_for_update() if lock else query)).first()

    async def answerable(self, question_id: uuid.UUID, *, lock: bool = False) -> Row:
        """An approved question of a published lesson of this tenant, on a live milestone; else 404."""
        q, lessons, milestones = orm.questions, orm.lessons, orm.milestones
        query = (select(q).join(lessons, and_(lessons.c.id == q.c.lesson_id, lessons.c.status == "PUBLISHED"))
                 .outerjoin(milestones, milestones.c.id == q.c.milestone_id)
                 .where(q.c.id == question_id, q.c.status == "APPROVED",
                        or_(q.c.milestone_id.is_(None), ~milestones.c.deleted)))
        question = (await self.session.execute(query.with_for_update(of=q) if lock else query)).first()
        if question is None:
            raise NotFound(f"no question {question_id}")
        return question

    async def add(self, **values: Any) -> None:
        await self.session.execute(orm.questions.insert().values(**values))

    async def update(self, question_id: uuid.UUID, **values: Any) -> None:
        await self.session.execute(update(orm.questions).where(orm.questions.c.id == question_id).values(**values))


class MilestonePolicies:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, milestone_id: uuid.UUID | None, *, lock: bool = False) -> Row | None:
        if milestone_id is None:
            return None
        query = select(orm.milestone_policies).where(orm.milestone_policies.c.milestone_id == milestone_id)
        return (await self.session.execute(query.with_for_update() if lock else query)).first()

    async def put(self, milestone_id: uuid.UUID, tenant_id: uuid.UUID, values: dict[str, Any]) -> None:
        table = orm.milestone_policies
        await self.session.execute(insert(table).values(
            milestone_id=milestone_id, tenant_id=tenant_id, updated_at=utc_now(), **values)
            .on_conflict_do_update(index_elements=[table.c.milestone_id], set_={**values, "updated_at": utc_now()}))


class Attempts:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def lock(self, student_id: uuid.UUID, question_id: uuid.UUID) -> None:
        """One student's attempts at one question are numbered (and their best score computed) one at a time."""
        await _advisory_lock(self.session, f"attempt:{student_id}:{question_id}")

    async def by_idempotency_key(self, student_id: uuid.UUID, key: str) -> Row | None:
        a = orm.question_attempts
        return (await self.session.execute(select(a).where(
            a.c.student_id == student_id, a.c.idempotency_key == key))).first()

    async def history(self, student_id: uuid.UUID, question_id: uuid.UUID) -> list[bool]:
        """Whether each of the student's attempts at the question was right."""
        a = orm.question_attempts
        return list((await self.session.execute(select(a.c.is_correct).where(
            a.c.student_id == student_id, a.c.question_id == question_id))).scalars().all())

    async def add(self, **values: Any) -> None:
        await self.session.execute(orm.question_attempts.insert().values(**values))

    async def get(self, attempt_id: uuid.UUID, *, lock: bool = False) -> Row:
        return await one_or_404(self.session, orm.question_attempts, attempt_id, "attempt", lock=lock)

    async def whose(self, attempt_id: uuid.UUID) -> Row | None:
        """(student_id, question_id) of an attempt, or None."""
        a = orm.question_attempts
        return (await self.session.execute(select(a.c.student_id, a.c.question_id).where(a.c.id == attempt_id))).first()

    async def update(self, attempt_id: uuid.UUID, **values: Any) -> None:
        a = orm.question_attempts
        await self.session.execute(update(a).where(a.c.id == attempt_id).values(**values))

    async def best(self, student_id: uuid.UUID, question_id: uuid.UUID) -> Decimal | None:
        a = orm.question_attempts
        return (await self.session.execute(select(func.max(a.c.score)).where(
            a.c.student_id == student_id, a.c.question_id == question_id))).scalar_one()


class Grades:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def lesson_questions(self, lesson_id: uuid.UUID, student_id: uuid.UUID) -> list[Row]:
        """(id, milestone_id, video_id, points, required, best) per approved question of the lesson."""
        return list((await self.session.execute(text(LESSON_QUESTIONS_SQL), {
            "lesson_id": lesson_id, "student_id": student_id})).all())

    async def get(self, student_id: uuid.UUID, scope: str, scope_id: uuid.UUID) -> Row | None:
        g = orm.grades
        return (await self.session.execute(select(g).where(g.c.student_id == student_id, g.c.scope == scope,
                                                           g.c.scope_id == scope_id))).first()

    async def put(self, *, tenant_id: uuid.UUID, student_id: uuid.UUID, scope: str, scope_id: uuid.UUID,
                  lesson_id: uuid.UUID, values: dict[str, Any]) -> None:
        g = orm.grades
        await self.session.execute(insert(g).values(
            id=uuid.uuid4(), tenant_id=tenant_id, student_id=student_id, scope=scope, scope_id=scope_id,
            lesson_id=lesson_id, **values).on_conflict_do_update(
            index_elements=[g.c.student_id, g.c.scope, g.c.scope_id], set_=values))

    async def judge_again(self, threshold: Decimal, now: datetime) -> list[Row]:
        """Sets ``passed`` anew on every grade whose percent now falls on the other side of ``threshold``;
        the grades that flipped."""
        g = orm.grades
        return list((await self.session.execute(update(g).where(g.c.passed != (g.c.percent >= threshold)).values(
            passed=g.c.percent >= threshold, updated_at=now).returning(*g.c))).all())

    async def graded_tenants(self) -> list[uuid.UUID]:
        """Every tenant with grades (a function that reads across tenants: migration 0007)."""
        return list((await self.session.execute(text("SELECT graded_tenants()"))).scalars().all())

    async def switch_tenant(self, tenant_id: uuid.UUID) -> None:
        await set_tenant(self.session, tenant_id)


class Configurations:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, configuration_id: uuid.UUID, *, noun: str = "AI configuration", lock: bool = False) -> Row:
        return await one_or_404(self.session, orm.ai_configurations, configuration_id, noun, lock=lock)

    async def find(self, configuration_id: uuid.UUID) -> Row | None:
        table = orm.ai_configurations
        return (await self.session.execute(select(table).where(table.c.id == configuration_id))).first()

    async def named(self, name: str) -> bool:
        table = orm.ai_configurations
        return (await self.session.execute(select(table.c.id).where(table.c.name == name))).first() is not None

    async def active(self, provider: str) -> Row | None:
        """The provider's active configuration (the latest changed, should there be several)."""
        table = orm.ai_configurations
        return (await self.session.execute(select(table).where(table.c.provider == provider, table.c.is_active)
                                           .order_by(table.c.updated_at.desc()).limit(1))).first()

    async def add(self, **values: Any) -> None:
        await self.session.execute(orm.ai_configurations.insert().values(**values))

    async def update(self, configuration_id: uuid.UUID, **values: Any) -> None:
        table = orm.ai_configurations
        await self.session.execute(update(table).where(table.c.id == configuration_id).values(**values))

    async def deactivate_others(self, provider: str, keep: uuid.UUID) -> list[Row]:
        """Switches off the provider's other active configurations; the ones switched off."""
        table = orm.ai_configurations
        return list((await self.session.execute(
            update(table).where(table.c.provider == provider, table.c.id != keep, table.c.is_active)
            .values(is_active=False, updated_at=utc_now()).returning(*table.c))).all())


class Jobs:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, job_id: uuid.UUID) -> Row:
        return await one_or_404(self.session, orm.generation_jobs, job_id, "job")

    async def add(self, **values: Any) -> None:
        """A job, and its row in the queue the runners claim from."""
        await self.session.execute(orm.generation_jobs.insert().values(**values))
        await self.session.execute(orm.generation_queue.insert().values(
            job_id=values["id"], tenant_id=values["tenant_id"], provider=values["provider"]))

    async def find(self, job_id: uuid.UUID) -> Row | None:
        jobs = orm.generation_jobs
        return (await self.session.execute(select(jobs).where(jobs.c.id == job_id))).first()

    async def start(self, job_id: uuid.UUID, runs: int) -> None:
        jobs = orm.generation_jobs
        await self.session.execute(update(jobs).where(jobs.c.id == job_id).values(
            status="RUNNING", runs=runs, started_at=utc_now()))

    async def finish(self, job_id: uuid.UUID, *, status: str, error: str | None, question_count: int) -> None:
        """The job's outcome, and its queue row gone."""
        jobs = orm.generation_jobs
        await self.session.execute(update(jobs).where(jobs.c.id == job_id).values(
            status=status, error=error, question_count=question_count, finished_at=utc_now()))
        await self.dequeue(job_id)

    async def requeue(self, job_id: uuid.UUID, *, reason: str, after_seconds: float) -> None:
        """Back in the queue (said why on the job), due again after a pause, its lease released."""
        jobs, queue = orm.generation_jobs, orm.generation_queue
        await self.session.execute(update(jobs).where(jobs.c.id == job_id).values(status="QUEUED", error=reason))
        await self.session.execute(update(queue).where(queue.c.job_id == job_id).values(
            available_at=func.now() + func.make_interval(0, 0, 0, 0, 0, 0, after_seconds), leased_at=None))

    async def dequeue(self, job_id: uuid.UUID) -> None:
        await self.session.execute(orm.generation_queue.delete().where(orm.generation_queue.c.job_id == job_id))

    async def renew_lease(self, job_id: uuid.UUID, leased_at: datetime, seconds: float) -> bool:
        """Extends the lease taken at ``leased_at``; False if it is not held any more (taken over)."""
        queue = orm.generation_queue
        return bool((await self.session.execute(update(queue).where(
            queue.c.job_id == job_id, queue.c.leased_at == leased_at).values(
            available_at=func.now() + func.make_interval(0, 0, 0, 0, 0, 0, seconds)))).rowcount)

    async def serialise_auto_generation(self, video_id: uuid.UUID) -> None:
        """Automatic generation for one video, one at a time: a milestone and a transcript projected at the
        same moment by two workers cannot both miss each other."""
        await _advisory_lock(self.session, f"auto-generate:{video_id}")


class Usage:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def spent_this_month(self) -> Decimal:
        logs = orm.ai_usage_logs
        return (await self.session.execute(select(func.coalesce(func.sum(logs.c.cost), 0)).where(
            logs.c.created_at >= func.date_trunc("month", func.now())))).scalar_one()

    async def add(self, **values: Any) -> None:
        await self.session.execute(orm.ai_usage_logs.insert().values(**values))


class PersonalData:
    """Everything assessment keeps about one person, for their data export (issue 16): their answers
    (attempts, each with its grade and any teacher's override), their grades per milestone and lesson,
    and, for a teacher, the overrides they made and the questions they wrote or reviewed."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def _rows(self, table: Any, condition: Any, order: Any) -> list[dict[str, Any]]:
        rows = (await self.session.execute(select(table).where(condition).order_by(order))).all()
        return [{k: v for k, v in row._mapping.items() if k not in ("tenant_id", "request_hash")} for row in rows]

    async def of(self, user_id: uuid.UUID) -> dict[str, list[dict[str, Any]]]:
        attempts, grades, questions = orm.question_attempts, orm.grades, orm.questions
        return {
            "attempts": await self._rows(attempts, attempts.c.student_id == user_id, attempts.c.created_at),
            "grades": await self._rows(grades, grades.c.student_id == user_id, grades.c.updated_at),
            "overrides_made": await self._rows(attempts, attempts.c.overridden_by_id == user_id,
                                               attempts.c.overridden_at),
            "questions_authored_or_reviewed": await self._rows(
                questions, or_(questions.c.created_by_id == user_id, questions.c.reviewed_by_id == user_id),
                questions.c.created_at),
        }

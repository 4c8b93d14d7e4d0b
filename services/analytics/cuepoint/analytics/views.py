"""The reads: the dashboards (from read models, never from a scan of events) and the audit log.
A view never writes and never emits; who may see what is asked of domain/. They read where ``Reads`` says:
the read replica when one is configured and answers, else the primary (replica.py)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cuepoint.runtime.auth import CurrentUser, Role
from cuepoint.runtime.errors import NotFound

from .domain import dashboards as rules
from .domain.audit import ChainCheck
from .domain.telemetry import BUCKET_SECONDS
from .orm import (
    analytics_events,
    audit_heads,
    audit_logs,
    lessons,
    milestones,
    option_picks,
    student_video_buckets,
    video_buckets,
    videos,
)
from .replica import Reads, on_primary_if_the_replica_is_lost

# The seed's "Teacher Analytics Query", verbatim.
TEACHER_ANALYTICS_SQL = """
SELECT 
    l.title,
    COUNT(DISTINCT sp.student_id) as enrolled_students,
    AVG(sp.completion_percent) as avg_completion,
    AVG(sp.average_score) as avg_score,
    AVG(sp.total_time_spent) as avg_time_spent
FROM lessons l
LEFT JOIN student_progress sp ON l.id = sp.lesson_id
WHERE l.created_by_id = $1
GROUP BY l.id, l.title
ORDER BY enrolled_students DESC;
"""
# The seed's "AI Usage Cost Tracking", verbatim.
AI_USAGE_SQL = """
SELECT 
    DATE_TRUNC('month', created_at) as month,
    request_type,
    COUNT(*) as total_requests,
    SUM(tokens_used) as total_tokens,
    SUM(cost) as total_cost,
    AVG(response_time) as avg_response_time
FROM ai_usage_logs
WHERE created_at >= CURRENT_DATE - INTERVAL '6 months'
GROUP BY month, request_type
ORDER BY month DESC, total_cost DESC;
"""


def _sql(seed: str, name: str) -> Any:
    """A seed query as SQLAlchemy runs it, named for cuepoint_db_statement_duration_seconds."""
    return text(seed.replace("$1", ":p1").rstrip().rstrip(";")).execution_options(statement_name=name)


TEACHER_ANALYTICS = _sql(TEACHER_ANALYTICS_SQL, "teacher_analytics")
AI_USAGE_FROM_ROLLUP = text("""
SELECT month, request_type, requests AS total_requests, tokens AS total_tokens, cost AS total_cost,
       response_time_total::numeric / requests AS avg_response_time
FROM ai_usage_monthly
WHERE month >= date_trunc('month', CURRENT_DATE - INTERVAL '6 months')
ORDER BY month DESC, total_cost DESC
""").execution_options(statement_name="ai_usage_cost")

ITEM_ANALYSIS = text("""
WITH totals AS (
    SELECT student_id, SUM(best_fraction) AS total FROM question_results WHERE lesson_id = :lesson GROUP BY student_id
)
SELECT r.question_id, COUNT(*) AS students, AVG(r.first_correct::int) AS difficulty,
       AVG(r.first_fraction) AS average_first_score, AVG(r.attempts) AS average_attempts,
       corr(r.first_correct::int, t.total - r.best_fraction) AS discrimination
FROM question_results r JOIN totals t USING (student_id)
WHERE r.lesson_id = :lesson
GROUP BY r.question_id ORDER BY r.question_id
""")


class Dashboards:
    def __init__(self, reads: Reads | async_sessionmaker[AsyncSession]) -> None:
        self.reads = reads if isinstance(reads, Reads) else Reads(reads)  # sessions: the primary's

    async def _lesson(self, session: AsyncSession, actor: CurrentUser, lesson_id: uuid.UUID) -> Any:
        lesson = (await session.execute(select(lessons).where(lessons.c.id == lesson_id))).first()
        rules.ensure_sees_lesson(actor, lesson, lesson_id)
        return lesson

    @on_primary_if_the_replica_is_lost
    async def lessons(self, actor: CurrentUser, teacher_id: uuid.UUID | None) -> list[dict[str, Any]]:
        """The seed's teacher query: a teacher's lessons; admins may name any teacher."""
        rules.ensure_sees_teacher(actor, teacher_id)
        async with self.reads.transaction(actor.tenant_id) as session:
            rows = (await session.execute(TEACHER_ANALYTICS, {"p1": teacher_id or actor.id})).mappings().all()
            return [dict(row) for row in rows]

    @on_primary_if_the_replica_is_lost
    async def questions(self, actor: CurrentUser, lesson_id: uuid.UUID) -> list[dict[str, Any]]:
        """Item analysis: difficulty (share right first time), discrimination (how well the item separates
        strong from weak students: correlation with the rest of the lesson's score), and option choices."""
        async with self.reads.transaction(actor.tenant_id) as session:
            await self._lesson(session, actor, lesson_id)
            items = [dict(row) for row in (await session.execute(ITEM_ANALYSIS, {"lesson": lesson_id})).mappings()]
            picks = (await session.execute(
                select(option_picks.c.question_id, option_picks.c.option_id, option_picks.c.picks)
                .where(option_picks.c.question_id.in_([i["question_id"] for i in items]))
                .order_by(option_picks.c.question_id, option_picks.c.option_id))).all()
        options: dict[uuid.UUID, dict[str, int]] = {}
        for row in picks:
            options.setdefault(row.question_id, {})[row.option_id] = row.picks
        for item in items:
            item["option_picks"] = options.get(item["question_id"], {})
        return items

    @on_primary_if_the_replica_is_lost
    async def engagement(self, actor: CurrentUser, video_id: uuid.UUID) -> dict[str, Any]:
        """Per 5-second bucket: views (students), rewatches, and drop-off (students whose furthest point it is)."""
        async with self.reads.transaction(actor.tenant_id) as session:
            # The video's lesson decides, as for the lesson dashboards: its author or an admin.
            lesson_id = (await session.execute(select(videos.c.lesson_id).where(videos.c.id == video_id))).scalar()
            rules.ensure_sees_video(actor, lesson_id, video_id)
            await self._lesson(session, actor, lesson_id)
            buckets = (await session.execute(
                select(video_buckets.c.bucket, video_buckets.c.views, video_buckets.c.rewatches)
                .where(video_buckets.c.video_id == video_id).order_by(video_buckets.c.bucket))).all()
            drops = dict((await session.execute(
                select(student_video_buckets.c.furthest, func.count())
                .where(student_video_buckets.c.video_id == video_id)
                .group_by(student_video_buckets.c.furthest))).all())
            marks = (await session.execute(
                select(milestones.c.id, milestones.c.timestamp, milestones.c.title)
                .where(milestones.c.video_id == video_id, ~milestones.c.deleted)
                .order_by(milestones.c.timestamp))).mappings().all()
        if not buckets and not marks:
            raise NotFound(f"no engagement recorded for video {video_id}")
        return {"video_id": video_id, "bucket_seconds": BUCKET_SECONDS,
                "buckets": [{"start": b.bucket * BUCKET_SECONDS, "views": b.views, "rewatches": b.rewatches,
                             "drop_off": drops.get(b.bucket, 0)} for b in buckets],
                "milestones": [dict(m) for m in marks]}

    @on_primary_if_the_replica_is_lost
    async def rates(self, actor: CurrentUser, start: date, end: date) -> dict[str, Any]:
        """Completion and engagement per lesson, active users and client errors per day."""
        rules.ensure_rates_range(actor, start, end)
        async with self.reads.transaction(actor.tenant_id) as session:
            lessons = (await session.execute(text("""
                SELECT l.id AS lesson_id, l.title, COALESCE(s.started, 0) AS started,
                       COALESCE(s.completed, 0) AS completed,
                       ROUND(100.0 * s.completed / NULLIF(s.started, 0), 2) AS completion_rate
                FROM lessons l LEFT JOIN lesson_stats s ON s.lesson_id = l.id
                WHERE (:all OR l.created_by_id = :me) ORDER BY l.title"""),
                {"all": actor.at_least(Role.ADMIN), "me": actor.id})).mappings().all()
            days = (await session.execute(text("""
                SELECT d.day, COALESCE(a.users, 0) AS active_users, COALESCE(c.events, 0) AS events,
                       COALESCE(c.errors, 0) AS client_errors,
                       ROUND(100.0 * COALESCE(c.errors, 0) / NULLIF(c.events, 0), 3) AS error_rate_percent
                FROM generate_series(CAST(:start AS date), CAST(:end AS date), interval '1 day') AS d(day)
                LEFT JOIN daily_active a ON a.day = d.day
                LEFT JOIN (SELECT day, sum(events) AS events, sum(events) FILTER (WHERE event_type = 'error') AS errors
                           FROM daily_counts WHERE day BETWEEN :start AND :end GROUP BY day) c ON c.day = d.day
                ORDER BY d.day"""), {"start": start, "end": end})).mappings().all()
        return {"lessons": [dict(r) for r in lessons], "days": [dict(r) | {"day": r["day"].date()} for r in days]}

    @on_primary_if_the_replica_is_lost
    async def completion(self, actor: CurrentUser, lesson_id: uuid.UUID, start: date, end: date) -> dict[str, Any]:
        """Per day: students who started the lesson and who completed it that day, and the running totals
        (from before the range too) with the completion rate at the end of the day."""
        rules.ensure_completion_range(start, end)
        async with self.reads.transaction(actor.tenant_id) as session:
            lesson = await self._lesson(session, actor, lesson_id)
            days = (await session.execute(text("""
                WITH before AS (
                    SELECT COALESCE(sum(started), 0) AS started, COALESCE(sum(completed), 0) AS completed
                    FROM lesson_days WHERE lesson_id = :lesson AND day < :start),
                daily AS (
                    SELECT d.day::date AS day, COALESCE(l.started, 0) AS started,
                           COALESCE(l.completed, 0) AS completed
                    FROM generate_series(CAST(:start AS date), CAST(:end AS date), interval '1 day') AS d(day)
                    LEFT JOIN lesson_days l ON l.lesson_id = :lesson AND l.day = d.day::date),
                running AS (
                    SELECT daily.*, before.started + sum(daily.started) OVER w AS cumulative_started,
                           before.completed + sum(daily.completed) OVER w AS cumulative_completed
                    FROM daily CROSS JOIN before WINDOW w AS (ORDER BY day))
                SELECT day, started, completed, cumulative_started::int, cumulative_completed::int,
                       ROUND(100.0 * cumulative_completed / NULLIF(cumulative_started, 0), 2) AS completion_rate
                FROM running ORDER BY day"""), {"lesson": lesson_id, "start": start, "end": end})).mappings().all()
        return {"lesson_id": lesson_id, "title": lesson.title, "start": start, "end": end,
                "days": [dict(r) for r in days]}

    @on_primary_if_the_replica_is_lost
    async def ai_usage(self, actor: CurrentUser) -> dict[str, Any]:
        rules.ensure_sees_ai_usage(actor)
        async with self.reads.transaction(actor.tenant_id) as session:
            # The seed's query, answered from the monthly roll-up (same columns and order).
            months = [dict(r) for r in (await session.execute(AI_USAGE_FROM_ROLLUP)).mappings()]
            generation = (await session.execute(text("""
                SELECT provider, count(*) AS jobs, count(*) FILTER (WHERE succeeded) AS succeeded,
                       ROUND(100.0 * count(*) FILTER (WHERE succeeded) / count(*), 2) AS success_rate
                FROM generation_outcomes GROUP BY provider ORDER BY provider"""))).mappings().all()
        return {"months": months, "generation": [dict(r) for r in generation]}


class AuditLog:
    def __init__(self, reads: Reads | async_sessionmaker[AsyncSession]) -> None:
        self.reads = reads if isinstance(reads, Reads) else Reads(reads)  # sessions: the primary's

    @on_primary_if_the_replica_is_lost
    async def search(self, actor: CurrentUser, *, actor_id: uuid.UUID | None, target_type: str | None,
                     target_id: str | None, action: str | None, start: datetime | None, end: datetime | None,
                     limit: int, before_seq: int | None) -> dict[str, Any]:
        rules.ensure_audit_range(start, end)
        a, e = audit_logs, analytics_events
        # The entry's data is the event's own, stored with the same id and time (its primary key): what
        # changed, before and after where the event has a before (old_role/new_role, a policy's
        # previous value). The chain's hash covers the entry, not its data.
        query = (select(a.c.seq, a.c.event_id, a.c.actor_id, a.c.action, a.c.target_type, a.c.target_id,
                        a.c.correlation_id, a.c.occurred_at, a.c.hash, e.c.data)
                 .select_from(a.outerjoin(e, and_(e.c.id == a.c.event_id, e.c.occurred_at == a.c.occurred_at,
                                                  e.c.category == "domain")))
                 .order_by(a.c.seq.desc()).limit(limit))
        for column, value in (("actor_id", actor_id), ("target_type", target_type), ("target_id", target_id),
                              ("action", action)):
            if value is not None:
                query = query.where(a.c[column] == value)
        if start:
            query = query.where(a.c.occurred_at >= start)
        if end:
            query = query.where(a.c.occurred_at < end)
        if before_seq:
            query = query.where(a.c.seq < before_seq)
        async with self.reads.transaction(actor.tenant_id) as session:
            rows = (await session.execute(query)).mappings()
            items = [dict(r) for r in rows]
        return {"items": items, "next_before_seq": items[-1]["seq"] if len(items) == limit else None}

    @on_primary_if_the_replica_is_lost
    async def verify(self, tenant_id: uuid.UUID) -> dict[str, Any]:
        """Walks the tenant's chain: a changed entry breaks its hash, a removed one leaves a gap (or a head
        that points past the end)."""
        check = ChainCheck()
        async with self.reads.transaction(tenant_id) as session:
            async for row in await session.stream(select(audit_logs).order_by(audit_logs.c.seq)):
                check.see(row)
            head = (await session.execute(select(audit_heads.c.seq, audit_heads.c.hash)
                                          .where(audit_heads.c.tenant_id == tenant_id))).first()
        check.end(head)
        return {"tenant_id": tenant_id, "checked": check.checked, "intact": check.intact, "problems": check.problems}

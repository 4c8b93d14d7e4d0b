"""analytics as projections: client telemetry and every domain event become analytics_events
rows, audit_logs entries and the dashboards' read models. Nothing here is owned state: a
`rebuild` replays the topics into the same rows (audit_logs aside: see bootstrap.rebuild)."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from cuepoint.contracts.envelope import Envelope
from cuepoint.runtime.consumer import copy_new_rows

BUCKET_SECONDS = 5
CATEGORIES = {"video": "playback", "question": "question", "navigation": "navigation", "performance": "performance",
              "error": "error"}
EVENT_COLUMNS = ("id", "tenant_id", "user_id", "event_type", "category", "lesson_id", "video_id", "question_id",
                 "device_id", "data", "occurred_at")
# Free text a client may send that can hold personal data; erased with the user.
PERSONAL_FIELDS = ("path", "referrer", "message", "source", "user_agent")
Event = Envelope[Any]


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


# --- client telemetry (batched) --------------------------------------------------------------------


async def client_events(session: AsyncSession, envelopes: list[Event]) -> None:
    """One tenant's client events of a polled batch: COPY into analytics_events, then, for the events
    stored for the first time, the daily counts and the video engagement. The event store's primary
    key is the deduplication (the consumer keeps no inbox for this stream: one write per event less)."""
    tenant_id = envelopes[0].tenant_id
    rows = []
    for envelope in envelopes:
        record, event = envelope.data, envelope.data.event
        # The event's own JSON (serialised in Rust), with the envelope fields analytics keeps beside it.
        extra = {"client_occurred_at": record.client_occurred_at.isoformat()}
        if record.user_agent:
            extra["user_agent"] = record.user_agent
        data = event.model_dump_json()[:-1] + "," + json.dumps(extra)[1:]
        rows.append((envelope.event_id, tenant_id, record.user_id, event.type,
                     CATEGORIES[event.type.split(".")[0]], getattr(event, "lesson_id", None),
                     getattr(event, "video_id", None), getattr(event, "question_id", None), record.device_id,
                     data, record.received_at))
    fresh = await copy_new_rows(session, "analytics.analytics_events", EVENT_COLUMNS, rows, key="id")
    # (an event delivered twice within one batch is one event)
    envelopes = list({e.event_id: e for e in envelopes if e.event_id in fresh}.values())
    if not envelopes:
        return
    counts, users = defaultdict(int), set()
    for envelope in envelopes:
        record, event = envelope.data, envelope.data.event
        day = record.received_at.date()
        counts[(day, event.type)] += 1
        users.add((day, record.user_id))
    await session.execute(text("""
        INSERT INTO daily_counts (tenant_id, day, event_type, events)
        SELECT CAST(:tenant AS uuid), d, t, n FROM unnest(CAST(:days AS date[]), CAST(:types AS text[]),
                                                          CAST(:counts AS integer[])) AS c(d, t, n)
        ON CONFLICT (tenant_id, day, event_type) DO UPDATE SET events = daily_counts.events + excluded.events"""),
        {"tenant": tenant_id, "days": [d for d, _ in counts], "types": [t for _, t in counts],
         "counts": list(counts.values())})
    await session.execute(text("""
        WITH fresh AS (
            INSERT INTO daily_users (tenant_id, day, user_id)
            SELECT CAST(:tenant AS uuid), d, u FROM unnest(CAST(:days AS date[]), CAST(:users AS uuid[])) AS x(d, u)
            ON CONFLICT DO NOTHING RETURNING day)
        INSERT INTO daily_active (tenant_id, day, users) SELECT CAST(:tenant AS uuid), day, count(*) FROM fresh
        GROUP BY day ON CONFLICT (tenant_id, day) DO UPDATE SET users = daily_active.users + excluded.users"""),
        {"tenant": tenant_id, "days": [d for d, _ in users], "users": [u for _, u in users]})
    await video_engagement(session, envelopes)


async def video_engagement(session: AsyncSession, envelopes: list[Event]) -> None:
    """Heartbeats into per-5-second-bucket views and rewatches."""
    plays: dict[tuple[uuid.UUID, uuid.UUID], list[range]] = defaultdict(list)  # (student, video) → ranges, in order
    for envelope in envelopes:
        record, event = envelope.data, envelope.data.event
        if event.type != "video.heartbeat":
            continue
        for played in event.played:
            if played.end > played.start:
                first, last = int(played.start // BUCKET_SECONDS), int((played.end - 1e-9) // BUCKET_SECONDS)
                plays[(record.user_id, event.video_id)].append(range(first, last + 1))
    if plays:
        await _engagement(session, envelopes[0].tenant_id, plays)


async def _engagement(session: AsyncSession, tenant_id: uuid.UUID,
                      plays: dict[tuple[uuid.UUID, uuid.UUID], list[range]]) -> None:
    """A bucket a student plays for the first time is a view; again, a rewatch."""
    keys = list(plays)
    known = {(row.student_id, row.video_id): set(row.buckets) for row in (await session.execute(text(
        "SELECT student_id, video_id, buckets FROM student_video_buckets "
        "WHERE (student_id, video_id) IN (SELECT * FROM unnest(CAST(:s AS uuid[]), CAST(:v AS uuid[]))) "
        "FOR UPDATE"), {"s": [k[0] for k in keys], "v": [k[1] for k in keys]})).all()}
    views: dict[tuple[uuid.UUID, int], int] = defaultdict(int)
    rewatches: dict[tuple[uuid.UUID, int], int] = defaultdict(int)
    students, videos, bucket_sets, furthest = [], [], [], []
    for (student, video), ranges in plays.items():
        seen = set(known.get((student, video), set()))
        for played in ranges:
            for bucket in played:
                (rewatches if bucket in seen else views)[(video, bucket)] += 1
            seen.update(played)
        merged = sorted(seen)
        students.append(student)
        videos.append(video)
        bucket_sets.append("{" + ",".join(map(str, merged)) + "}")
        furthest.append(merged[-1])
    await session.execute(text("""
        INSERT INTO student_video_buckets (student_id, video_id, tenant_id, buckets, furthest)
        SELECT s, v, CAST(:tenant AS uuid), CAST(b AS integer[]), f
        FROM unnest(CAST(:s AS uuid[]), CAST(:v AS uuid[]), CAST(:b AS text[]), CAST(:f AS integer[])) AS x(s, v, b, f)
        ON CONFLICT (video_id, student_id) DO UPDATE SET buckets = excluded.buckets, furthest = excluded.furthest"""),
        {"tenant": tenant_id, "s": students, "v": videos, "b": bucket_sets, "f": furthest})
    keys = sorted(set(views) | set(rewatches), key=lambda k: (str(k[0]), k[1]))
    await session.execute(text("""
        INSERT INTO video_buckets (video_id, bucket, tenant_id, views, rewatches)
        SELECT v, b, CAST(:tenant AS uuid), n, r
        FROM unnest(CAST(:v AS uuid[]), CAST(:b AS integer[]), CAST(:n AS integer[]), CAST(:r AS integer[]))
            AS x(v, b, n, r)
        ON CONFLICT (video_id, bucket) DO UPDATE SET views = video_buckets.views + excluded.views,
                                                     rewatches = video_buckets.rewatches + excluded.rewatches"""),
        {"tenant": tenant_id, "v": [k[0] for k in keys], "b": [k[1] for k in keys],
         "n": [views.get(k, 0) for k in keys], "r": [rewatches.get(k, 0) for k in keys]})


# --- domain events -----------------------------------------------------------------------------------


def _target(envelope: Event) -> tuple[str, str]:
    """'content.lesson.created.v1' → ('lesson', key)."""
    parts = envelope.event_type.split(".")
    return parts[1], envelope.key


def audit_hash(prev_hash: str, entry: dict[str, Any]) -> str:
    return hashlib.sha256((prev_hash + _json(entry)).encode()).hexdigest()


def _entry(tenant_id: Any, seq: int, event_id: Any, actor_id: Any, action: str, target_type: str, target_id: str,
           correlation_id: str | None, occurred_at: datetime) -> dict[str, Any]:
    """What an audit entry's hash covers, in one canonical form for writing and verifying."""
    return {"tenant_id": str(tenant_id), "seq": seq, "event_id": str(event_id),
            "actor_id": str(actor_id) if actor_id else None, "action": action, "target_type": target_type,
            "target_id": target_id, "correlation_id": correlation_id,
            "occurred_at": occurred_at.astimezone(UTC).isoformat()}


def audit_entry(envelope: Event, seq: int) -> dict[str, Any]:
    target_type, target_id = _target(envelope)
    return _entry(envelope.tenant_id, seq, envelope.event_id, envelope.actor_id,
                  envelope.event_type.rsplit(".", 1)[0], target_type, target_id, envelope.correlation_id,
                  envelope.occurred_at)


def audit_entry_from_row(row: Any) -> dict[str, Any]:
    return _entry(row.tenant_id, row.seq, row.event_id, row.actor_id, row.action, row.target_type, row.target_id,
                  row.correlation_id, row.occurred_at)


async def _audit(session: AsyncSession, envelope: Event) -> None:
    """Appends to the tenant's chain: each entry's hash covers the previous one's."""
    await session.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"),
                          {"k": f"audit:{envelope.tenant_id}"})
    head = (await session.execute(text("SELECT seq, hash FROM audit_heads WHERE tenant_id = :t"),
                                  {"t": envelope.tenant_id})).first()
    seq, prev = (head.seq + 1, head.hash) if head else (1, "")
    entry = audit_entry(envelope, seq)
    digest = audit_hash(prev, entry)
    await session.execute(text("""
        INSERT INTO audit_logs (tenant_id, seq, event_id, actor_id, action, target_type, target_id, correlation_id,
                                occurred_at, prev_hash, hash)
        VALUES (:tenant_id, :seq, :event_id, :actor_id, :action, :target_type, :target_id, :correlation_id,
                :occurred_at, :prev_hash, :hash)"""),
        {**entry, "occurred_at": envelope.occurred_at, "prev_hash": prev, "hash": digest})
    await session.execute(text("""
        INSERT INTO audit_heads (tenant_id, seq, hash) VALUES (:t, :s, :h)
        ON CONFLICT (tenant_id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash"""),
        {"t": envelope.tenant_id, "s": seq, "h": digest})


async def domain_event(session: AsyncSession, envelope: Event, *, audit: bool = True) -> None:
    """Every domain event: an audit entry, a row in analytics_events, and its read models."""
    if audit:
        await _audit(session, envelope)
    data = envelope.data
    await session.execute(text("""
        INSERT INTO analytics_events (id, tenant_id, user_id, event_type, category, lesson_id, video_id, question_id,
                                      data, occurred_at)
        VALUES (:id, :tenant, :user, :type, 'domain', :lesson, :video, :question, CAST(:data AS jsonb), :at)
        ON CONFLICT DO NOTHING"""),
        {"id": envelope.event_id, "tenant": envelope.tenant_id, "user": envelope.actor_id,
         "type": envelope.event_type, "lesson": getattr(data, "lesson_id", None),
         "video": getattr(data, "video_id", None), "question": getattr(data, "question_id", None),
         "data": data.model_dump_json(), "at": envelope.occurred_at})
    project = READ_MODELS.get(envelope.event_type)
    if project is not None:
        await project(session, envelope)


async def _lesson(session: AsyncSession, envelope: Event) -> None:
    data = envelope.data
    await session.execute(text("""
        INSERT INTO lessons (id, tenant_id, title, created_by_id, updated_at) VALUES (:id, :t, :title, :by, :at)
        ON CONFLICT (id) DO UPDATE SET title = excluded.title, updated_at = excluded.updated_at
        WHERE lessons.updated_at <= excluded.updated_at"""),
        {"id": data.lesson_id, "t": envelope.tenant_id, "title": data.title,
         "by": getattr(data, "created_by_id", None) or envelope.actor_id, "at": envelope.occurred_at})


async def _milestone(session: AsyncSession, envelope: Event) -> None:
    data = envelope.data
    deleted = envelope.event_type == "content.milestone.deleted.v1"
    await session.execute(text("""
        INSERT INTO milestones (id, tenant_id, video_id, timestamp, title, deleted, updated_at)
        VALUES (:id, :t, :video, :ts, :title, :deleted, :at)
        ON CONFLICT (id) DO UPDATE SET timestamp = CASE WHEN excluded.deleted THEN milestones.timestamp
                                                        ELSE excluded.timestamp END,
                                       title = CASE WHEN excluded.deleted THEN milestones.title ELSE excluded.title END,
                                       deleted = excluded.deleted, updated_at = excluded.updated_at
        WHERE milestones.updated_at <= excluded.updated_at"""),
        {"id": data.milestone_id, "t": envelope.tenant_id, "video": data.video_id,
         "ts": 0.0 if deleted else data.timestamp, "title": "" if deleted else data.title, "deleted": deleted,
         "at": envelope.occurred_at})


async def _progress(session: AsyncSession, envelope: Event) -> None:
    data = envelope.data
    status = "COMPLETED" if envelope.event_type == "progress.lesson.completed.v1" else data.status
    # The lesson's started/completed counts move with the student's row (one statement, one snapshot).
    await session.execute(text("""
        WITH old AS (SELECT status FROM student_progress WHERE student_id = :s AND lesson_id = :l),
        up AS (
            INSERT INTO student_progress (student_id, lesson_id, tenant_id, completion_percent, average_score,
                                          total_time_spent, status, updated_at)
            VALUES (:s, :l, :t, :c, :a, :spent, :status, :at)
            ON CONFLICT (student_id, lesson_id) DO UPDATE SET
                completion_percent = excluded.completion_percent, average_score = excluded.average_score,
                total_time_spent = excluded.total_time_spent, status = excluded.status,
                updated_at = excluded.updated_at
            WHERE student_progress.updated_at <= excluded.updated_at
            RETURNING status)
        INSERT INTO lesson_stats (lesson_id, tenant_id, started, completed)
        SELECT :l, :t, (NOT EXISTS (SELECT 1 FROM old))::int,
               ((SELECT status FROM up) = 'COMPLETED' AND COALESCE((SELECT status FROM old), '') <> 'COMPLETED')::int
        WHERE EXISTS (SELECT 1 FROM up)
        ON CONFLICT (lesson_id) DO UPDATE SET started = lesson_stats.started + excluded.started,
                                              completed = lesson_stats.completed + excluded.completed"""),
        {"s": data.student_id, "l": data.lesson_id, "t": envelope.tenant_id, "c": data.completion_percent,
         "a": data.average_score, "spent": data.total_time_spent, "status": status, "at": envelope.occurred_at})


async def _ai_usage(session: AsyncSession, envelope: Event) -> None:
    data = envelope.data
    await session.execute(text("""
        WITH fresh AS (
            INSERT INTO ai_usage_logs (id, tenant_id, request_type, provider, model, tokens_used, cost, response_time,
                                       success, created_at)
            VALUES (:id, :t, :rt, :p, :m, :tokens, :cost, :ms, :ok, :at) ON CONFLICT DO NOTHING RETURNING created_at)
        INSERT INTO ai_usage_monthly (tenant_id, month, request_type, requests, tokens, cost, response_time_total)
        SELECT :t, date_trunc('month', created_at), :rt, 1, :tokens, :cost, :ms FROM fresh
        ON CONFLICT (tenant_id, month, request_type) DO UPDATE SET
            requests = ai_usage_monthly.requests + 1, tokens = ai_usage_monthly.tokens + excluded.tokens,
            cost = ai_usage_monthly.cost + excluded.cost,
            response_time_total = ai_usage_monthly.response_time_total + excluded.response_time_total"""),
        {"id": data.usage_log_id, "t": envelope.tenant_id, "rt": data.request_type, "p": data.provider,
         "m": data.model, "tokens": data.tokens_used, "cost": data.cost, "ms": data.response_time,
         "ok": data.success, "at": envelope.occurred_at})


async def _generation(session: AsyncSession, envelope: Event) -> None:
    data = envelope.data
    succeeded = envelope.event_type == "assessment.questions.generated.v1"
    await session.execute(text("""
        INSERT INTO generation_outcomes (job_id, tenant_id, lesson_id, provider, succeeded, question_count,
                                         occurred_at)
        VALUES (:j, :t, :l, :p, :ok, :n, :at) ON CONFLICT DO NOTHING"""),
        {"j": data.job_id, "t": envelope.tenant_id, "l": data.lesson_id, "p": data.provider, "ok": succeeded,
         "n": len(data.questions) if succeeded else 0, "at": envelope.occurred_at})


async def _attempt(session: AsyncSession, envelope: Event) -> None:
    data = envelope.data
    fraction = (data.score / data.max_score) if data.max_score else 0
    await session.execute(text("""
        INSERT INTO question_results (student_id, question_id, tenant_id, lesson_id, first_fraction, first_correct,
                                      attempts, best_fraction)
        VALUES (:s, :q, :t, :l, :f, :c, 1, :f)
        ON CONFLICT (question_id, student_id) DO UPDATE SET attempts = question_results.attempts + 1,
            best_fraction = greatest(question_results.best_fraction, excluded.best_fraction)"""),
        {"s": data.student_id, "q": data.question_id, "t": envelope.tenant_id, "l": data.lesson_id,
         "f": round(fraction, 4), "c": data.is_correct and data.attempt_number == 1})
    if data.selected_options and data.attempt_number == 1:
        await session.execute(text("""
            INSERT INTO option_picks (question_id, option_id, tenant_id, picks)
            SELECT :q, o, :t, 1 FROM unnest(CAST(:options AS text[])) o
            ON CONFLICT (question_id, option_id) DO UPDATE SET picks = option_picks.picks + 1"""),
            {"q": data.question_id, "t": envelope.tenant_id, "options": list(data.selected_options)})


async def _erase(session: AsyncSession, envelope: Event) -> None:
    """The user's personal data leaves every analytics projection; their id stays as a pseudonym."""
    fields = "".join(f" - '{field}'" for field in PERSONAL_FIELDS)
    await session.execute(text(f"UPDATE analytics_events SET data = data{fields}, device_id = NULL "
                               "WHERE user_id = :u AND category <> 'domain'"), {"u": envelope.data.user_id})


READ_MODELS = {
    "content.lesson.created.v1": _lesson,
    "content.lesson.updated.v1": _lesson,
    "content.lesson.published.v1": _lesson,
    "content.milestone.created.v1": _milestone,
    "content.milestone.updated.v1": _milestone,
    "content.milestone.deleted.v1": _milestone,
    "progress.lesson.progressed.v1": _progress,
    "progress.lesson.completed.v1": _progress,
    "assessment.ai_usage.recorded.v1": _ai_usage,
    "assessment.questions.generated.v1": _generation,
    "assessment.generation.failed.v1": _generation,
    "assessment.attempt.graded.v1": _attempt,
    "identity.user.erased.v1": _erase,
}

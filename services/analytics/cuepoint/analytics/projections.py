"""analytics as projections: client telemetry and every domain event become analytics_events
rows, audit_logs entries and the dashboards' read models. Nothing here is owned state: a
`rebuild` replays the topics into the same rows (audit_logs aside: see operations.rebuild)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from cuepoint.contracts.envelope import Envelope
from cuepoint.runtime.bulk import STAGED_JSON, staged_json
from cuepoint.runtime.consumer import Delivery

from .domain import learning
from .domain.audit import next_link
from .domain.telemetry import BUCKET_SECONDS, PERSONAL_FIELDS

Event = Envelope[Any]


# --- client telemetry (batched) --------------------------------------------------------------------
# The events arrive validated (the consumer dead-letters what breaks the contract); their JSON is
# COPied as it came, and one statement takes it apart into the event store and the read models:
# building and adapting rows in Python cost more than everything the database does with them.
# Rows that every batch shares (a day's counts, a video's buckets) are written in key order, so
# concurrent workers wait for each other briefly and never deadlock. Every key leads with the tenant:
# one tenant's rows can never block another's (migration 0007).

_CLIENT_EVENTS = text(f"""
WITH stored AS (
    INSERT INTO analytics_events (id, tenant_id, user_id, event_type, category, lesson_id, video_id, question_id,
                                  device_id, data, occurred_at)
    SELECT (doc->>'event_id')::uuid, CAST(:tenant AS uuid), (record->>'user_id')::uuid, event->>'type',
           CASE split_part(event->>'type', '.', 1) WHEN 'video' THEN 'playback' ELSE split_part(event->>'type', '.', 1)
           END,
           (event->>'lesson_id')::uuid, (event->>'video_id')::uuid, (event->>'question_id')::uuid,
           record->>'device_id',
           -- the event as the client sent it, with what analytics keeps of the record around it
           event || jsonb_strip_nulls(jsonb_build_object('client_occurred_at', record->'client_occurred_at',
                                                         'user_agent', record->'user_agent')),
           (record->>'received_at')::timestamptz
    FROM (SELECT DISTINCT ON ((doc->>'event_id')::uuid) doc FROM {STAGED_JSON}  -- a copy of each: the first
          ORDER BY (doc->>'event_id')::uuid, (doc->'data'->>'received_at')::timestamptz) AS staged,
         LATERAL (SELECT doc->'data' AS record, doc->'data'->'event' AS event) AS parts
    -- A client's retry carries the event id of the first copy (the ingest names it by the client's
    -- id) but a later received_at, so the key alone would store it again: look the id up. One
    -- lookup per event (OFFSET 0 keeps it a subquery): planned as an anti-join, it read every event
    -- the tenant ever stored for a batch of two (43,565 rows, 41 ms; issue 21's capacity run).
    WHERE NOT EXISTS (SELECT FROM analytics_events e WHERE e.id = (staged.doc->>'event_id')::uuid OFFSET 0)
    ON CONFLICT DO NOTHING  -- the key deduplicates: a redelivered event is stored, and counted, once
    RETURNING user_id, event_type, video_id, data, (occurred_at AT TIME ZONE 'UTC')::date AS day),
counts AS (
    INSERT INTO daily_counts (tenant_id, day, event_type, events)
    SELECT CAST(:tenant AS uuid), day, event_type, count(*) FROM stored GROUP BY day, event_type ORDER BY 2, 3
    ON CONFLICT (tenant_id, day, event_type) DO UPDATE SET events = daily_counts.events + excluded.events),
new_users AS (
    INSERT INTO daily_users (tenant_id, day, user_id)
    SELECT DISTINCT CAST(:tenant AS uuid), day, user_id FROM stored
    ON CONFLICT DO NOTHING RETURNING day),
active AS (
    INSERT INTO daily_active (tenant_id, day, users)
    SELECT CAST(:tenant AS uuid), day, count(*) FROM new_users GROUP BY day ORDER BY day
    ON CONFLICT (tenant_id, day) DO UPDATE SET users = daily_active.users + excluded.users),
plays AS (  -- each heartbeat's played ranges as buckets, per student, video and bucket
    SELECT s.user_id AS student_id, s.video_id, b.bucket, count(*) AS plays
    FROM stored s
    CROSS JOIN LATERAL jsonb_array_elements(s.data->'played') AS r
    CROSS JOIN LATERAL generate_series(floor((r->>'start')::float8 / :size)::int,
                                       floor(((r->>'end')::float8 - 1e-9) / :size)::int) AS b(bucket)
    WHERE s.event_type = 'video.heartbeat' AND (r->>'end')::float8 > (r->>'start')::float8
    GROUP BY 1, 2, 3),
known AS (  -- (a lookup per pair: estimates of set-returning functions are poor, and a hash join read every row)
    SELECT k.* FROM (SELECT DISTINCT video_id, student_id FROM plays) AS p
    CROSS JOIN LATERAL (SELECT student_id, video_id, buckets FROM student_video_buckets
                        WHERE tenant_id = CAST(:tenant AS uuid) AND video_id = p.video_id
                          AND student_id = p.student_id FOR UPDATE) AS k),
scored AS (  -- a bucket a student plays for the first time is a view; again, a rewatch
    SELECT p.*, coalesce(p.bucket = ANY (k.buckets), false) AS seen
    FROM plays p LEFT JOIN known k USING (student_id, video_id)),
students AS (
    INSERT INTO student_video_buckets (student_id, video_id, tenant_id, buckets, furthest)
    SELECT n.student_id, n.video_id, CAST(:tenant AS uuid), merged.buckets, merged.buckets[cardinality(merged.buckets)]
    FROM (SELECT student_id, video_id, array_agg(bucket) AS new FROM scored WHERE NOT seen GROUP BY 1, 2) AS n
    LEFT JOIN known k USING (student_id, video_id)
    CROSS JOIN LATERAL (SELECT array_agg(x ORDER BY x) AS buckets
                        FROM unnest(coalesce(k.buckets, '{{}}') || n.new) AS x) AS merged
    ORDER BY n.video_id, n.student_id
    ON CONFLICT (tenant_id, video_id, student_id) DO UPDATE SET buckets = excluded.buckets, furthest = excluded.furthest)
INSERT INTO video_buckets (video_id, bucket, tenant_id, views, rewatches)
SELECT video_id, bucket, CAST(:tenant AS uuid), count(*) FILTER (WHERE NOT seen),
       sum(plays) - count(*) FILTER (WHERE NOT seen)
FROM scored GROUP BY video_id, bucket ORDER BY video_id, bucket
ON CONFLICT (tenant_id, video_id, bucket) DO UPDATE SET views = video_buckets.views + excluded.views,
                                             rewatches = video_buckets.rewatches + excluded.rewatches""")


async def client_events(session: AsyncSession, deliveries: list[Delivery]) -> None:
    """One tenant's client events of a polled batch: into analytics_events, and those stored for the
    first time into the daily counts and the per-bucket video engagement."""
    async with staged_json(session, [delivery.value for delivery in deliveries]):
        await session.execute(_CLIENT_EVENTS, {"tenant": deliveries[0].envelope.tenant_id, "size": BUCKET_SECONDS})


# --- domain events -----------------------------------------------------------------------------------


async def _audit(session: AsyncSession, envelope: Event) -> None:
    """Appends to the tenant's chain: each entry's hash covers the previous one's."""
    await session.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"),
                          {"k": f"audit:{envelope.tenant_id}"})
    head = (await session.execute(text("SELECT seq, hash FROM audit_heads WHERE tenant_id = :t"),
                                  {"t": envelope.tenant_id})).first()
    entry, link = next_link(head, envelope)
    await session.execute(text("""
        INSERT INTO audit_logs (tenant_id, seq, event_id, actor_id, action, target_type, target_id, correlation_id,
                                occurred_at, prev_hash, hash)
        VALUES (:tenant_id, :seq, :event_id, :actor_id, :action, :target_type, :target_id, :correlation_id,
                :occurred_at, :prev_hash, :hash)"""),
        {**entry, "occurred_at": envelope.occurred_at, "prev_hash": link.prev_hash, "hash": link.hash})
    await session.execute(text("""
        INSERT INTO audit_heads (tenant_id, seq, hash) VALUES (:t, :s, :h)
        ON CONFLICT (tenant_id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash"""),
        {"t": envelope.tenant_id, "s": link.seq, "h": link.hash})


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
        ON CONFLICT (tenant_id, id) DO UPDATE SET title = excluded.title, updated_at = excluded.updated_at
        WHERE lessons.updated_at <= excluded.updated_at"""),
        {"id": data.lesson_id, "t": envelope.tenant_id, "title": data.title,
         "by": getattr(data, "created_by_id", None) or envelope.actor_id, "at": envelope.occurred_at})


async def _milestone(session: AsyncSession, envelope: Event) -> None:
    data = envelope.data
    deleted = envelope.event_type == learning.MILESTONE_DELETED
    await session.execute(text("""
        INSERT INTO milestones (id, tenant_id, video_id, timestamp, title, deleted, updated_at)
        VALUES (:id, :t, :video, :ts, :title, :deleted, :at)
        ON CONFLICT (tenant_id, id) DO UPDATE SET timestamp = CASE WHEN excluded.deleted THEN milestones.timestamp
                                                        ELSE excluded.timestamp END,
                                       title = CASE WHEN excluded.deleted THEN milestones.title ELSE excluded.title END,
                                       deleted = excluded.deleted, updated_at = excluded.updated_at
        WHERE milestones.updated_at <= excluded.updated_at"""),
        {"id": data.milestone_id, "t": envelope.tenant_id, "video": data.video_id,
         "ts": 0.0 if deleted else data.timestamp, "title": "" if deleted else data.title, "deleted": deleted,
         "at": envelope.occurred_at})


async def _video(session: AsyncSession, envelope: Event) -> None:
    """Which lesson a video of this tenant belongs to: what the ingest and the engagement dashboard check."""
    data = envelope.data
    await session.execute(text("""
        INSERT INTO videos (tenant_id, id, lesson_id, updated_at) VALUES (:t, :id, :lesson, :at)
        ON CONFLICT (tenant_id, id) DO UPDATE SET lesson_id = excluded.lesson_id, updated_at = excluded.updated_at
        WHERE videos.updated_at <= excluded.updated_at"""),
        {"t": envelope.tenant_id, "id": data.video_id, "lesson": data.lesson_id, "at": envelope.occurred_at})


async def _milestone_and_video(session: AsyncSession, envelope: Event) -> None:
    await _milestone(session, envelope)
    await _video(session, envelope)


async def _questions(session: AsyncSession, envelope: Event) -> None:
    """The question ids this tenant owns, with their lesson: what the ingest checks."""
    data = envelope.data
    ids = [q.question_id for q in data.questions] if hasattr(data, "questions") else [data.question_id]
    await session.execute(text("""
        INSERT INTO questions (tenant_id, id, lesson_id) SELECT :t, q, :lesson FROM unnest(CAST(:ids AS uuid[])) q
        ORDER BY q ON CONFLICT DO NOTHING"""), {"t": envelope.tenant_id, "ids": ids, "lesson": data.lesson_id})


async def _generation_and_questions(session: AsyncSession, envelope: Event) -> None:
    await _generation(session, envelope)
    await _questions(session, envelope)


async def _attempt_and_question(session: AsyncSession, envelope: Event) -> None:
    await _attempt(session, envelope)
    await _questions(session, envelope)


async def _progress(session: AsyncSession, envelope: Event) -> None:
    data = envelope.data
    status = learning.progress_status(envelope.event_type, data)
    started_day, completed_day = learning.progress_days(envelope.event_type, data, envelope.occurred_at)
    # The lesson's started/completed counts, in total and per day (a student starts on the day of their
    # first progress event, completes on the day of their completion), move with the student's row: one
    # statement, one snapshot, so a redelivered event finds the row it already made and counts nothing.
    await session.execute(text("""
        WITH old AS (SELECT status FROM student_progress WHERE student_id = :s AND lesson_id = :l),
        up AS (
            INSERT INTO student_progress (student_id, lesson_id, tenant_id, completion_percent, average_score,
                                          total_time_spent, status, updated_at)
            VALUES (:s, :l, :t, :c, :a, :spent, :status, :at)
            ON CONFLICT (tenant_id, student_id, lesson_id) DO UPDATE SET
                completion_percent = excluded.completion_percent, average_score = excluded.average_score,
                total_time_spent = excluded.total_time_spent, status = excluded.status,
                updated_at = excluded.updated_at
            WHERE student_progress.updated_at <= excluded.updated_at
            RETURNING status),
        moved AS (
            SELECT (NOT EXISTS (SELECT 1 FROM old))::int AS started,
                   ((SELECT status FROM up) = 'COMPLETED'
                    AND COALESCE((SELECT status FROM old), '') <> 'COMPLETED')::int AS completed
            WHERE EXISTS (SELECT 1 FROM up)),
        stats AS (
            INSERT INTO lesson_stats (lesson_id, tenant_id, started, completed)
            SELECT :l, :t, started, completed FROM moved
            ON CONFLICT (tenant_id, lesson_id) DO UPDATE SET started = lesson_stats.started + excluded.started,
                                                  completed = lesson_stats.completed + excluded.completed)
        INSERT INTO lesson_days (lesson_id, day, tenant_id, started, completed)
        SELECT :l, day, :t, sum(started), sum(completed)
        FROM (SELECT CAST(:day AS date) AS day, started, 0 AS completed FROM moved
              UNION ALL SELECT CAST(:completed_day AS date), 0, completed FROM moved) AS moves
        GROUP BY day HAVING sum(started) + sum(completed) > 0 ORDER BY day
        ON CONFLICT (tenant_id, lesson_id, day) DO UPDATE SET started = lesson_days.started + excluded.started,
                                                   completed = lesson_days.completed + excluded.completed"""),
        {"s": data.student_id, "l": data.lesson_id, "t": envelope.tenant_id, "c": data.completion_percent,
         "a": data.average_score, "spent": data.total_time_spent, "status": status, "at": envelope.occurred_at,
         "day": started_day, "completed_day": completed_day})


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
    succeeded = envelope.event_type == learning.SUCCEEDED
    await session.execute(text("""
        INSERT INTO generation_outcomes (job_id, tenant_id, lesson_id, provider, succeeded, question_count,
                                         occurred_at)
        VALUES (:j, :t, :l, :p, :ok, :n, :at) ON CONFLICT DO NOTHING"""),
        {"j": data.job_id, "t": envelope.tenant_id, "l": data.lesson_id, "p": data.provider, "ok": succeeded,
         "n": len(data.questions) if succeeded else 0, "at": envelope.occurred_at})


async def _attempt(session: AsyncSession, envelope: Event) -> None:
    data = envelope.data
    await session.execute(text("""
        INSERT INTO question_results (student_id, question_id, tenant_id, lesson_id, first_fraction, first_correct,
                                      attempts, best_fraction)
        VALUES (:s, :q, :t, :l, :f, :c, 1, :f)
        ON CONFLICT (tenant_id, question_id, student_id) DO UPDATE SET attempts = question_results.attempts + 1,
            best_fraction = greatest(question_results.best_fraction, excluded.best_fraction)"""),
        {"s": data.student_id, "q": data.question_id, "t": envelope.tenant_id, "l": data.lesson_id,
         "f": learning.score_fraction(data.score, data.max_score),
         "c": learning.first_correct(data.is_correct, data.attempt_number)})
    if learning.counts_option_picks(data.selected_options, data.attempt_number):
        await session.execute(text("""
            INSERT INTO option_picks (question_id, option_id, tenant_id, picks)
            SELECT :q, o, :t, 1 FROM unnest(CAST(:options AS text[])) o
            ON CONFLICT (tenant_id, question_id, option_id) DO UPDATE SET picks = option_picks.picks + 1"""),
            {"q": data.question_id, "t": envelope.tenant_id, "options": list(data.selected_options)})


async def _erase(session: AsyncSession, envelope: Event) -> None:
    """The user's personal data leaves every analytics projection; their id stays as a pseudonym."""
    fields = "".join(f" - '{field}'" for field in PERSONAL_FIELDS)
    await session.execute(text(f"UPDATE analytics_events SET data = data{fields}, device_id = NULL "
                               "WHERE user_id = :u AND category <> 'domain'"), {"u": envelope.data.user_id})
    # Domain events carry ids only, but progress.session.ended.v1 named the student's device.
    await session.execute(text("UPDATE analytics_events SET data = data - 'device_id' "
                               "WHERE user_id = :u AND category = 'domain' AND data ? 'device_id'"),
                          {"u": envelope.data.user_id})


READ_MODELS = {
    "content.lesson.created.v1": _lesson,
    "content.lesson.updated.v1": _lesson,
    "content.lesson.published.v1": _lesson,
    "content.milestone.created.v1": _milestone_and_video,
    "content.milestone.updated.v1": _milestone_and_video,
    "content.milestone.deleted.v1": _milestone_and_video,
    "content.video.uploaded.v1": _video,
    "content.video.updated.v1": _video,
    "content.transcript.ready.v1": _video,
    "progress.lesson.progressed.v1": _progress,
    "progress.lesson.completed.v1": _progress,
    "assessment.ai_usage.recorded.v1": _ai_usage,
    "assessment.questions.generated.v1": _generation_and_questions,
    "assessment.generation.failed.v1": _generation,
    "assessment.attempt.graded.v1": _attempt_and_question,
    "assessment.question.approved.v1": _questions,
    "assessment.question.edited.v1": _questions,
    "identity.user.erased.v1": _erase,
}

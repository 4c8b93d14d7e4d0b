"""The telemetry projection is one SQL statement over the events' JSON; here it is held against
a plain Python reading of the rules on a random event set, delivered in batches with duplicates."""

from __future__ import annotations

import json
import random
import uuid
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from cuepoint.analytics.bootstrap import input_consumers
from cuepoint.analytics.projections import BUCKET_SECONDS, client_events
from cuepoint.contracts import analytics
from cuepoint.contracts.envelope import new_envelope
from cuepoint.contracts.topics import CLIENT_EVENTS
from cuepoint.runtime.consumer import DeadLetters, Delivery
from cuepoint.runtime.db import tenant_transaction
from tests.support.streams import read_topic

pytestmark = pytest.mark.integration


def _events(rng: random.Random, tenant: uuid.UUID) -> list:
    students, videos, lesson = [uuid.uuid4() for _ in range(5)], [uuid.uuid4() for _ in range(3)], uuid.uuid4()
    at = datetime.now(UTC) - timedelta(minutes=30)
    envelopes = []
    for index in range(400):
        at += timedelta(milliseconds=rng.randint(1, 2000))
        student, video = rng.choice(students), rng.choice(videos)
        if rng.random() < 0.8:
            played = []
            for _ in range(rng.randint(0, 3)):  # 0–3 ranges: empty, zero-length, overlapping, off bucket edges
                start = round(rng.uniform(0, 90), 2)
                played.append(analytics.PlayedRange(start=start, end=round(start + rng.choice([0, 0.4, 5, 7.3, 22]),
                                                                            2)))
            event = analytics.VideoHeartbeat(lesson_id=lesson, video_id=video, position=12.5, played=played)
        else:
            event = rng.choice([analytics.QuestionShown(lesson_id=lesson, question_id=uuid.uuid4()),
                                analytics.Navigation(path=f"/lessons/{lesson}"),
                                analytics.ClientError(message="stalled \"twice\" \\ again", source="player")])
        envelopes.append(new_envelope(analytics.ClientEventRecorded(
            user_id=student, device_id="tablet", client_event_id=uuid.uuid4(), client_occurred_at=at,
            received_at=at, user_agent="Mozilla/5.0" if index % 2 else None, event=event),
            tenant_id=tenant, producer="analytics"))
    return envelopes


def _reference(envelopes: list) -> tuple[dict, dict, Counter]:
    """The rules, read plainly: a bucket a student plays for the first time is a view, again a rewatch."""
    seen: dict[tuple, set[int]] = defaultdict(set)
    views, rewatches, counts = Counter(), Counter(), Counter()
    for envelope in envelopes:
        record, event = envelope.data, envelope.data.event
        counts[(record.received_at.date(), event.type)] += 1
        if event.type != "video.heartbeat":
            continue
        for played in event.played:
            if played.end <= played.start:
                continue
            buckets = range(int(played.start // BUCKET_SECONDS), int((played.end - 1e-9) // BUCKET_SECONDS) + 1)
            for bucket in buckets:
                (rewatches if bucket in seen[(record.user_id, event.video_id)] else views)[(event.video_id, bucket)] += 1
            seen[(record.user_id, event.video_id)].update(buckets)
    buckets = {key: (views[key], rewatches[key]) for key in views | rewatches}
    return buckets, {key: sorted(value) for key, value in seen.items() if value}, counts


async def test_the_statement_agrees_with_the_rules_read_plainly(analytics_context):
    rng = random.Random(20261125)
    tenant = uuid.uuid4()
    envelopes = _events(rng, tenant)
    deliveries = [Delivery(envelope, envelope.model_dump_json().encode()) for envelope in envelopes]
    # Batches of random sizes; a tenth of the events delivered again, in their batch or a later one.
    batches, offset = [], 0
    while offset < len(deliveries):
        size = rng.randint(1, 60)
        batches.append(deliveries[offset:offset + size])
        offset += size
    for delivery in rng.sample(deliveries, 40):
        rng.choice(batches[deliveries.index(delivery) // 60:] or batches[-1:]).append(delivery)
    for batch in batches:
        async with tenant_transaction(analytics_context.sessions, tenant) as session:
            await client_events(session, batch)

    expected_buckets, expected_students, expected_counts = _reference(envelopes)
    async with tenant_transaction(analytics_context.sessions, tenant) as session:
        stored = (await session.execute(text("SELECT count(*) FROM analytics_events"))).scalar()
        buckets = {(row.video_id, row.bucket): (row.views, row.rewatches) for row in await session.execute(text(
            "SELECT video_id, bucket, views, rewatches FROM video_buckets"))}
        students = {(row.student_id, row.video_id): (row.buckets, row.furthest) for row in await session.execute(
            text("SELECT student_id, video_id, buckets, furthest FROM student_video_buckets"))}
        counts = {(row.day, row.event_type): row.events for row in await session.execute(text(
            "SELECT day, event_type, events FROM daily_counts"))}
        active = (await session.execute(text("SELECT day, users FROM daily_active"))).all()
        sample = envelopes[1]
        data = (await session.execute(text("SELECT data FROM analytics_events WHERE id = :id"),
                                      {"id": sample.event_id})).scalar()

    assert stored == len(envelopes)  # the duplicates were stored once
    assert buckets == expected_buckets
    assert students == {key: (value, value[-1]) for key, value in expected_students.items()}
    assert counts == dict(expected_counts)
    assert [(day, users) for day, users in active] == [
        (day, len({e.data.user_id for e in envelopes if e.data.received_at.date() == day}))
        for day in sorted({e.data.received_at.date() for e in envelopes})]
    # The stored event is the client's event plus what analytics keeps of the record around it.
    assert data == {**json.loads(sample.data.event.model_dump_json()), "user_agent": "Mozilla/5.0",
                    "client_occurred_at": json.loads(sample.data.model_dump_json())["client_occurred_at"]}


async def test_an_event_the_database_refuses_is_dead_lettered_and_its_batch_is_stored(analytics_context, infra,
                                                                                     admin_connection):
    """A JSON string may hold U+0000 and pass the contract; PostgreSQL's jsonb refuses it. (The ingest API
    refuses such events; this one arrives as if another producer had sent it.)"""
    tenant, student, lesson, video = uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    at = datetime.now(UTC)

    def recorded(event):
        return new_envelope(analytics.ClientEventRecorded(
            user_id=student, device_id="tablet", client_event_id=uuid.uuid4(), client_occurred_at=at,
            received_at=at, event=event), tenant_id=tenant, producer="analytics")

    envelopes = [recorded(analytics.VideoHeartbeat(lesson_id=lesson, video_id=video, position=10,
                                                   played=[analytics.PlayedRange(start=0, end=10)])),
                 recorded(analytics.ClientError(message="bad \x00 byte")),
                 recorded(analytics.Navigation(path="/lessons"))]
    topic = infra.topic_prefix + CLIENT_EVENTS.name
    records = [type("Record", (), {"topic": topic, "partition": 0, "offset": offset, "key": student.bytes,
                                   "value": envelope.model_dump_json().encode(),
                                   "headers": [(k, v.encode()) for k, v in envelope.headers().items()]})()
               for offset, envelope in enumerate(envelopes)]
    dead_letters = DeadLetters(infra.bootstrap_servers, client_id="test")
    consumer = input_consumers(analytics_context, dead_letters)[CLIENT_EVENTS.name]
    consumer.max_tries, consumer.backoff = 2, 0.01
    try:
        await consumer.handle_batch(records)
    finally:
        await dead_letters.close()

    stored = admin_connection.execute("SELECT id FROM analytics.analytics_events WHERE tenant_id = %s",
                                      (tenant,)).fetchall()
    assert {row[0] for row in stored} == {envelopes[0].event_id, envelopes[2].event_id}
    assert admin_connection.execute("SELECT count(*) FROM analytics.video_buckets WHERE video_id = %s",
                                    (video,)).fetchone()[0] == 2  # the heartbeat's two buckets
    # This consumer deduplicates on the event store's key: even its one-by-one retry writes no inbox rows.
    assert admin_connection.execute("SELECT count(*) FROM analytics.inbox WHERE event_id = ANY(%s)",
                                    ([e.event_id for e in envelopes],)).fetchone()[0] == 0
    dead = await read_topic(infra, CLIENT_EVENTS.name + ".dlt", lambda e: e["tenant_id"] == str(tenant), expect=1)
    assert [e["event_id"] for e in dead] == [str(envelopes[1].event_id)]


def _rows_read(plan: dict, relation_prefix: str) -> int:
    """Rows the plan's scans of ``relation_prefix``'s tables returned, over all their loops."""
    own = plan.get("Actual Rows", 0) * plan.get("Actual Loops", 1) \
        if plan.get("Relation Name", "").startswith(relation_prefix) else 0
    return own + sum(_rows_read(child, relation_prefix) for child in plan.get("Plans", []))


async def test_a_batch_looks_up_its_own_events_only_however_many_its_tenant_stored(analytics_context):
    """Whether an event was stored before is asked of the event store by its id. Planned as a join, the
    question read every event its tenant ever stored (43,565 rows, 41 ms, for a batch of two, in
    bench/capacity.py): a batch's cost grew with the tenant's history."""
    from cuepoint.analytics.projections import _CLIENT_EVENTS
    from cuepoint.runtime.bulk import staged_json
    from cuepoint.runtime.db import set_tenant

    rng, tenant = random.Random(20261203), uuid.uuid4()
    history = _events(rng, tenant)
    for start in range(0, len(history), 100):
        async with tenant_transaction(analytics_context.sessions, tenant) as session:
            await client_events(session, [Delivery(e, e.model_dump_json().encode()) for e in history[start:start + 100]])
    async with analytics_context.sessions() as session, session.begin():
        await session.execute(text("ANALYZE analytics_events"))  # the statistics autovacuum would have by now
    batch = [Delivery(e, e.model_dump_json().encode()) for e in _events(rng, tenant)[:2]]
    async with analytics_context.sessions() as session:
        await session.begin()
        await set_tenant(session, tenant)
        async with staged_json(session, [delivery.value for delivery in batch]):
            explained = (await session.execute(text(f"EXPLAIN (ANALYZE, FORMAT JSON) {_CLIENT_EVENTS.text}"),
                                               {"tenant": tenant, "size": BUCKET_SECONDS})).scalar()
        await session.rollback()
    read = _rows_read(explained[0]["Plan"], "analytics_events")
    assert read <= len(batch), f"a batch of {len(batch)} read {read} of its tenant's {len(history)} stored events"

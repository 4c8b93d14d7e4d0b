"""Client telemetry into analytics' projection: sustained events/s vs a plain COPY baseline.

Needs `make infra` and analytics' migrations (`make up` or `make migrate`). In one run, on
topics of its own (a fresh prefix) and a tenant of its own:
- load: N client events (90 % heartbeats, the rest question, navigation and error events
  of students across videos), produced up front as the ingest API publishes them;
- baseline: the same rows COPied straight into a scratch copy of analytics_events (same
  columns and indexes, no Kafka, no inbox, no read models);
- analytics: the worker's batch consumer (the code `python -m cuepoint.analytics worker`
  runs): decode, COPY into the partitioned table (its key deduplicates), daily counts and
  per-bucket video engagement, timed from the first committed batch until every event is stored.
Prints both rates and their ratio; exits 1 under 20,000 events/s.

    .venv/bin/python bench/analytics_ingest.py [--events 200000]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta

import psycopg
from faststream.kafka import KafkaBroker

from cuepoint.analytics.bootstrap import input_consumers
from cuepoint.analytics.settings import AnalyticsSettings
from cuepoint.contracts import analytics
from cuepoint.contracts.envelope import new_envelope
from cuepoint.contracts.topics import CLIENT_EVENTS, all_topics
from cuepoint.runtime.consumer import DeadLetters
from cuepoint.runtime.db import libpq_dsn
from cuepoint.runtime.kafka import ensure_topics, prefixed
from cuepoint.runtime.service import ServiceContext, tune_garbage_collection
from kafka_load import produce

TARGET = 20_000.0


def client_events(count: int, tenant: uuid.UUID) -> list:
    rng = random.Random(7)
    students = [uuid.uuid4() for _ in range(max(1, count // 200))]
    lessons = [uuid.uuid4() for _ in range(20)]
    videos = {lesson: [uuid.uuid4() for _ in range(5)] for lesson in lessons}
    start = datetime.now(UTC) - timedelta(hours=1)
    envelopes = []
    for index in range(count):
        student = students[index % len(students)]
        lesson = lessons[hash(student) % len(lessons)]
        video = videos[lesson][index // len(students) % 5]
        at = start + timedelta(milliseconds=index)
        roll = rng.random()
        position = 10.0 * (index // len(students) % 60)
        if roll < 0.9:
            event = analytics.VideoHeartbeat(lesson_id=lesson, video_id=video, position=position + 10,
                                             played=[analytics.PlayedRange(start=position, end=position + 10)])
        elif roll < 0.95:
            event = analytics.QuestionShown(lesson_id=lesson, question_id=uuid.uuid4())
        elif roll < 0.99:
            event = analytics.Navigation(path=f"/lessons/{lesson}")
        else:
            event = analytics.ClientError(message="stalled", source="player")
        envelopes.append(new_envelope(analytics.ClientEventRecorded(
            user_id=student, device_id=f"d-{student.hex[:6]}", client_event_id=uuid.uuid4(), client_occurred_at=at,
            received_at=at, user_agent="bench/1.0", event=event), tenant_id=tenant, producer="analytics"))
    return envelopes


def copy_baseline(owner_url: str, envelopes: list, tenant: uuid.UUID) -> float:
    """The same rows, COPied into a scratch table shaped like analytics_events (indexes included)."""
    rows = []
    for envelope in envelopes:
        record, event = envelope.data, envelope.data.event
        rows.append((envelope.event_id, tenant, record.user_id, event.type, "playback", getattr(event, "lesson_id", None),
                     getattr(event, "video_id", None), None, record.device_id, event.model_dump_json(),
                     record.received_at))
    with psycopg.connect(libpq_dsn(owner_url)) as connection:
        connection.execute("CREATE TEMP TABLE copy_baseline (LIKE analytics.analytics_events INCLUDING DEFAULTS)")
        connection.execute("CREATE INDEX ON copy_baseline (tenant_id, event_type, occurred_at)")
        connection.execute("CREATE INDEX ON copy_baseline (video_id, occurred_at) WHERE video_id IS NOT NULL")
        connection.execute("CREATE INDEX ON copy_baseline (user_id, occurred_at)")
        connection.execute("CREATE INDEX ON copy_baseline USING gin (data jsonb_path_ops)")
        started = time.perf_counter()
        with connection.cursor() as cursor:
            for offset in range(0, len(rows), 2000):
                with cursor.copy("COPY copy_baseline (id, tenant_id, user_id, event_type, category, lesson_id, "
                                 "video_id, question_id, device_id, data, occurred_at) FROM STDIN") as copy:
                    for row in rows[offset:offset + 2000]:
                        copy.write_row(row)
                connection.commit()
        return len(rows) / (time.perf_counter() - started)


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=200_000)
    args = parser.parse_args()
    prefix = f"bench-{uuid.uuid4().hex[:8]}."
    settings = AnalyticsSettings(topic_prefix=prefix)
    bootstrap = settings.bootstrap_servers
    await ensure_topics(bootstrap, prefixed(all_topics(), prefix))
    tenant = uuid.uuid4()
    envelopes = client_events(args.events, tenant)
    print(f"producing {len(envelopes):,} client events …", file=sys.stderr)
    await produce(bootstrap, prefix + CLIENT_EVENTS.name, envelopes)
    baseline = copy_baseline(settings.owner_database_url, envelopes, tenant)
    count = len(envelopes)
    del envelopes
    tune_garbage_collection()  # as `worker` does

    context = ServiceContext("analytics", settings)
    dead_letters = DeadLetters(bootstrap, client_id="bench")
    broker = KafkaBroker(bootstrap, acks="all", enable_idempotence=True, log_level=logging.DEBUG)
    consumer = input_consumers(context, dead_letters)[CLIENT_EVENTS.name]
    consumer.subscribe(broker, context.topic(CLIENT_EVENTS.name))
    with psycopg.connect(libpq_dsn(settings.owner_database_url), autocommit=True) as connection:
        connection.execute("SELECT set_config('app.tenant_id', %s, false)", (str(tenant),))  # row-level security
        await broker.start()
        try:
            done = first = 0
            started = time.perf_counter()
            while done < count and time.perf_counter() - started < 600:
                await asyncio.sleep(0.5)
                done = connection.execute("SELECT count(*) FROM analytics.analytics_events WHERE tenant_id = %s",
                                          (tenant,)).fetchone()[0]  # (no inbox for this stream: the store dedupes)
                if not first and done:
                    first, started = done, time.perf_counter()
                elif first:
                    print(f"\r  analytics: {done:,}/{count:,} events, "
                          f"{(done - first) / (time.perf_counter() - started):,.0f}/s", end="", file=sys.stderr)
            elapsed = time.perf_counter() - started
            print(file=sys.stderr)
            stored = connection.execute("SELECT count(*) FROM analytics.analytics_events WHERE tenant_id = %s",
                                        (tenant,)).fetchone()[0]
        finally:
            await broker.stop()
            await dead_letters.close()
            await context.close()
    rate = (done - first) / elapsed
    print(f"baseline (plain COPY, same table shape): {baseline:,.0f} events/s")
    print(f"analytics projection:                    {rate:,.0f} events/s ({rate / baseline:.2f} of plain COPY)")
    if stored != count:
        print(f"FAIL: {stored:,} of {count:,} events stored", file=sys.stderr)
        return 1
    if rate < TARGET:
        print(f"FAIL: under the {TARGET:,.0f} events/s target", file=sys.stderr)
        return 1
    print(f"ok: at or above {TARGET:,.0f} events/s")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))

"""Client telemetry into analytics' projection: sustained events/s vs a plain COPY and a plain Kafka read.

Needs `make infra` and analytics' migrations (`make up` or `make migrate`). In one run, on
topics of its own (a fresh prefix) and a tenant of its own:
- load: N client events (90 % heartbeats, the rest question, navigation and error events
  of students across videos), produced up front as the ingest API publishes them;
- baselines: a plain aiokafka consumer reading all N records (no parsing, no database), and
  the same rows COPied straight into a scratch table shaped like analytics_events (same
  columns and indexes, GIN included, logged like it; no Kafka, no read models);
- analytics: W processes of `python -m cuepoint.analytics worker` (the deployment runs the
  worker as replicas; they split the topic's partitions), timed from the moment the group is
  stable with all W holding partitions until every event is stored: COPY into the partitioned
  table (its key deduplicates), daily counts and per-bucket video engagement.
Prints the rates and ratios; exits 1 under 20,000 events/s. Each worker runs CUEPOINT_TELEMETRY_CONSUMERS
Kafka consumers of the group (default 1); the default --workers is what `make up` and compose run.

    .venv/bin/python bench/analytics_ingest.py [--events 500000] [--workers 2]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.coordinator.protocol import ConsumerProtocolMemberAssignment

from cuepoint.analytics.settings import AnalyticsSettings
from cuepoint.contracts import analytics
from cuepoint.contracts.envelope import new_envelope
from cuepoint.contracts.topics import CLIENT_EVENTS, all_topics
from cuepoint.runtime.db import libpq_dsn
from cuepoint.runtime.kafka import ensure_topics, prefixed
from kafka_load import produce, raw_read

import report

TARGET = 20_000.0
GROUP = "analytics.client-events"
ROOT = Path(__file__).resolve().parents[1]


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
    scratch = f"analytics.bench_copy_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(libpq_dsn(owner_url)) as connection:
        connection.execute(f"CREATE TABLE {scratch} (LIKE analytics.analytics_events INCLUDING DEFAULTS, "
                           "PRIMARY KEY (id, occurred_at))")
        connection.execute(f"CREATE INDEX ON {scratch} (tenant_id, event_type, occurred_at)")
        connection.execute(f"CREATE INDEX ON {scratch} (video_id, occurred_at) WHERE video_id IS NOT NULL")
        connection.execute(f"CREATE INDEX ON {scratch} (user_id, occurred_at)")
        connection.execute(f"CREATE INDEX ON {scratch} USING gin (data jsonb_path_ops)")
        connection.commit()
        try:
            started = time.perf_counter()
            with connection.cursor() as cursor:
                for offset in range(0, len(rows), 2000):
                    with cursor.copy(f"COPY {scratch} (id, tenant_id, user_id, event_type, category, lesson_id, "
                                     "video_id, question_id, device_id, data, occurred_at) FROM STDIN") as copy:
                        for row in rows[offset:offset + 2000]:
                            copy.write_row(row)
                    connection.commit()
            return len(rows) / (time.perf_counter() - started)
        finally:
            connection.execute(f"DROP TABLE {scratch}")
            connection.commit()


async def members_with_partitions(admin: AIOKafkaAdminClient, group: str, topic: str) -> int:
    """How many members of the (stable) consumer group hold partitions of ``topic``."""
    response = (await admin.describe_consumer_groups([group]))[0]
    _error, _group, state, _protocol_type, _protocol, members, *_ = response.groups[0]
    if state != "Stable":
        return 0
    holding = 0
    for member in members:
        assignment = member[4]
        if assignment and any(t == topic and partitions
                              for t, partitions in ConsumerProtocolMemberAssignment.decode(assignment).assignment):
            holding += 1
    return holding


def start_workers(count: int, prefix: str, logs: Path) -> list[subprocess.Popen]:
    env = {**os.environ, "CUEPOINT_TOPIC_PREFIX": prefix}
    logs.mkdir(parents=True, exist_ok=True)
    return [subprocess.Popen([sys.executable, "-m", "cuepoint.analytics", "worker"], env=env, cwd=ROOT,
                             stdout=(logs / f"worker-{index}.log").open("w"), stderr=subprocess.STDOUT)
            for index in range(count)]


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=500_000)
    parser.add_argument("--workers", type=int, default=2, help="worker processes (replicas) of analytics")
    args = parser.parse_args()
    prefix = f"bench-{uuid.uuid4().hex[:8]}."
    settings = AnalyticsSettings(topic_prefix=prefix)
    bootstrap = settings.bootstrap_servers
    topic = prefix + CLIENT_EVENTS.name
    await ensure_topics(bootstrap, prefixed(all_topics(), prefix))
    tenant = uuid.uuid4()
    envelopes = client_events(args.events, tenant)
    count = len(envelopes)
    print(f"producing {count:,} client events …", file=sys.stderr)
    await produce(bootstrap, topic, envelopes)
    kafka_baseline = await raw_read(bootstrap, topic, count)
    copy_rate = copy_baseline(settings.owner_database_url, envelopes, tenant)
    del envelopes

    logs = ROOT / ".local" / "logs" / "bench"
    workers = start_workers(args.workers, prefix, logs)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    with psycopg.connect(libpq_dsn(settings.owner_database_url), autocommit=True) as connection:
        connection.execute("SELECT set_config('app.tenant_id', %s, false)", (str(tenant),))  # row-level security

        def stored() -> int:
            # The daily counts move in the statement that stores the events: the same number, read from a
            # handful of rows (counting the partition four times a second took a third of a core from the
            # workers being measured). The store itself is counted once at the end.
            return connection.execute("SELECT coalesce(sum(events), 0) FROM analytics.daily_counts WHERE tenant_id = %s",
                                      (tenant,)).fetchone()[0]

        try:
            deadline = time.perf_counter() + 900
            members = args.workers * settings.telemetry_consumers  # Kafka consumers in the group, in all
            while await members_with_partitions(admin, prefix + GROUP, topic) < members:  # joining; rebalancing
                if time.perf_counter() > deadline or any(worker.poll() is not None for worker in workers):
                    print(f"FAIL: the workers did not form a group (logs: {logs})", file=sys.stderr)
                    return 1
                await asyncio.sleep(0.2)
            first, started = stored(), time.perf_counter()
            done = first
            while done < count and time.perf_counter() < deadline:
                await asyncio.sleep(0.25)
                done = stored()
                print(f"\r  analytics: {done:,}/{count:,} events, "
                      f"{(done - first) / (time.perf_counter() - started):,.0f}/s", end="", file=sys.stderr)
            elapsed = time.perf_counter() - started
            print(file=sys.stderr)
            in_store = connection.execute("SELECT count(*) FROM analytics.analytics_events WHERE tenant_id = %s",
                                          (tenant,)).fetchone()[0]
        finally:
            for worker in workers:
                worker.terminate()
            for worker in workers:
                worker.wait(timeout=60)
            await admin.close()
            # The run's rows go (the tenant is its own): repeated runs should not each grow the
            # month's partition and its indexes, which would make later runs slower than earlier ones.
            for table in ("analytics_events", "daily_counts", "daily_users", "daily_active", "student_video_buckets",
                          "video_buckets"):
                connection.execute(f"DELETE FROM analytics.{table} WHERE tenant_id = %s", (tenant,))
    if done != count or in_store != count:
        print(f"FAIL: {in_store:,} of {count:,} events stored, {done:,} counted (logs: {logs})", file=sys.stderr)
        return 1
    if count - first < count // 2:
        print(f"FAIL: {first:,} events were stored before all {members} consumers held partitions; "
              "too few left to time (raise --events)", file=sys.stderr)
        return 1
    rate = (done - first) / elapsed
    print(f"baseline (plain aiokafka consumer, no processing): {kafka_baseline:,.0f} events/s")
    print(f"baseline (plain COPY, same table shape):           {copy_rate:,.0f} events/s")
    print(f"analytics projection, {args.workers} worker(s) × {settings.telemetry_consumers} consumers: {rate:,.0f} events/s "
          f"({rate / copy_rate:.2f} of plain COPY, {rate / kafka_baseline:.2f} of the plain read; "
          f"timed over {done - first:,} events)")
    report.record("analytics telemetry projection", ours=f"{rate:,.0f} events/s ({args.workers} workers)",
                  baseline=f"{copy_rate:,.0f} events/s (plain COPY); {kafka_baseline:,.0f}/s (plain read)",
                  ratio=f"{rate / copy_rate:.2f}× COPY", budget=f"≥ {TARGET:,.0f} events/s", met=rate >= TARGET)
    if rate < TARGET:
        print(f"FAIL: under the {TARGET:,.0f} events/s target", file=sys.stderr)
        return 1
    print(f"ok: at or above {TARGET:,.0f} events/s")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))

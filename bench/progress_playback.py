"""Playback telemetry into progress's projection: sustained events/s vs a raw Kafka read.

Needs `make infra` and progress's migrations (`make up` or `make migrate`). In one run, on
topics of its own (a fresh prefix) and a tenant of its own:
- catalogue: one lesson, 20 ten-minute videos, each with a required milestone and an
  approved question, published as content and assessment publish them, projected by
  progress's own consumers;
- load: N heartbeat events (students × videos × heartbeats, ten seconds apart, as the
  ingest API publishes them) produced up front;
- baseline: a plain aiokafka consumer reading all N records (no parsing, no database);
- progress: the worker's batch consumer (FastStream, the same code `python -m
  cuepoint.progress worker` runs) projecting all N, timed until every event has its inbox
  row (i.e. its transaction committed).
Prints both rates and their ratio; exits 1 if progress sustains under 5,000 events/s.

    .venv/bin/python bench/progress_playback.py [--students 500] [--heartbeats 10]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta

import psycopg
from faststream.kafka import KafkaBroker

from cuepoint.contracts import analytics, assessment, content
from cuepoint.contracts.envelope import new_envelope
from cuepoint.contracts.topics import CLIENT_EVENTS, all_topics
from cuepoint.progress.bootstrap import input_consumers
from cuepoint.progress.settings import ProgressSettings
from cuepoint.runtime.consumer import DeadLetters
from cuepoint.runtime.db import libpq_dsn
from cuepoint.runtime.kafka import ensure_topics, prefixed
from cuepoint.runtime.service import ServiceContext, tune_garbage_collection
from kafka_load import produce, raw_read

import report

TARGET = 5000.0
VIDEOS = 20


def inbox_count(connection: psycopg.Connection, group: str, since: datetime) -> int:
    return connection.execute("SELECT count(*) FROM progress.inbox WHERE consumer_group = %s AND processed_at >= %s",
                              (group, since)).fetchone()[0]


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=500)
    parser.add_argument("--heartbeats", type=int, default=10, help="per student and video")
    args = parser.parse_args()

    prefix = f"bench-{uuid.uuid4().hex[:8]}."
    settings = ProgressSettings(topic_prefix=prefix)
    bootstrap = settings.bootstrap_servers
    await ensure_topics(bootstrap, prefixed(all_topics(), prefix))
    tenant, teacher, lesson = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    videos = [uuid.uuid4() for _ in range(VIDEOS)]
    milestones = [uuid.uuid4() for _ in videos]
    catalogue = [content.LessonCreated(lesson_id=lesson, title="Bench", created_by_id=teacher)]
    for video, milestone in zip(videos, milestones, strict=True):
        catalogue += [
            content.VideoUploaded(video_id=video, lesson_id=lesson, title="v", storage_path="gs://b/o",
                                  content_type="video/mp4", size_bytes=1, checksum="AAAAAA==", duration_seconds=600),
            content.MilestoneCreated(milestone_id=milestone, video_id=video, lesson_id=lesson, timestamp=300,
                                     title="m", is_required=True)]
    catalogue.append(content.LessonPublished(lesson_id=lesson, version=1, title="Bench", created_by_id=teacher,
                                             video_ids=videos))
    questions = [assessment.QuestionApproved(question_id=uuid.uuid4(), milestone_id=m, lesson_id=lesson,
                                             type="TRUE_FALSE", points=1) for m in milestones]
    start = datetime.now(UTC) - timedelta(days=1)
    heartbeats = []
    for index in range(args.students):
        student = uuid.uuid4()
        for video in videos:
            for beat in range(args.heartbeats):
                at = start + timedelta(seconds=10 * (beat + 1))
                event = analytics.VideoHeartbeat(lesson_id=lesson, video_id=video, position=10.0 * (beat + 1),
                                                 played=[analytics.PlayedRange(start=10.0 * beat, end=10.0 * (beat + 1))])
                heartbeats.append(new_envelope(analytics.ClientEventRecorded(
                    user_id=student, device_id=f"device-{index}", client_event_id=uuid.uuid4(), client_occurred_at=at,
                    received_at=at, event=event), tenant_id=tenant, producer="analytics"))
    # One student's heartbeats interleave across videos, as a real session's would not; order per key holds.
    count = len(heartbeats)
    print(f"producing {count:,} heartbeats for {args.students} students × {VIDEOS} videos …", file=sys.stderr)
    await produce(bootstrap, prefix + "content.events",
                  [new_envelope(e, tenant_id=tenant, producer="content") for e in catalogue])
    await produce(bootstrap, prefix + "assessment.events",
                  [new_envelope(e, tenant_id=tenant, producer="assessment") for e in questions])
    await produce(bootstrap, prefix + "analytics.client-events", heartbeats)
    del heartbeats  # 100k live objects would make every garbage collection in the measured part slow
    tune_garbage_collection()  # as `worker` does

    raw_rate = await raw_read(bootstrap, prefix + "analytics.client-events", count)

    context = ServiceContext("progress", settings)
    dead_letters = DeadLetters(bootstrap, client_id="bench")
    since = datetime.now(UTC)
    # The worker's consumers, in two brokers: the catalogue first, then (timed) the telemetry.
    catalogue_broker, broker = (KafkaBroker(bootstrap, acks="all", enable_idempotence=True, log_level=logging.DEBUG)
                                for _ in range(2))
    for name, consumer in input_consumers(context, dead_letters, emit=True).items():
        context.subscribe(consumer, broker if name == CLIENT_EVENTS.name else catalogue_broker, name)
    with psycopg.connect(libpq_dsn(settings.owner_database_url), autocommit=True) as connection:
        connection.execute("SELECT set_config('app.tenant_id', %s, false)", (str(tenant),))  # row-level security
        await catalogue_broker.start()
        try:
            # Let the catalogue settle before the clock starts: the telemetry is what is measured.
            deadline = time.monotonic() + 120
            settled = ("SELECT (SELECT count(*) FROM progress.questions WHERE lesson_id = %(l)s) + "
                       "(SELECT count(*) FROM progress.videos WHERE lesson_id = %(l)s) + "
                       "(SELECT count(*) FROM progress.milestones WHERE lesson_id = %(l)s) + "
                       "(SELECT count(*) FROM progress.lessons WHERE id = %(l)s AND status = 'PUBLISHED')")
            while connection.execute(settled, {"l": lesson}).fetchone()[0] < 3 * VIDEOS + 1:
                if time.monotonic() > deadline:
                    print("FAIL: the catalogue was not projected within 2 minutes", file=sys.stderr)
                    return 1
                await asyncio.sleep(0.2)
            await broker.start()
            # Sustained rate: timed from the first committed batch (not the consumer group's join).
            done = first = 0
            started = time.perf_counter()
            while done < count:
                await asyncio.sleep(0.5)
                done = inbox_count(connection, "progress.playback", since)
                if not first and done:
                    first, started = done, time.perf_counter()
                    continue
                if first:
                    rate = (done - first) / (time.perf_counter() - started)
                    print(f"\r  progress: {done:,}/{count:,} events, {rate:,.0f}/s", end="", file=sys.stderr)
                if time.perf_counter() - started > 600:
                    break
            elapsed = time.perf_counter() - started
            print(file=sys.stderr)
            rows = connection.execute("SELECT count(*), sum(watched_seconds) FROM progress.video_progress "
                                      "WHERE tenant_id = %s", (tenant,)).fetchone()
        finally:
            await broker.stop()
            await catalogue_broker.stop()
            await dead_letters.close()
            await context.close()
    rate = (done - first) / elapsed
    expected_seconds = args.students * VIDEOS * min(300, 10 * args.heartbeats)
    print(f"baseline (plain aiokafka read): {raw_rate:,.0f} events/s")
    print(f"progress projection:            {rate:,.0f} events/s ({rate / raw_rate:.2f} of the raw read)")
    print(f"  {rows[0]:,} per-video rows, {rows[1]:,.0f} s watched (expected {expected_seconds:,})")
    report.record("progress playback projection", ours=f"{rate:,.0f} events/s",
                  baseline=f"{raw_rate:,.0f} events/s (plain aiokafka read)", ratio=f"{rate / raw_rate:.2f}×",
                  budget=f"≥ {TARGET:,.0f} events/s, every second played counted",
                  met=rate >= TARGET and rows[1] == expected_seconds)
    if rows[1] != expected_seconds:
        print("FAIL: the projection did not count what was played", file=sys.stderr)
        return 1
    if rate < TARGET:
        print(f"FAIL: under the {TARGET:,.0f} events/s target", file=sys.stderr)
        return 1
    print(f"ok: at or above {TARGET:,.0f} events/s")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))

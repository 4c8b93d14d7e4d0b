"""R4 — a rebuild from offset 0 against the live projection of the same events, progress and analytics.

Needs the infrastructure (`make infra`; PostgreSQL and Kafka from the CUEPOINT_* environment:
CUEPOINT_PG_PORT, CUEPOINT_PG_SUPERUSER_PASSWORD, CUEPOINT_KAFKA_BOOTSTRAP), not the services: a
rebuild empties its service's projections, so this runs on a scratch database of its own (created,
provisioned and migrated here, dropped at the end) and on topics of its own (a fresh prefix a round).
Each round, with the same events for both services:
- load: a published lesson of 20 videos with a required milestone and an approved question each
  (content.events, assessment.events), then for S students 10 heartbeats a video (client events)
  and a graded answer at each milestone (assessment.events), the Kafka timestamps those of a real
  session (a student's answer between the heartbeats around its milestone), so the topics
  interleave as they do live;
- live: (the catalogue projected first, then the rest produced) the services' workers as the platform runs them (`python -m cuepoint.<service> worker`:
  progress 1 process, analytics CUEPOINT_ANALYTICS_WORKERS, default 2), timed from the telemetry
  group's first committed offset (the groups have joined) until every group has committed every
  record (the offsets are committed after the database commits);
- rebuild: the workers stopped, the service's `rebuild` (bootstrap.rebuild, what
  `python -m cuepoint.<service> rebuild --yes` runs) from offset 0 into emptied projections, timed
  whole (emptying included);
- identical: in the first round the rebuild is done again in strict timestamp order (every record
  of another topic waiting for the pending client events, as replays did before), and every
  projection table's rows (a digest of each, every column) must be the same; the tables whose rows
  differ from the live path's are named (live, the groups apply the topics in no order between
  them: a graded answer may land before or after the heartbeats around it).
Prints the rates per round and their ratios; ``--rounds`` (default 3) gives the spread.

    .venv/bin/python bench/rebuild.py [--students 250] [--rounds 3] [--only progress,analytics]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import io
import os
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import psycopg
from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from cuepoint.contracts import analytics, assessment, content
from cuepoint.contracts.envelope import new_envelope
from cuepoint.contracts.topics import CLIENT_EVENTS, all_topics
from cuepoint.runtime.kafka import ensure_topics, prefixed
from cuepoint.runtime.migrations import upgrade
from cuepoint.runtime import replay
from cuepoint.runtime.provision import provision
from cuepoint.runtime.service import ServiceContext

import report

GOAL = 2.0
VIDEOS = 20
HEARTBEATS = 10
ROOT = Path(__file__).resolve().parents[1]
ROLE_PASSWORD = os.environ.get("CUEPOINT_DB_PASSWORD", "cuepoint-local")
SERVICES = ("progress", "analytics")
WORKERS = {"progress": 1, "analytics": int(os.environ.get("CUEPOINT_ANALYTICS_WORKERS", "2"))}


def admin_url(database: str = "postgres") -> str:
    password = os.environ.get("CUEPOINT_PG_SUPERUSER_PASSWORD", "cuepoint-admin")
    return f"postgresql://postgres:{password}@127.0.0.1:{os.environ.get('CUEPOINT_PG_PORT', '5432')}/{database}"


def events(students: int) -> list[tuple[str, int, object]]:
    """(topic, Kafka timestamp in ms, envelope) of one school day, in timestamp order."""
    tenant, teacher, lesson = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    videos = [uuid.uuid4() for _ in range(VIDEOS)]
    milestones = [uuid.uuid4() for _ in videos]
    questions = [uuid.uuid4() for _ in videos]
    start = datetime.now(UTC) - timedelta(days=1)
    ms = lambda at: int(at.timestamp() * 1000)  # noqa: E731
    out: list[tuple[str, int, object]] = []

    def add(topic: str, at: datetime, event: object, producer: str) -> None:
        out.append((topic, ms(at), new_envelope(event, tenant_id=tenant, producer=producer, occurred_at=at)))

    at = start - timedelta(hours=1)
    add("content.events", at, content.LessonCreated(lesson_id=lesson, title="Rebuild", created_by_id=teacher), "content")
    for index, (video, milestone, question) in enumerate(zip(videos, milestones, questions, strict=True)):
        at += timedelta(seconds=1)
        add("content.events", at, content.VideoUploaded(
            video_id=video, lesson_id=lesson, title=f"v{index}", storage_path="gs://b/o", content_type="video/mp4",
            size_bytes=1, checksum="AAAAAA==", duration_seconds=600), "content")
        add("content.events", at, content.MilestoneCreated(milestone_id=milestone, video_id=video, lesson_id=lesson,
                                                           timestamp=30, title="m", is_required=True), "content")
        add("assessment.events", at, assessment.QuestionApproved(question_id=question, milestone_id=milestone,
                                                                 lesson_id=lesson, type="TRUE_FALSE", points=1),
            "assessment")
    add("content.events", at + timedelta(seconds=1), content.LessonPublished(
        lesson_id=lesson, version=1, title="Rebuild", created_by_id=teacher, video_ids=videos), "content")
    for student_index in range(students):
        student = uuid.uuid4()
        session = start + timedelta(milliseconds=37 * student_index)
        for v, (video, milestone, question) in enumerate(zip(videos, milestones, questions, strict=True)):
            for beat in range(HEARTBEATS):
                at = session + timedelta(seconds=10 * (v * HEARTBEATS + beat + 1))
                heartbeat = analytics.VideoHeartbeat(lesson_id=lesson, video_id=video, position=10.0 * (beat + 1),
                                                     played=[analytics.PlayedRange(start=10.0 * beat,
                                                                                   end=10.0 * (beat + 1))])
                add("analytics.client-events", at, analytics.ClientEventRecorded(
                    user_id=student, device_id=f"device-{student_index}", client_event_id=uuid.uuid4(),
                    client_occurred_at=at, received_at=at, event=heartbeat), "analytics")
                if beat == 3:  # the milestone at 30 s: answered (correctly on the first attempt) right after
                    answered = at + timedelta(seconds=5)
                    add("assessment.events", answered, assessment.AttemptGraded(
                        attempt_id=uuid.uuid4(), student_id=student, question_id=question, milestone_id=milestone,
                        video_id=video, lesson_id=lesson, attempt_number=1, max_attempts=3, is_correct=True,
                        score=Decimal(1), max_score=Decimal(1), milestone_answered=True, attempts_left=2,
                        answered_at=answered), "assessment")
    out.sort(key=lambda item: item[1])
    return out


async def load(bootstrap: str, prefix: str, items: list[tuple[str, int, object]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=20,
                                max_batch_size=1 << 20)
    await producer.start()
    try:
        pending = []
        for topic, timestamp, envelope in items:
            pending.append(await producer.send(prefix + topic, envelope.model_dump_json().encode(),
                                               key=envelope.key.encode(), timestamp_ms=timestamp,
                                               headers=[(k, v.encode()) for k, v in envelope.headers().items()]))
            if len(pending) >= 5000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        await producer.stop()


async def input_topics(service: str) -> dict[str, str]:
    """Topic name (unprefixed) → consumer group, as the worker subscribes them."""
    bootstrap_module = importlib.import_module(f"cuepoint.{service}.bootstrap")
    context = ServiceContext(service, settings_for(service, ""))
    try:
        found = (bootstrap_module.input_consumers(context, None, emit=True) if service == "progress"
                 else bootstrap_module.input_consumers(context, None))
        return {topic: consumer.group_id for topic, consumer in found.items()}
    finally:
        await context.close()


def settings_for(service: str, prefix: str, database: str | None = None):
    if service == "progress":
        from cuepoint.progress.settings import ProgressSettings as Settings
    else:
        from cuepoint.analytics.settings import AnalyticsSettings as Settings
    return Settings(topic_prefix=prefix, **({"pg_database": database} if database else {}))


async def committed(admin: AIOKafkaAdminClient, groups: dict[str, str], prefix: str) -> dict[str, int]:
    """Records committed, by topic (unprefixed)."""
    found = {}
    for topic, group in groups.items():
        offsets = await admin.list_consumer_group_offsets(prefix + group)
        found[topic] = sum(meta.offset for tp, meta in offsets.items() if tp.topic == prefix + topic and meta.offset > 0)
    return found


async def end_offsets(bootstrap: str, topics: list[str]) -> int:
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        partitions = [TopicPartition(t, p) for t in topics for p in (await consumer._client._wait_on_metadata(t) or ())]  # noqa: SLF001
        return sum((await consumer.end_offsets(partitions)).values())
    finally:
        await consumer.stop()


async def live(service: str, database: str, prefix: str, bootstrap: str, total: int, logs: Path,
               catalogue: int = 0, rest: list | None = None) -> float:
    """``rest``: records produced once the workers have projected the first ``catalogue`` records (a
    school's lessons exist before anyone watches them; a worker whose groups all start at once would
    otherwise see heartbeats of videos it does not know yet)."""
    groups = await input_topics(service)
    env = {**os.environ, "CUEPOINT_TOPIC_PREFIX": prefix, "CUEPOINT_PG_DATABASE": database, "CUEPOINT_METRICS_PORT": "0",
           "CUEPOINT_LOG_LEVEL": "WARNING"}
    workers = [subprocess.Popen([sys.executable, "-m", f"cuepoint.{service}", "worker"], env=env, cwd=ROOT,
                                stdout=(logs / f"{service}-worker-{i}.log").open("w"), stderr=subprocess.STDOUT)
               for i in range(WORKERS[service])]
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        first = done = 0
        started = time.perf_counter()
        deadline = time.monotonic() + 900
        while done < total:
            await asyncio.sleep(0.25)
            by_topic = await committed(admin, groups, prefix)
            done = sum(by_topic.values())
            if rest and done >= catalogue:
                await load(bootstrap, prefix, rest)
                rest = None
            # Timed from the telemetry group's first commit: by then every group has joined (the small
            # topics' groups may be done already), so the group joins are not what is measured.
            if not first and by_topic.get(CLIENT_EVENTS.name):
                first, started = done, time.perf_counter()
            if any(w.poll() is not None for w in workers):
                raise RuntimeError(f"a {service} worker exited (logs in {logs})")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{service}: {done:,}/{total:,} after 15 minutes")
        return (done - first) / (time.perf_counter() - started)
    finally:
        await admin.close()
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.wait(60)


async def rebuild(service: str, database: str, prefix: str) -> tuple[float, int]:
    bootstrap_module = importlib.import_module(f"cuepoint.{service}.bootstrap")
    context = ServiceContext(service, settings_for(service, prefix, database))
    out = io.StringIO()
    started = time.perf_counter()
    code = await bootstrap_module.rebuild(context, out=out)
    elapsed = time.perf_counter() - started
    if code:
        raise RuntimeError(f"{service} rebuild exited {code}: {out.getvalue()[-500:]}")
    line = next(line for line in out.getvalue().splitlines()[::-1] if "replayed" in line)
    count = int(line.split("replayed ")[1].split(" ")[0].replace(",", ""))
    return count / elapsed, count


def digests(database: str, service: str) -> dict[str, str]:
    if service == "progress":
        from cuepoint.progress.orm import PROJECTIONS
        tables = [t.name for t in PROJECTIONS]
    else:
        from cuepoint.analytics.operations import REBUILT
        tables = list(REBUILT)
    with psycopg.connect(admin_url(database)) as connection:
        return {t: connection.execute(f'SELECT count(*) || \':\' || coalesce(md5(string_agg(r::text, \'|\' ORDER BY r::text)), \'\') '
                                      f'FROM "{service}"."{t}" r').fetchone()[0] for t in tables}


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=250)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", default=",".join(SERVICES))
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    args = parser.parse_args()
    chosen = args.only.split(",")
    bootstrap = os.environ.get("CUEPOINT_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
    database = f"cuepoint_bench_rebuild_{uuid.uuid4().hex[:6]}"
    logs = ROOT / ".local" / "bench" / "rebuild"
    logs.mkdir(parents=True, exist_ok=True)
    provision(admin_url(), database, ROLE_PASSWORD, chosen)
    for service in chosen:
        spec = importlib.import_module(f"cuepoint.{service}.bootstrap").spec()
        upgrade(spec.migrations, schema=service, url=settings_for(service, "", database).owner_database_url)
    results: dict[str, list[tuple[float, float]]] = {s: [] for s in chosen}
    identical = {s: True for s in chosen}
    try:
        for round_ in range(args.rounds):
            prefix = f"bench-rb-{uuid.uuid4().hex[:6]}."
            await ensure_topics(bootstrap, prefixed(all_topics(), prefix))
            items = events(args.students)
            first_heartbeat = min(ts for topic, ts, _ in items if topic == CLIENT_EVENTS.name)
            catalogue = [item for item in items if item[1] < first_heartbeat - 60_000]  # the hour before the day
            rest: list | None = items[len(catalogue):]
            await load(bootstrap, prefix, catalogue)
            for service in chosen:
                topics = [prefix + t for t in await input_topics(service)]
                total = len(items) if rest else await end_offsets(bootstrap, topics)
                live_rate = await live(service, database, prefix, bootstrap, total, logs, len(catalogue), rest)
                rest = None
                before = digests(database, service)
                rebuild_rate, count = await rebuild(service, database, prefix)
                after = digests(database, service)
                # Live applies the topics in no order between them (informative, first round only: later
                # rounds' live rows sit beside the rows earlier rounds left, which a rebuild empties).
                changed = [t for t in before if before[t] != after[t]] if round_ == 0 else []
                strict_changed = []
                if round_ == 0:  # the same replay in strict timestamp order must give the very same rows
                    replay.PEOPLE_GO_AHEAD = False
                    try:
                        strict_rate, _ = await rebuild(service, database, prefix)
                        print(f"  {service}: a strictly ordered replay of the same records: {strict_rate:,.0f}/s "
                              f"({strict_rate / live_rate:.2f}× live)", flush=True)
                    finally:
                        replay.PEOPLE_GO_AHEAD = True
                    strict = digests(database, service)
                    strict_changed = [t for t in after if after[t] != strict[t]]
                identical[service] &= not strict_changed
                results[service].append((live_rate, rebuild_rate))
                print(f"round {round_ + 1} {service}: {total:,} records; live {live_rate:,.0f}/s, rebuild "
                      f"{rebuild_rate:,.0f}/s ({count:,} replayed) = {rebuild_rate / live_rate:.2f}× live; "
                      + ("" if round_ else (f"rows as live except {', '.join(changed)}" if changed
                                            else "rows identical to live") + "; "
                         + (f"DIFFERENT from a strictly ordered replay in {', '.join(strict_changed)}"
                                                  if strict_changed else "identical to a strictly ordered replay")),
                      flush=True)
    finally:
        if not args.keep:
            with psycopg.connect(admin_url(), autocommit=True) as admin:
                admin.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
    failed = False
    for service in chosen:
        ratios = [r / l for l, r in results[service]]
        ratio = statistics.median(ratios)
        lives, rebuilds = [l for l, _ in results[service]], [r for _, r in results[service]]
        met = ratio >= GOAL and identical[service]
        failed |= not met
        print(f"{service}: rebuild {statistics.median(rebuilds):,.0f}/s against live {statistics.median(lives):,.0f}/s "
              f"= {ratio:.2f}× (rounds {min(ratios):.2f}–{max(ratios):.2f})")
        report.record(f"R4 {service} rebuild vs live",
                      ours=f"{statistics.median(rebuilds):,.0f} records/s (rebuild from offset 0, "
                           f"{args.students} students' day, {args.rounds} rounds)",
                      baseline=f"{statistics.median(lives):,.0f} records/s (live workers ×{WORKERS[service]}, same events)",
                      ratio=f"{ratio:.2f}× (rounds {min(ratios):.2f}–{max(ratios):.2f})",
                      budget=f"≥ {GOAL:.0f}× live, rows identical to a strictly ordered replay", met=met)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))

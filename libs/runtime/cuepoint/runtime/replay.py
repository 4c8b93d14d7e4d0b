"""Replaying topics from offset 0 through a service's own consumers (``rebuild`` commands).

Records are merged across topics and partitions in timestamp order (ties by topic,
partition, offset) — the order a live worker saw them in — and fed to the same consumer
objects the worker runs: the batch consumer for the high-volume topic, the per-event ones
for the rest. Inbox rows are written as the replay goes, so a worker started afterwards
skips what was replayed. Poison records are not dead-lettered a second time.
"""

from __future__ import annotations

import heapq
import sys
import time
from collections import deque
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, TextIO

import psycopg
from aiokafka import AIOKafkaConsumer, TopicPartition

from .db import libpq_dsn
from .projection_lock import take_for_rebuild

if TYPE_CHECKING:
    from .service import ServiceContext

BATCH = 2000


class AlreadyDeadLettered:
    """Stands in for DeadLetters during a replay: the live consumer dead-lettered these already."""

    def __init__(self) -> None:
        self.count = 0

    async def send(self, record: Any, *, group: str, reason: str, error: BaseException) -> None:
        self.count += 1

    async def close(self) -> None:
        pass


class Bar:
    def __init__(self, total: int, out: TextIO) -> None:
        self.total, self.out, self.done = total, out, 0
        self.started = self.shown = time.monotonic()

    def advance(self, count: int) -> None:
        self.done += count
        if time.monotonic() - self.shown >= 0.5:
            self.show()

    def show(self, end: str = "") -> None:
        self.shown = time.monotonic()
        rate = self.done / max(self.shown - self.started, 1e-6)
        share = self.done / self.total if self.total else 1.0
        filled = int(share * 30)
        self.out.write(f"\rrebuild [{'#' * filled}{'.' * (30 - filled)}] {self.done:,}/{self.total:,} records "
                       f"({share:.0%}, {rate:,.0f}/s){end}")
        self.out.flush()


async def replay(bootstrap_servers: str, topics: dict[str, Any], *, client_topic: str,
                 out: TextIO = sys.stderr) -> int:
    """Feeds every record of ``topics`` (name → consumer) up to the current end, in timestamp order."""
    kafka = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, enable_auto_commit=False, group_id=None,
                             max_poll_records=BATCH)
    await kafka.start()
    try:
        partitions = [TopicPartition(topic, p) for topic in topics
                      for p in sorted(kafka.partitions_for_topic(topic) or await _partitions(kafka, topic))]
        kafka.assign(partitions)
        await kafka.seek_to_beginning(*partitions)
        begin = await kafka.beginning_offsets(partitions)
        end = await kafka.end_offsets(partitions)
        live = [tp for tp in partitions if end[tp] > begin[tp]]
        bar = Bar(sum(end[tp] - begin[tp] for tp in live), out)
        buffers: dict[TopicPartition, deque[Any]] = {tp: deque() for tp in live}
        position = dict(begin)
        heap: list[tuple[int, str, int, int, TopicPartition]] = []
        pending_batch: list[Any] = []

        async def flush() -> None:
            if pending_batch:
                await topics[client_topic].handle_batch(list(pending_batch))
                bar.advance(len(pending_batch))
                pending_batch.clear()

        async def fill(tp: TopicPartition) -> None:
            while not buffers[tp] and position[tp] < end[tp]:
                fetched = await kafka.getmany(tp, timeout_ms=1000, max_records=BATCH)
                for record in fetched.get(tp, []):
                    position[tp] = record.offset + 1
                    if record.offset < end[tp]:
                        buffers[tp].append(record)
            if buffers[tp]:
                record = buffers[tp][0]
                heapq.heappush(heap, (record.timestamp, tp.topic, tp.partition, record.offset, tp))

        for tp in live:
            await fill(tp)
        while heap:
            _, _, _, _, tp = heapq.heappop(heap)
            record = buffers[tp].popleft()
            if tp.topic == client_topic:
                pending_batch.append(record)
                if len(pending_batch) >= BATCH:
                    await flush()
            else:
                await flush()
                await topics[tp.topic].handle_record(record)
                bar.advance(1)
            await fill(tp)
        await flush()
        bar.show(end="\n")
        return bar.done
    finally:
        await kafka.stop()


async def _partitions(kafka: AIOKafkaConsumer, topic: str) -> set[int]:
    await kafka._client.force_metadata_update()  # noqa: SLF001 - aiokafka has no public "refresh"
    return kafka.partitions_for_topic(topic) or set()



def confirmed(yes: bool, what: str) -> int | None:
    """None when a rebuild may go ahead; else its exit code (asked on a terminal, refused without one)."""
    if yes:
        return None
    if not sys.stdin.isatty():
        print(f"rebuild empties {what}; run it with --yes to confirm", file=sys.stderr)
        return 2
    answer = input(f"Empty {what} and replay all events? Stop the worker first. [y/N] ")
    return None if answer.lower() == "y" else 1


async def rebuild(context: ServiceContext, consumers: dict[str, Any], *, tables: Iterable[str], client_topic: str,
                  dead: AlreadyDeadLettered, out: TextIO = sys.stderr) -> int:
    """A service's ``rebuild``: empty ``tables`` and the consumers' inbox rows, then replay every topic
    (unprefixed name → consumer) from offset 0. Truncating runs as the owner: TRUNCATE is not subject to
    row-level security, so every tenant's rows go. Closes the context."""
    schema = context.name
    groups = [consumer.group_id for consumer in consumers.values()]
    # Held until the replay ends: workers must not apply live events meanwhile (projection_lock.py).
    lock = psycopg.connect(libpq_dsn(context.settings.owner_database_url), autocommit=True)
    try:
        running = take_for_rebuild(lock, schema)
        if running:
            await context.close()
            print(f"{schema}: not rebuilt: {running} worker process{'es' if running > 1 else ''} of {schema} "
                  "running would race the replay. Stop them first (locally: deploy/local/services.sh down; "
                  "in Kubernetes: scale the worker Deployment to 0), rebuild, then start them again.", file=out)
            return 2
        with psycopg.connect(libpq_dsn(context.settings.owner_database_url)) as connection:
            connection.execute("TRUNCATE " + ", ".join(f'"{schema}"."{table}"' for table in tables))
            connection.execute(f'DELETE FROM "{schema}".inbox WHERE consumer_group = ANY(%s)', (groups,))
        try:
            count = await replay(context.settings.bootstrap_servers,
                                 {context.topic(name): consumer for name, consumer in consumers.items()},
                                 client_topic=context.topic(client_topic), out=out)
        finally:
            await context.close()
    finally:
        lock.close()
    print(f"{schema}: replayed {count:,} records"
          + (f" ({dead.count} unreadable, dead-lettered before)" if dead.count else ""), file=out)
    return 0

"""Replaying topics from offset 0 through a service's own consumers (``rebuild`` commands).

Records are merged across topics and partitions in timestamp order (ties by topic,
partition, offset) — the order a live worker saw them in — and fed to the same consumer
objects the worker runs: the batch consumer for the high-volume topic (up to ``WINDOW`` client
events a batch), the per-event ones for the rest, a run of one topic's records in one
transaction (``IdempotentConsumer.handle_records``). To keep the client batches large, a record
keyed by a person may go ahead of other people's pending client events (see ``take``); one
person's events, and the catalogue against everything, keep their order.
Inbox rows are written as the replay goes, so a worker started afterwards
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
# False: every record of another topic waits for the pending client events (strict timestamp order, as
# replays did before; bench/rebuild.py compares both).
PEOPLE_GO_AHEAD = True
WINDOW = 5000  # client events a replay applies together: what a live batch consumer polls (5,000)


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
        # In timestamp order, except that a record of another topic keyed by a person (a key some client
        # event carries: a graded answer, a session event) may go ahead of the pending client events of
        # *other* people; every other record (the catalogue: lessons, videos, questions) and every record
        # of a person with pending client events waits for them, as it did live. Different people's
        # events touch different rows or commutative counts; one person's, and what names lessons and
        # videos, keep their order. So the client batches stay large and the rest goes in runs.
        client: list[Any] = []          # pending client events, in order
        client_keys: set[Any] = set()
        run: list[Any] = []             # pending records of one other topic, in order
        run_keys: set[Any] = set()
        people: set[Any] = set()        # keys of client events seen so far

        async def flush_run() -> None:
            if run:
                consumer = topics[run[0].topic]
                if _takes_runs(consumer):
                    await consumer.handle_records(list(run))
                else:
                    for record in run:
                        await consumer.handle_record(record)
                bar.advance(len(run))
                run.clear()
                run_keys.clear()

        async def flush_client() -> None:
            if client:
                await topics[client_topic].handle_batch(list(client))
                bar.advance(len(client))
                client.clear()
                client_keys.clear()

        async def take(record: Any) -> None:
            if record.topic == client_topic:
                if record.key in run_keys:
                    await flush_run()
                client.append(record)
                client_keys.add(record.key)
                people.add(record.key)
                if len(client) >= WINDOW:
                    await flush_run()  # what went ahead of the batch is applied before it
                    await flush_client()
                return
            if run and (run[0].topic != record.topic or len(run) >= BATCH):
                await flush_run()
            if not PEOPLE_GO_AHEAD or record.key not in people or record.key in client_keys:
                await flush_run()
                await flush_client()
            run.append(record)
            run_keys.add(record.key)

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
            await take(buffers[tp].popleft())
            await fill(tp)
        await flush_run()
        await flush_client()
        bar.show(end="\n")
        return bar.done
    finally:
        await kafka.stop()


def _takes_runs(consumer: Any) -> bool:
    """An IdempotentConsumer whose records are all alike (a subclass that treats some records apart,
    tombstones say, overrides handle_record, and is fed one record at a time)."""
    from .consumer import IdempotentConsumer

    return isinstance(consumer, IdempotentConsumer) and type(consumer).handle_record is IdempotentConsumer.handle_record


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

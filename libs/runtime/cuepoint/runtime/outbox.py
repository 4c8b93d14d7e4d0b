"""The transactional outbox: events are written with the state change, then relayed.

Writing (:class:`Outbox`): an event row is inserted into ``<schema>.outbox`` inside the
caller's transaction, so it exists if and only if the state change committed. Before
inserting, the writer takes a transaction-level advisory lock on the event's key:
two transactions emitting events for the same key are serialised, so for one key the
outbox ids are assigned in commit order and the relay, publishing in id order,
publishes each key's events in the order their transactions committed.

Relaying (:class:`OutboxRelay`): one relay per service holds a session advisory lock
(others wait as hot standbys, so several relay processes never double-publish in the
normal case). It is woken by LISTEN/NOTIFY on commit, with a polling fallback, reads
unpublished rows in id order, publishes them with an idempotent producer and
``acks=all``, and marks a row published only after the broker acknowledged it. A broker
outage stalls the relay; nothing is lost or reordered (see ``_publish_batch``). A stalled
relay says so every ``stalled_after`` seconds, and stops when told to, outage or not.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass
from typing import Any

import psycopg
from aiokafka import AIOKafkaProducer
from sqlalchemy.ext.asyncio import AsyncSession
from uuid6 import uuid7

from cuepoint.contracts.envelope import Envelope, Event, new_envelope
from cuepoint.contracts.registry import model_for

from .db import pipelined
from .kafka import relay_producer
from .logging import correlation_id
from .metrics import OUTBOX_PUBLISH_FAILURES as RELAY_FAILURES
from .metrics import OUTBOX_PUBLISH_LATENCY
from .metrics import OUTBOX_PUBLISHED as EVENTS_PUBLISHED

log = logging.getLogger(__name__)

MAX_EVENT_BYTES = 900_000
"""Below the broker's default 1 MiB message limit: an event that cannot be published is
refused when written, with the state change, rather than stalling the relay later."""


def outbox_channel(schema: str) -> str:
    """The LISTEN/NOTIFY channel a commit to ``schema``'s outbox wakes its relay on (the trigger is
    made by migrations.outbox_sql)."""
    return f"cuepoint_outbox_{schema}"


class EventTooLarge(ValueError):
    pass


# Taken before a key's event is written: a key's events are published in their transactions' order.
KEY_LOCK_SQL = "SELECT pg_advisory_xact_lock(hashtextextended(%(lock)s, 0))"


class Outbox:
    """Writes events into a service's outbox inside the caller's transaction."""

    def __init__(self, schema: str, producer: str, *, topic_prefix: str = "") -> None:
        self.schema = schema
        self.producer = producer
        self.topic_prefix = topic_prefix
        self._insert = (
            f'INSERT INTO "{schema}".outbox (event_id, event_type, topic, key, value, headers) '
            "VALUES (%(event_id)s, %(event_type)s, %(topic)s, %(key)s, %(value)s, CAST(%(headers)s AS jsonb))"
        )

    async def _write(self, session: AsyncSession, topic: str, row: dict[str, Any]) -> None:
        """The key's lock, then the row, in one round trip (db.pipelined: sent one after the other they
        were two, on every event every service emits). The lock is still taken before the row is
        written, in the caller's transaction, so a key's events stay in their transactions' order."""
        await pipelined(session, [(KEY_LOCK_SQL, {"lock": f"outbox:{self.schema}:{topic}:{row['key']}"}),
                                  (self._insert, {**row, "topic": topic})])

    async def add(self, session: AsyncSession, envelope: Envelope[Any]) -> None:
        value = envelope.model_dump_json()
        if len(value.encode()) > MAX_EVENT_BYTES:
            raise EventTooLarge(f"{envelope.event_type} is {len(value)} bytes; events are limited to {MAX_EVENT_BYTES}")
        await self._write(session, self.topic_prefix + model_for(envelope.event_type).topic, {
            "event_id": envelope.event_id, "event_type": envelope.event_type, "key": envelope.key, "value": value,
            "headers": json.dumps(envelope.headers())})

    async def tombstone(self, session: AsyncSession, topic: str, key: str, *, tenant_id: Any) -> None:
        """Publishes a null value for ``key`` on a compacted topic: compaction then erases
        every earlier record of that key (e.g. a user's profile on erasure)."""
        await self._write(session, self.topic_prefix + topic, {
            "event_id": uuid7(), "event_type": "tombstone", "key": key, "value": None,
            "headers": json.dumps({"tenant_id": str(tenant_id), "tombstone": "true"})})

    async def emit(
        self,
        session: AsyncSession,
        data: Event,
        *,
        tenant_id: Any,
        actor_id: Any = None,
        causation_id: Any = None,
    ) -> Envelope[Any]:
        """Wraps ``data`` in an envelope (correlation id from the current request) and adds it."""
        envelope = new_envelope(
            data,
            tenant_id=tenant_id,
            producer=self.producer,
            correlation_id=correlation_id.get(),
            causation_id=causation_id,
            actor_id=actor_id,
        )
        await self.add(session, envelope)
        return envelope


@dataclass(frozen=True)
class _Row:
    id: int
    topic: str
    key: str
    value: str | None
    headers: dict[str, str]


class OutboxRelay:
    def __init__(
        self,
        *,
        dsn: str,
        schema: str,
        bootstrap_servers: str,
        batch_size: int = 500,
        poll_interval: float = 1.0,
        retry_backoff: float = 1.0,
        purge_after: str = "1 day",
        stalled_after: float = 30.0,
        producer_factory: Any = None,
    ) -> None:
        self.dsn = dsn
        self.schema = schema
        self.bootstrap_servers = bootstrap_servers
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.retry_backoff = retry_backoff
        self.purge_after = purge_after
        self.stalled_after = stalled_after
        self._producer_factory = producer_factory or (lambda: relay_producer(bootstrap_servers, client_id=f"{schema}-relay"))
        self._lock_key = f"outbox-relay:{schema}"
        self._channel = outbox_channel(schema)
        self.is_leader = asyncio.Event()

    async def run(self, stop: asyncio.Event) -> None:
        """Relays until ``stop`` is set, surviving database and broker outages."""
        while not stop.is_set():
            try:
                await self._run_connected(stop)
            except (psycopg.OperationalError, OSError) as error:
                self.is_leader.clear()
                log.warning("relay lost its database connection, reconnecting", extra={"error": str(error)})
                await _sleep_or_stop(stop, self.retry_backoff)
        self.is_leader.clear()

    async def _run_connected(self, stop: asyncio.Event) -> None:
        async with await psycopg.AsyncConnection.connect(self.dsn, autocommit=True) as control, \
                await psycopg.AsyncConnection.connect(self.dsn, autocommit=True) as work:
            while not stop.is_set():
                cursor = await control.execute("SELECT pg_try_advisory_lock(hashtextextended(%s, 0))", (self._lock_key,))
                if (await cursor.fetchone())[0]:
                    break
                await _sleep_or_stop(stop, self.poll_interval)
            if stop.is_set():
                return
            log.info("relay is the leader for this schema", extra={"schema": self.schema})
            self.is_leader.set()
            await control.execute(f'LISTEN "{self._channel}"')
            await self._relay_as_leader(stop, control, work)

    async def _relay_as_leader(self, stop: asyncio.Event, control: psycopg.AsyncConnection, work: psycopg.AsyncConnection) -> None:
        producer: AIOKafkaProducer | None = None
        purge_due = 0.0
        try:
            while not stop.is_set():
                if producer is None:
                    producer = await self._start_producer(stop)
                    if producer is None:
                        return
                rows = await self._fetch(work)  # (backlog and age: sampled apart, see sampling.py)
                published = await self._publish_batch(producer, rows, work, stop) if rows else 0
                if published < len(rows):
                    # The broker refused or timed out, or the relay is told to stop while the
                    # broker is away: start afresh from the first unpublished row with a new
                    # producer (new producer id/sequence); the old one must deliver nothing more.
                    if not stop.is_set():
                        RELAY_FAILURES.labels(self.schema).inc()
                    await _close(producer, abandon=True)
                    producer = None
                    await _sleep_or_stop(stop, self.retry_backoff)
                    continue
                loop_time = asyncio.get_running_loop().time()
                if loop_time >= purge_due:
                    await work.execute(
                        f'DELETE FROM "{self.schema}".outbox WHERE published_at < now() - %s::interval',
                        (self.purge_after,),
                    )
                    purge_due = loop_time + 300
                if len(rows) < self.batch_size:
                    await self._wait_for_notify(control, stop)
        finally:
            if producer is not None:
                await _close(producer, abandon=False)
            self.is_leader.clear()

    async def _start_producer(self, stop: asyncio.Event) -> AIOKafkaProducer | None:
        while not stop.is_set():
            producer = self._producer_factory()
            try:
                # start() waits for a producer id for as long as the broker gives none.
                starting = asyncio.ensure_future(producer.start())
                if not await _done_unless_stopped(starting, stop):
                    starting.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await starting
                    await _close(producer, abandon=True)
                    return None
                starting.result()
                return producer
            except Exception as error:  # broker unreachable: keep the backlog, retry
                await _close(producer, abandon=True)
                log.warning("relay cannot reach Kafka, retrying", extra={"error": repr(error)})
                await _sleep_or_stop(stop, self.retry_backoff)
        return None

    async def _fetch(self, work: psycopg.AsyncConnection) -> list[_Row]:
        cursor = await work.execute(
            f'SELECT id, topic, key, value, headers FROM "{self.schema}".outbox '
            "WHERE published_at IS NULL ORDER BY id LIMIT %s",
            (self.batch_size,),
        )
        return [_Row(*row) for row in await cursor.fetchall()]

    async def _publish_batch(
        self, producer: AIOKafkaProducer, rows: list[_Row], work: psycopg.AsyncConnection, stop: asyncio.Event
    ) -> int:
        """Publishes rows in id order; marks and returns the count of the acknowledged prefix.

        With idempotence on, aiokafka retries retriable errors without expiring the
        batch and keeps one batch in flight per partition, so a broker outage only
        delays the futures. If a batch does fail, the broker rejects the later
        batches of that partition (sequence gap), so no later event of a key overtakes
        an earlier one; the relay resumes from the first failed row.

        The wait for acknowledgements has no deadline (a broker may take minutes to lead
        its partitions again after a restart, and a new producer would wait just as long),
        but it logs a warning every ``stalled_after`` seconds and ends when ``stop`` is
        set; then only the prefix acknowledged so far is marked, the caller abandons the
        producer and the rest is published again by the next leader.
        """
        futures: list[asyncio.Future] = []

        async def send_all() -> None:
            try:
                for row in rows:
                    futures.append(
                        await producer.send(
                            row.topic,
                            value=None if row.value is None else row.value.encode(),
                            key=row.key.encode(),
                            headers=[(name, str(value).encode()) for name, value in row.headers.items()],
                        )
                    )
            except Exception as error:
                log.warning("relay could not enqueue an event", extra={"error": repr(error)})
            if futures:
                await asyncio.wait(futures)  # unlike gather, cancelling this leaves the futures alone

        sending = asyncio.ensure_future(send_all())
        started = asyncio.get_running_loop().time()
        while not await _done_unless_stopped(sending, stop, timeout=self.stalled_after):
            if stop.is_set():
                sending.cancel()  # a send in progress is withdrawn; sent events' futures stay as they are
                with contextlib.suppress(asyncio.CancelledError):
                    await sending
                break
            log.warning(
                "relay is waiting for the broker to acknowledge events",
                extra={"schema": self.schema, "events": len(rows) - sum(f.done() for f in futures),
                       "first_outbox_id": rows[0].id,
                       "waiting_s": round(asyncio.get_running_loop().time() - started)},
            )
        acknowledged = 0
        for future in futures:
            if not future.done() or future.cancelled():
                break
            if (error := future.exception()) is not None:
                log.warning("broker did not acknowledge an event", extra={"error": repr(error)})
                break
            acknowledged += 1
        for future in futures:  # retrieved, so that asyncio does not report them as never retrieved
            if future.done() and not future.cancelled():
                future.exception()
        if acknowledged:
            OUTBOX_PUBLISH_LATENCY.labels(self.schema).observe(asyncio.get_running_loop().time() - started)
            await work.execute(
                f'UPDATE "{self.schema}".outbox SET published_at = now() WHERE id = ANY(%s)',
                ([row.id for row in rows[:acknowledged]],),
            )
            EVENTS_PUBLISHED.labels(self.schema).inc(acknowledged)
        return acknowledged

    async def _wait_for_notify(self, control: psycopg.AsyncConnection, stop: asyncio.Event) -> None:
        # Any commit into the outbox NOTIFYs; the poll interval is the fallback (a
        # notification can be missed while reconnecting). Waiting in short slices keeps
        # the relay responsive to ``stop``.
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.poll_interval
        woken = False
        while not woken and not stop.is_set() and (remaining := deadline - loop.time()) > 0:
            async for _ in control.notifies(timeout=min(remaining, 0.5), stop_after=1):
                woken = True
        # Drain notifications of the same burst so one wake-up reads them all.
        async for _ in control.notifies(timeout=0.001):
            pass


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        pass


async def _done_unless_stopped(task: asyncio.Future, stop: asyncio.Event, timeout: float | None = None) -> bool:
    """Waits for ``task`` until ``stop`` is set or ``timeout`` passes; True if the task is done
    (it is neither cancelled nor awaited otherwise: the caller decides)."""
    stopping = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({task, stopping}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
    return task.done()


async def _close(producer: AIOKafkaProducer, *, abandon: bool) -> None:
    """Stops a producer. ``abandon``: the relay gave up on events it still holds and will
    publish them again with another producer; delivering them now would only duplicate them
    behind the new ones. aiokafka's stop() flushes (waiting for the broker however long it
    is away) and, cut short by a timeout, leaves its sender running, which delivers the
    batches whenever the broker returns: so the sender task is cancelled first (aiokafka has
    no public abort), then stop() returns at once. Only a request already on the wire may
    still land, which the consumers' inboxes absorb."""
    if abandon:
        sender_task = getattr(getattr(producer, "_sender", None), "sender_task", None)
        if sender_task is not None:
            sender_task.cancel()
    try:
        await asyncio.wait_for(producer.stop(), timeout=10)
    except Exception as error:
        log.debug("producer stop failed", extra={"error": repr(error)})

"""Idempotent Kafka consumers on FastStream, with dead-letter topics.

For each message: the handler's writes and an ``inbox`` row ``(consumer_group,
event_id)`` commit in one transaction, so a redelivered event is skipped; only then
is the offset committed (FastStream ``AckPolicy.MANUAL``, never auto-commit).

Failures never stall a partition:
- a value that is not a valid envelope, or whose payload fails its contract, goes
  straight to ``<topic>.dlt``;
- a handler error is retried with exponential backoff, and after ``max_tries`` the
  message goes to ``<topic>.dlt``;
- a handler that raises :class:`Unprocessable` says the event can never succeed: it is
  dead-lettered at once, without the retries;
- an infrastructure error (database unreachable, serialization failure) is retried
  without limit: dead-lettering an event because PostgreSQL restarted would lose it.
A run of ``max_consecutive_dead_letters`` dead letters with no event processed between them is
not bad events but a bad deploy (a handler that fails on everything, a producer writing
garbage): the consumer then halts before the next dead letter (as arroyo's DLQ limit does),
its offset stays where it is, its lag grows (the lag alert fires) and
``cuepoint_consumer_halted`` says why; a restart with the fix resumes where it stopped, so the
events behind the bad ones are processed, not dead-lettered.
Dead letters keep the original key, value and headers, plus ``dlt.*`` headers naming
the reason, the error, the consumer group and the original topic/partition/offset.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple, Protocol

import psycopg
from aiokafka import AIOKafkaProducer
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.middlewares import AckPolicy
from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cuepoint.contracts.envelope import Envelope
from cuepoint.contracts.registry import EVENT_TYPES, UnknownEventType, model_for
from cuepoint.contracts.topics import dead_letter_topic

from .db import SET_TENANT_SQL, pipelined, set_tenant
from .kafka import relay_producer
from .logging import correlation_id, log_context
from .metrics import CONSUMER_EVENTS as PROCESSED
from .metrics import CONSUMER_HALTED, CONSUMER_LATENCY, UNKNOWN_TYPES

log = logging.getLogger(__name__)

Handler = Callable[[AsyncSession, Envelope[Any]], Awaitable[None]]
BatchHandler = Callable[[AsyncSession, list[Envelope[Any]]], Awaitable[None]]

MAX_UNKNOWN_TYPE_LABELS = 50  # beyond, counted as "(other)": a stream of made-up types cannot grow the metric


class Record(Protocol):
    """What is used of an aiokafka ``ConsumerRecord``."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Sequence[tuple[str, bytes]]


# A joining consumer waits for every other member's next heartbeat before the group rebalances:
# at 1 s rather than Kafka's 3 s, a worker replica with six groups joins them in seconds, not ~20.
GROUP_OPTIONS = {"heartbeat_interval_ms": 1000, "session_timeout_ms": 10_000}


class Delivery(NamedTuple):
    """A validated event and the bytes it arrived as: for batch handlers that COPY the JSON itself
    into PostgreSQL and let it extract the columns (see ``BatchConsumer(deliveries=True)``)."""

    envelope: Envelope[Any]
    value: bytes


async def _undecoded(message: Any) -> None:
    """FastStream's body decoder, skipped: consumers validate ``raw_message`` themselves, and the
    default decoder would parse every message's JSON once more for nothing."""
    return None


class DeadLetters:
    """Publishes failed messages to ``<topic>.dlt`` and waits for the broker's ack."""

    def __init__(self, bootstrap_servers: str, *, client_id: str) -> None:
        self._bootstrap = bootstrap_servers
        self._client_id = client_id
        self._producer: AIOKafkaProducer | None = None
        self._lock = asyncio.Lock()

    async def send(self, record: Record, *, group: str, reason: str, error: BaseException) -> None:
        async with self._lock:
            if self._producer is None:
                producer = relay_producer(self._bootstrap, client_id=self._client_id)
                await producer.start()
                self._producer = producer
        headers = [(k, v) for k, v in record.headers if not k.startswith("dlt.")]
        headers += [
            ("dlt.reason", reason.encode()),
            ("dlt.error.class", type(error).__name__.encode()),
            ("dlt.error.message", str(error)[:4000].encode()),
            ("dlt.group", group.encode()),
            ("dlt.topic", record.topic.encode()),
            ("dlt.partition", str(record.partition).encode()),
            ("dlt.offset", str(record.offset).encode()),
            ("dlt.failed_at", datetime.now(UTC).isoformat().encode()),
        ]
        await self._producer.send_and_wait(
            dead_letter_topic(record.topic), value=record.value, key=record.key, headers=headers
        )

    async def close(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None


def is_transient(error: BaseException) -> bool:
    """Errors of the infrastructure rather than of the message: retry, never dead-letter. The driver's own
    (psycopg's, not wrapped by SQLAlchemy) come from statements sent past the ORM (db.pipelined)."""
    if isinstance(error, (OperationalError, InterfaceError, psycopg.OperationalError, psycopg.InterfaceError)):
        return True
    if isinstance(error, DBAPIError) and error.connection_invalidated:
        return True
    return isinstance(error, (ConnectionError, TimeoutError, OSError))


def _header(record: Record, name: str) -> str | None:
    for key, value in record.headers or ():
        if key == name:
            return value.decode(errors="replace")
    return None


@functools.cache
def _typed_envelope(event_type: str) -> type[Envelope[Any]]:
    """``Envelope[Model]`` of an event type, built once (parametrising a generic model is not free)."""
    return Envelope[model_for(event_type)]  # type: ignore[valid-type,misc]


class Unprocessable(Exception):
    """Raised by a handler for an event that will never succeed however often it is tried (it names
    a thing that cannot exist, breaks a rule of the data): dead-lettered at once, not retried."""


class _Rejected(Exception):
    def __init__(self, reason: str, error: BaseException) -> None:
        super().__init__(reason)
        self.reason = reason
        self.error = error


class _ConsumerBase:
    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        schema: str,
        group_id: str,
        event_types: Iterable[str],
        dead_letters: DeadLetters,
        max_tries: int = 5,
        backoff: float = 0.2,
        max_backoff: float = 30.0,
        max_consecutive_dead_letters: int = 100,
    ) -> None:
        self.sessions = sessions
        self.schema = schema
        self.group_id = group_id
        self.event_types = frozenset(event_types)
        self.dead_letters = dead_letters
        self.inbox = True  # (BatchConsumer may leave deduplication to its handler)
        self._unknown_types: set[str] = set()
        self.max_tries = max_tries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.max_consecutive_dead_letters = max_consecutive_dead_letters
        self._consecutive_dead_letters = 0
        self._claim_sql = (
            f'INSERT INTO "{schema}".inbox (consumer_group, event_id, topic, partition, "offset") '
            "SELECT %(group)s, * FROM unnest(CAST(%(ids)s AS uuid[]), CAST(%(topics)s AS text[]), "
            "CAST(%(partitions)s AS integer[]), CAST(%(offsets)s AS bigint[])) "
            "ON CONFLICT DO NOTHING RETURNING event_id"
        )

    def _decode(self, record: Record) -> Envelope[Any] | None:
        """The validated envelope; None for events this consumer does not handle.

        Raises ``_Rejected`` for messages that can never be processed.
        """
        header_type = _header(record, "event_type")
        if header_type is not None and header_type not in self.event_types:
            self._skipping(header_type, record)
            return None  # routed on the header, without parsing the value
        if record.value is None:
            return None  # a tombstone on a compacted topic
        if header_type is not None:  # the usual case: one parse, straight into the typed envelope
            try:
                envelope = _typed_envelope(header_type).model_validate_json(record.value)
                if envelope.event_type == header_type:
                    return envelope
            except (ValidationError, UnknownEventType):
                pass  # parse again below, to tell an invalid envelope from an invalid payload
        try:
            header = Envelope[dict].model_validate_json(record.value)  # type: ignore[type-var]
        except ValidationError as error:
            raise _Rejected("invalid-envelope", error) from error
        if header.event_type not in self.event_types:
            self._skipping(header.event_type, record)
            return None
        try:
            return _typed_envelope(header.event_type).model_validate_json(record.value)
        except (ValidationError, UnknownEventType) as error:
            raise _Rejected("invalid-payload", error) from error

    def _skipping(self, event_type: str, record: Record) -> None:
        """A type this consumer does not handle is skipped; one no contract knows (a newer producer's,
        a typo) is also counted and logged (once per type), so that it is seen and not silently lost."""
        if event_type in EVENT_TYPES:
            return
        PROCESSED.labels(self.group_id, "unknown-type").inc()
        if event_type not in self._unknown_types and len(self._unknown_types) < MAX_UNKNOWN_TYPE_LABELS:
            self._unknown_types.add(event_type)
            log.warning("skipping events of an unknown event type (logged once per type)",
                        extra={"group": self.group_id, "event_type": event_type[:200], "topic": record.topic,
                               "partition": record.partition, "offset": record.offset})
        UNKNOWN_TYPES.labels(self.group_id, event_type if event_type in self._unknown_types else "(other)").inc()

    async def _claim(self, session: AsyncSession, pairs: Sequence[tuple[Record, Envelope[Any]]]) -> set[Any]:
        """Inserts inbox rows; returns the event ids not processed before."""
        [claimed] = await pipelined(session, [(self._claim_sql, self._claim_params(pairs))])
        return {row.event_id for row in claimed}

    def _claim_params(self, pairs: Sequence[tuple[Record, Envelope[Any]]]) -> dict[str, Any]:
        return {"group": self.group_id, "ids": [envelope.event_id for _, envelope in pairs],
                "topics": [record.topic for record, _ in pairs], "partitions": [record.partition for record, _ in pairs],
                "offsets": [record.offset for record, _ in pairs]}

    async def _tenant_and_claim(self, session: AsyncSession, record: Record, envelope: Envelope[Any]) -> bool:
        """Sets the event's tenant and inserts its inbox row in one round trip (every event's first two
        statements: a round trip saved on each, e.g. on a graded answer's way to the teacher's view);
        whether it was not processed before."""
        if not self.inbox:
            await set_tenant(session, envelope.tenant_id)
            return True
        _, claimed = await pipelined(session, [(SET_TENANT_SQL, (str(envelope.tenant_id),)),
                                               (self._claim_sql, self._claim_params([(record, envelope)]))])
        return bool(claimed)

    async def _dead_letter(self, record: Record, reason: str, error: BaseException) -> None:
        if self._consecutive_dead_letters >= self.max_consecutive_dead_letters:
            await self._halt(record, reason, error)
        self._consecutive_dead_letters += 1
        log.error(
            "message sent to dead-letter topic",
            extra={"group": self.group_id, "reason": reason, "error": repr(error), "topic": record.topic,
                   "partition": record.partition, "offset": record.offset},
            exc_info=error if reason in ("handler-failed", "unprocessable") else None,  # a bug: its traceback is worth reading
        )
        await self.dead_letters.send(record, group=self.group_id, reason=reason, error=error)
        PROCESSED.labels(self.group_id, "dead-lettered").inc()

    def _processed(self, count: int = 1) -> None:
        PROCESSED.labels(self.group_id, "processed").inc(count)
        if count:
            self._consecutive_dead_letters = 0

    async def _halt(self, record: Record, reason: str, error: BaseException) -> None:
        """Stops this consumer for good (until the process restarts) instead of dead-lettering the
        next event: nothing is acknowledged past ``record``, so none of what follows is lost."""
        CONSUMER_HALTED.labels(self.group_id).set(1)
        log.critical(
            "consumer halted: too many dead letters in a row, the next one is kept on its topic; "
            "fix the cause and restart the process to resume from it",
            extra={"group": self.group_id, "consecutive_dead_letters": self._consecutive_dead_letters,
                   "reason": reason, "error": repr(error), "topic": record.topic, "partition": record.partition,
                   "offset": record.offset})
        await asyncio.Event().wait()  # until cancelled, at shutdown

    async def _apply_one(self, record: Record, envelope: Envelope[Any],
                         call: Callable[[AsyncSession], Awaitable[None]]) -> None:
        """One event in its own transaction with its inbox row (unless the handler deduplicates by
        itself); dead-lettered after ``max_tries``."""

        async def work() -> None:
            token = correlation_id.set(envelope.correlation_id)
            started = time.perf_counter()
            try:
                with log_context(group=self.group_id, tenant_id=envelope.tenant_id, event_id=envelope.event_id,
                                 event_type=envelope.event_type):
                    async with self.sessions() as session, session.begin():
                        fresh = await self._tenant_and_claim(session, record, envelope)
                        if fresh:
                            await call(session)
                    if fresh:
                        self._processed()
                    else:
                        PROCESSED.labels(self.group_id, "duplicate").inc()
                    log.info("event handled", extra={"outcome": "processed" if fresh else "duplicate",
                                                     "topic": record.topic, "partition": record.partition,
                                                     "offset": record.offset,
                                                     "duration_ms": round((time.perf_counter() - started) * 1000, 2)})
            finally:
                correlation_id.reset(token)

        async def give_up(error: BaseException) -> None:
            await self._dead_letter(record, "unprocessable" if isinstance(error, Unprocessable) else "handler-failed",
                                    error)

        await self._with_retries(work, record, on_give_up=give_up)

    def _subscriber_options(self, group_prefix: str, options: dict[str, Any]) -> dict[str, Any]:
        """What every subscription of ours sets: the environment's group, offsets committed by hand after
        the database commit, from the start of a new group, our own decoding, quick rebalances."""
        return {"group_id": group_prefix + self.group_id, "ack_policy": AckPolicy.MANUAL,
                "auto_offset_reset": "earliest", "decoder": _undecoded, **GROUP_OPTIONS, **options}

    def _delay(self, attempt: int) -> float:
        return min(self.max_backoff, self.backoff * 2 ** (attempt - 1))

    async def _with_retries(self, work: Callable[[], Awaitable[None]], record: Record, *, on_give_up: Any) -> None:
        attempt = 0
        while True:
            attempt += 1
            try:
                await work()
                return
            except Unprocessable as error:
                await on_give_up(error)
                return
            except Exception as error:
                if is_transient(error):
                    PROCESSED.labels(self.group_id, "retried").inc()
                    log.warning("transient failure, retrying", extra={"group": self.group_id, "error": repr(error)})
                    await asyncio.sleep(self._delay(min(attempt, 8)))
                    continue
                if attempt >= self.max_tries:
                    await on_give_up(error)
                    return
                PROCESSED.labels(self.group_id, "retried").inc()
                log.warning(
                    "handler failed, retrying",
                    extra={"group": self.group_id, "attempt": attempt, "error": repr(error), "offset": record.offset},
                )
                await asyncio.sleep(self._delay(attempt))


class IdempotentConsumer(_ConsumerBase):
    """One transaction per event, dispatched on ``event_type``."""

    def __init__(self, *, handlers: dict[str, Handler], **kwargs: Any) -> None:
        super().__init__(event_types=handlers.keys(), **kwargs)
        self.handlers = handlers

    async def handle_record(self, record: Record) -> None:
        try:
            envelope = self._decode(record)
        except _Rejected as rejected:
            await self._dead_letter(record, rejected.reason, rejected.error)
            return
        if envelope is None:
            PROCESSED.labels(self.group_id, "skipped").inc()
            return
        await self._apply(record, envelope)

    async def _apply(self, record: Record, envelope: Envelope[Any]) -> None:
        handler = self.handlers[envelope.event_type]
        await self._apply_one(record, envelope, lambda session: handler(session, envelope))

    async def handle_records(self, records: Sequence[Record]) -> None:
        """Several records of one partition-ordered run (a replay's): the same handlers in the same order
        as ``handle_record`` one after another, but in one transaction, inbox rows included; a run that
        fails is applied again one record per transaction (``handle_record``: retries, dead letters).
        What a rebuild saves here is a commit per event."""
        pairs: list[tuple[Record, Envelope[Any]]] = []
        for record in records:
            try:
                envelope = self._decode(record)
            except _Rejected:
                pairs.clear()
                break  # the one-by-one path dead-letters it, in its place in the run
            if envelope is None:
                PROCESSED.labels(self.group_id, "skipped").inc()
            else:
                pairs.append((record, envelope))
        else:
            if not pairs:
                return

            async def work() -> None:
                async with self.sessions() as session, session.begin():
                    tenant = None
                    fresh_total = 0
                    for record, envelope in pairs:
                        if envelope.tenant_id != tenant:
                            tenant = envelope.tenant_id
                            await set_tenant(session, tenant)
                        if not self.inbox or await self._claim(session, [(record, envelope)]):
                            await self.handlers[envelope.event_type](session, envelope)
                            fresh_total += 1
                self._processed(fresh_total)
                PROCESSED.labels(self.group_id, "duplicate").inc(len(pairs) - fresh_total)

            try:
                await work()
                return
            except Exception as error:  # noqa: BLE001 - the run is redone record by record, which decides
                log.warning("run failed, applying it one event at a time", extra={"group": self.group_id,
                                                                                  "error": repr(error)})
        for record in records:
            await self.handle_record(record)

    def subscribe(self, broker: KafkaBroker, topic: str, *, group_prefix: str = "", **options: Any) -> None:
        """``group_prefix``: the environment's prefix, as on its topics (see ``ServiceContext.subscribe``)."""
        @broker.subscriber(topic, **self._subscriber_options(group_prefix, options))
        async def consume(message: KafkaMessage) -> None:
            with CONSUMER_LATENCY.labels(self.group_id, "event").time():
                await self.handle_record(message.raw_message)
            await message.ack()


class BatchConsumer(_ConsumerBase):
    """For high-volume projections: one transaction per polled batch.

    The handler receives a tenant's new (not yet processed) events of the batch and
    should write them with COPY or one executemany. If a batch keeps failing, it is
    replayed one event per transaction so that only the poison events are dead-lettered.
    """

    def __init__(self, *, handler: BatchHandler, event_types: Iterable[str], inbox: bool = True,
                 deliveries: bool = False, **kwargs: Any) -> None:
        """``inbox=False``: the handler deduplicates by itself (e.g. on its table's primary key) and
        receives every event of the batch; one write per event saved. ``deliveries=True``: the handler
        receives :class:`Delivery` pairs (the envelope and its bytes) instead of envelopes."""
        super().__init__(event_types=event_types, **kwargs)
        self.handler = handler
        self.inbox = inbox
        self.deliveries = deliveries

    def _items(self, pairs: Sequence[tuple[Record, Envelope[Any]]]) -> list[Any]:
        if self.deliveries:
            return [Delivery(envelope, record.value) for record, envelope in pairs]  # type: ignore[arg-type]
        return [envelope for _, envelope in pairs]

    async def handle_batch(self, records: Sequence[Record]) -> None:
        pairs: list[tuple[Record, Envelope[Any]]] = []
        for record in records:
            try:
                envelope = self._decode(record)
            except _Rejected as rejected:
                await self._dead_letter(record, rejected.reason, rejected.error)
                continue
            if envelope is None:
                PROCESSED.labels(self.group_id, "skipped").inc()
            else:
                pairs.append((record, envelope))
        if not pairs:
            return
        by_tenant: dict[Any, list[tuple[Record, Envelope[Any]]]] = defaultdict(list)
        for pair in pairs:
            by_tenant[pair[1].tenant_id].append(pair)

        async def work() -> None:
            started = time.perf_counter()
            async with self.sessions() as session, session.begin():
                fresh_total = 0
                for tenant_id, tenant_pairs in by_tenant.items():
                    await set_tenant(session, tenant_id)
                    if self.inbox:
                        fresh = await self._claim(session, tenant_pairs)
                        tenant_pairs = [pair for pair in tenant_pairs if pair[1].event_id in fresh]
                    if tenant_pairs:
                        await self.handler(session, self._items(tenant_pairs))
                    fresh_total += len(tenant_pairs)
            self._processed(fresh_total)
            PROCESSED.labels(self.group_id, "duplicate").inc(len(pairs) - fresh_total)
            log.info("batch handled", extra={
                "group": self.group_id, "events": len(pairs), "processed": fresh_total,
                "duplicates": len(pairs) - fresh_total, "tenants": len(by_tenant),
                "topic": pairs[0][0].topic, "first_offset": min(r.offset for r, _ in pairs),
                "last_offset": max(r.offset for r, _ in pairs),
                "duration_ms": round((time.perf_counter() - started) * 1000, 2)})

        async def one_by_one(error: BaseException) -> None:
            log.warning("batch failed, isolating the poison events", extra={"group": self.group_id, "error": repr(error)})
            for record, envelope in pairs:
                await self._apply_one(record, envelope,
                                      lambda session, p=(record, envelope): self.handler(session, self._items([p])))

        await self._with_retries(work, pairs[0][0], on_give_up=one_by_one)

    def subscribe(self, broker: KafkaBroker, topic: str, *, max_records: int = 5000, consumers: int = 1,
                  group_prefix: str = "", **options: Any) -> None:
        """``consumers`` > 1: that many Kafka consumers of the group in this process, sharing the
        partitions; while one batch waits for PostgreSQL, the next one is decoded. ``group_prefix``:
        the environment's prefix, as on its topics (see ``ServiceContext.subscribe``)."""
        # Under load, wait a little for full batches: a transaction per 5,000 events, not per 15.
        # When idle, fetch_max_wait_ms bounds the added latency.
        options = {"batch_timeout_ms": 200, "fetch_min_bytes": 256 * 1024, "fetch_max_wait_ms": 100,
                   "max_partition_fetch_bytes": 4 * 1024 * 1024, **options}

        async def consume_batch(message: KafkaMessage) -> None:
            raw = message.raw_message
            with CONSUMER_LATENCY.labels(self.group_id, "batch").time():
                await self.handle_batch(raw if isinstance(raw, tuple) else (raw,))
            await message.ack()

        for _ in range(consumers):
            broker.subscriber(topic, batch=True, max_records=max_records,
                              **self._subscriber_options(group_prefix, options))(consume_batch)

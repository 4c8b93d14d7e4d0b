"""Poison messages end in ``<topic>.dlt`` with error headers; consumption goes on."""

from __future__ import annotations

import asyncio
import json
import uuid
from decimal import Decimal

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from faststream.kafka import KafkaBroker
from sqlalchemy import text

from cuepoint.contracts.envelope import new_envelope
from cuepoint.contracts.progress import LessonProgressed
from cuepoint.runtime.bulk import copy_rows
from cuepoint.runtime.consumer import BatchConsumer, DeadLetters, IdempotentConsumer
from tests.support.platform import Infra, eventually

from .workload import SINK

pytestmark = pytest.mark.integration

PROGRESSED = "progress.lesson.progressed.v1"
POISON_SECONDS = 666  # a LessonProgressed whose handler always fails


def _progressed(tenant: uuid.UUID, seconds: int) -> bytes:
    data = LessonProgressed(student_id=uuid.uuid4(), lesson_id=uuid.uuid4(), completion_percent=Decimal(10),
                            total_time_spent=seconds, status="IN_PROGRESS")
    return new_envelope(data, tenant_id=tenant, producer="progress").model_dump_json().encode()


def _poison_messages(tenant: uuid.UUID) -> list[tuple[str, bytes]]:
    invalid_payload = json.loads(_progressed(tenant, 1))
    invalid_payload["data"]["completion_percent"] = "150"  # above the contract's maximum
    return [
        ("invalid-envelope", b"\x00 this is not JSON"),
        ("invalid-envelope", json.dumps({"event_type": PROGRESSED, "data": {}}).encode()),
        ("invalid-payload", json.dumps(invalid_payload).encode()),
        ("handler-failed", _progressed(tenant, POISON_SECONDS)),
    ]


async def _dead_letters(infra: Infra, topic: str, expected: int) -> list:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=infra.bootstrap_servers, auto_offset_reset="earliest",
                                enable_auto_commit=False, group_id=None)
    await consumer.start()
    found: list = []
    try:
        deadline = asyncio.get_running_loop().time() + 60
        while len(found) < expected and asyncio.get_running_loop().time() < deadline:
            batches = await consumer.getmany(timeout_ms=500)
            for records in batches.values():
                found.extend(records)
    finally:
        await consumer.stop()
    return found


async def _store(session, consumer: str, envelope) -> None:
    """What the tests' handlers do with an event: one row in the sink, under the consumer's name."""
    await session.execute(
        text(f"INSERT INTO {SINK}.received (consumer, tenant_id, key, seq, event_id) VALUES (:c, :t, :k, :s, :e)"),
        {"c": consumer, "t": envelope.tenant_id, "k": envelope.key, "s": envelope.data.total_time_spent,
         "e": envelope.event_id})


def _recorded(admin, consumer: str) -> list[int]:
    return [row[0] for row in admin.execute(
        f"SELECT seq FROM {SINK}.received WHERE consumer = %s ORDER BY received_order", (consumer,)).fetchall()]


@pytest.mark.parametrize("mode", ["single", "batch"])
async def test_poison_messages_are_dead_lettered_and_the_rest_processed(
    mode: str, infra: Infra, sink_sessions, admin_connection, topic_prefix: str
) -> None:
    topic = topic_prefix + "progress.events"
    group = f"poison-{mode}"
    tenant = uuid.uuid4()

    async def record(session, envelope) -> None:
        if envelope.data.total_time_spent == POISON_SECONDS:
            raise RuntimeError("this handler always fails on this event")
        await _store(session, group, envelope)

    async def record_batch(session, envelopes) -> None:
        if any(e.data.total_time_spent == POISON_SECONDS for e in envelopes):
            raise RuntimeError("this handler always fails on this event")
        await copy_rows(session, f"{SINK}.received", ["consumer", "tenant_id", "key", "seq", "event_id"],
                        [(group, e.tenant_id, e.key, e.data.total_time_spent, e.event_id) for e in envelopes])

    dead_letters = DeadLetters(infra.bootstrap_servers, client_id="test-dlt")
    common = dict(sessions=sink_sessions, schema=SINK, group_id=group, dead_letters=dead_letters, max_tries=3,
                  backoff=0.01)
    broker = KafkaBroker(infra.bootstrap_servers, acks="all", enable_idempotence=True)
    if mode == "single":
        IdempotentConsumer(handlers={PROGRESSED: record}, **common).subscribe(broker, topic)
    else:
        BatchConsumer(handler=record_batch, event_types={PROGRESSED}, **common).subscribe(broker, topic)

    # All on one key (one partition): the valid events come *after* the poison ones.
    producer = AIOKafkaProducer(bootstrap_servers=infra.bootstrap_servers, acks="all", enable_idempotence=True)
    await producer.start()
    poison = _poison_messages(tenant)
    try:
        for _, value in poison:
            await producer.send_and_wait(topic, value=value, key=b"same-key")
        for seconds in range(1, 21):
            await producer.send_and_wait(topic, value=_progressed(tenant, seconds), key=b"same-key",
                                         headers=[("event_type", PROGRESSED.encode())])
    finally:
        await producer.stop()

    await broker.start()
    try:
        await eventually(lambda: _ready(len(_recorded(admin_connection, group)) >= 20), timeout=90,
                         message="valid events behind the poison ones were not processed")
    finally:
        await broker.stop()
        await dead_letters.close()

    assert _recorded(admin_connection, group) == list(range(1, 21))
    letters = await _dead_letters(infra, topic + ".dlt", expected=len(poison))
    mine = [r for r in letters if dict(r.headers).get("dlt.group") == group.encode()]
    assert sorted(dict(r.headers)["dlt.reason"].decode() for r in mine) == sorted(reason for reason, _ in poison)
    for letter in mine:
        headers = {k: v.decode() for k, v in letter.headers}
        assert headers["dlt.topic"] == topic
        assert headers["dlt.partition"].isdigit() and headers["dlt.offset"].isdigit()
        assert headers["dlt.error.class"] and headers["dlt.error.message"]
        assert letter.key == b"same-key"
    assert {r.value for r in mine} == {value for _, value in poison}, "dead letters must keep the original value"


async def _ready(value: object) -> object:
    return value


async def _send(infra: Infra, topic: str, values: list[bytes]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=infra.bootstrap_servers, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for value in values:
            await producer.send_and_wait(topic, value=value, key=b"same-key", headers=[("event_type", PROGRESSED.encode())])
    finally:
        await producer.stop()


async def test_an_unprocessable_event_is_dead_lettered_at_once_without_retries(
    infra: Infra, sink_sessions, admin_connection, topic_prefix: str
) -> None:
    from cuepoint.runtime.consumer import Unprocessable

    topic, group, tenant = topic_prefix + "progress.events", "unprocessable", uuid.uuid4()
    calls: list[int] = []

    async def record(session, envelope) -> None:
        calls.append(envelope.data.total_time_spent)
        if envelope.data.total_time_spent == POISON_SECONDS:
            raise Unprocessable("names a lesson that cannot exist")
        await _store(session, group, envelope)

    await _send(infra, topic, [_progressed(tenant, POISON_SECONDS), _progressed(tenant, 1)])
    dead_letters = DeadLetters(infra.bootstrap_servers, client_id="test-dlt")
    broker = KafkaBroker(infra.bootstrap_servers)
    IdempotentConsumer(handlers={PROGRESSED: record}, sessions=sink_sessions, schema=SINK, group_id=group,
                       dead_letters=dead_letters, max_tries=5, backoff=0.5).subscribe(broker, topic)
    await broker.start()
    try:
        await eventually(lambda: _ready(_recorded(admin_connection, group) == [1]), timeout=60,
                         message="the event behind the unprocessable one was not processed")
    finally:
        await broker.stop()
        await dead_letters.close()
    assert calls.count(POISON_SECONDS) == 1, "an unprocessable event was retried"
    letters = [r for r in await _dead_letters(infra, topic + ".dlt", expected=1)
               if dict(r.headers).get("dlt.group") == group.encode()]
    assert [dict(r.headers)["dlt.reason"] for r in letters] == [b"unprocessable"]


@pytest.mark.parametrize("mode", ["single", "batch"])
async def test_a_run_of_dead_letters_halts_the_consumer_and_a_fixed_restart_loses_nothing(
    mode: str, infra: Infra, sink_sessions, admin_connection, topic_prefix: str
) -> None:
    """A deploy whose handler fails on every event dead-letters three of them, then stops; the
    fixed deploy (a new consumer of the same group) processes every event from where it stopped."""
    from cuepoint.runtime.metrics import CONSUMER_HALTED

    topic, group, tenant = topic_prefix + "progress.events", f"halting-{mode}", uuid.uuid4()
    broken = True

    async def record(session, envelope) -> None:
        if broken:
            raise RuntimeError("a bad deploy: fails on everything")
        await _store(session, group, envelope)

    async def record_batch(session, envelopes) -> None:
        for envelope in envelopes:
            await record(session, envelope)

    def consumer(dead_letters: DeadLetters):
        common = dict(sessions=sink_sessions, schema=SINK, group_id=group, dead_letters=dead_letters, max_tries=1,
                      backoff=0.01, max_consecutive_dead_letters=3)
        if mode == "single":
            return IdempotentConsumer(handlers={PROGRESSED: record}, **common)
        return BatchConsumer(handler=record_batch, event_types={PROGRESSED}, **common)

    await _send(infra, topic, [_progressed(tenant, seconds) for seconds in range(1, 11)])
    dead_letters = DeadLetters(infra.bootstrap_servers, client_id="test-dlt")
    broker = KafkaBroker(infra.bootstrap_servers)
    consumer(dead_letters).subscribe(broker, topic)
    await broker.start()
    try:
        await eventually(lambda: _ready(CONSUMER_HALTED.labels(group)._value.get() == 1), timeout=60,
                         message="the consumer did not halt after three dead letters in a row")
        await asyncio.sleep(2)  # time to dead-letter more, were it still going
    finally:
        await broker.stop()
    letters = [r for r in await _dead_letters(infra, topic + ".dlt", expected=3)
               if dict(r.headers).get("dlt.group") == group.encode()]
    assert len(letters) == 3, f"{len(letters)} dead letters: the consumer went on dead-lettering"

    broken = False
    fixed = KafkaBroker(infra.bootstrap_servers)
    consumer(dead_letters).subscribe(fixed, topic)
    await fixed.start()
    try:
        await eventually(lambda: _ready(len(_recorded(admin_connection, group)) >= 7), timeout=60,
                         message="the fixed consumer did not resume from where the broken one halted")
    finally:
        await fixed.stop()
        await dead_letters.close()
    recorded = _recorded(admin_connection, group)
    lettered = {json.loads(r.value)["data"]["total_time_spent"] for r in letters}
    assert lettered | set(recorded) == set(range(1, 11)), "an event was neither processed nor dead-lettered"
    assert recorded == sorted(recorded) and set(range(4, 11)) <= set(recorded)
    if mode == "single":
        assert recorded == list(range(4, 11))
    # A batch is acknowledged whole: the events of the halted batch that were dead-lettered come
    # again and the fix processes them too (their dead letters are then duplicates the inbox refuses).


async def test_a_consumer_logs_a_line_per_event_and_per_batch_with_the_events_fields(
    infra: Infra, sink_sessions, topic_prefix: str
) -> None:
    import logging

    from cuepoint.runtime.logging import JsonFormatter

    class Lines(logging.Handler):
        def __init__(self) -> None:
            super().__init__()
            self.setFormatter(JsonFormatter("probe", "worker"))
            self.lines: list[dict] = []

        def emit(self, record: logging.LogRecord) -> None:
            self.lines.append(json.loads(self.format(record)))

    topic, tenant = topic_prefix + "progress.events", uuid.uuid4()
    values = [new_envelope(LessonProgressed(student_id=uuid.uuid4(), lesson_id=uuid.uuid4(), completion_percent=Decimal(10),
                                            total_time_spent=seconds, status="IN_PROGRESS"),
                           tenant_id=tenant, producer="progress", correlation_id=f"journey-{seconds}")
              .model_dump_json().encode() for seconds in (1, 2)]
    await _send(infra, topic, values)
    handler = Lines()
    logger = logging.getLogger("cuepoint.runtime.consumer")
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.INFO)

    async def nothing(session, envelope_or_envelopes) -> None:
        return None

    dead_letters = DeadLetters(infra.bootstrap_servers, client_id="test-dlt")
    common = dict(sessions=sink_sessions, schema=SINK, dead_letters=dead_letters)
    broker = KafkaBroker(infra.bootstrap_servers)
    IdempotentConsumer(handlers={PROGRESSED: nothing}, group_id="logged-single", **common).subscribe(broker, topic)
    BatchConsumer(handler=nothing, event_types={PROGRESSED}, group_id="logged-batch", **common).subscribe(broker, topic)
    await broker.start()
    try:
        def handled() -> tuple[list[dict], list[dict]]:
            return ([line for line in handler.lines if line["msg"] == "event handled"],
                    [line for line in handler.lines if line["msg"] == "batch handled"])

        await eventually(lambda: _ready(len(handled()[0]) == 2 and sum(b["events"] for b in handled()[1]) == 2),
                         timeout=60, message="two event lines and batch lines covering both events")
    finally:
        await broker.stop()
        await dead_letters.close()
        logger.removeHandler(handler)
        logger.setLevel(level)
    events, batches = handled()
    ids = {json.loads(value)["event_id"] for value in values}
    assert {line["event_id"] for line in events} == ids
    for line in events:
        assert line["event_type"] == PROGRESSED and line["tenant_id"] == str(tenant)
        assert line["group"] == "logged-single" and line["outcome"] == "processed" and line["process"] == "worker"
    assert {line["correlation_id"] for line in events} == {"journey-1", "journey-2"}  # each event's own
    assert all(b["group"] == "logged-batch" and b["topic"] == topic and b["tenants"] == 1 for b in batches)


@pytest.mark.parametrize("mode", ["single", "batch"])
async def test_connections_a_database_restart_broke_are_retried_not_dead_lettered(
    mode: str, infra: Infra, probe_schemas, admin_connection, topic_prefix: str
) -> None:
    """A worker's pool checks no connection before using it (``pre_ping=False``, as `worker` runs): the
    events that meet a connection whose backend is gone fail, are retried on new connections, and are
    stored once each; none is dead-lettered."""
    from cuepoint.runtime import db
    from cuepoint.runtime.metrics import CONSUMER_EVENTS

    topic, group, tenant = topic_prefix + "progress.events", f"broken-connections-{mode}", uuid.uuid4()
    name = f"cuepoint-test-{group}"
    engine = db.create_engine(infra.settings(SINK).runtime_database_url, pool_size=3, application_name=name,
                              pre_ping=False)

    async def record(session, envelope) -> None:
        await _store(session, group, envelope)

    async def record_batch(session, envelopes) -> None:
        for envelope in envelopes:
            await record(session, envelope)

    dead_letters = DeadLetters(infra.bootstrap_servers, client_id="test-dlt")
    common = dict(sessions=db.session_factory(engine), schema=SINK, group_id=group, dead_letters=dead_letters,
                  max_tries=2, backoff=0.05)
    broker = KafkaBroker(infra.bootstrap_servers)
    if mode == "single":
        IdempotentConsumer(handlers={PROGRESSED: record}, **common).subscribe(broker, topic)
    else:
        BatchConsumer(handler=record_batch, event_types={PROGRESSED}, **common).subscribe(broker, topic)
    retried = CONSUMER_EVENTS.labels(group, "retried")
    dead = CONSUMER_EVENTS.labels(group, "dead-lettered")
    await broker.start()
    try:
        await _send(infra, topic, [_progressed(tenant, seconds) for seconds in range(1, 6)])
        await eventually(lambda: _ready(_recorded(admin_connection, group) == [1, 2, 3, 4, 5]), timeout=60,
                         message="the first events were not stored")
        retries_before = retried._value.get()
        # The database restarted, as far as the pool's connections can tell: every backend of theirs is gone.
        ended = admin_connection.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                         "WHERE application_name = %s", (name,)).fetchone()[0]
        assert ended >= 1
        await _send(infra, topic, [_progressed(tenant, seconds) for seconds in range(6, 11)])
        await eventually(lambda: _ready(len(_recorded(admin_connection, group)) >= 10), timeout=60,
                         message="the events after the broken connections were not stored")
    finally:
        await broker.stop()
        await dead_letters.close()
        await engine.dispose()
    assert _recorded(admin_connection, group) == list(range(1, 11)), "an event was lost or stored twice"
    assert retried._value.get() > retries_before, "no event met a broken connection: the test tested nothing"
    assert dead._value.get() == 0, "an event a broken connection failed was dead-lettered"

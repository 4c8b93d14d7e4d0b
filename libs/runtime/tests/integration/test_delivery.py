"""Outbox → relay → Kafka → idempotent consumers, on the real broker and database."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator

import pytest
from faststream.kafka import KafkaBroker

from cuepoint.contracts.topics import all_topics
from cuepoint.runtime import db
from cuepoint.runtime.consumer import PROCESSED, BatchConsumer, DeadLetters, IdempotentConsumer
from cuepoint.runtime.kafka import ensure_topics, prefixed
from cuepoint.runtime.outbox import Outbox, OutboxRelay
from tests.support.own_broker import OwnBroker
from tests.support.platform import Infra, eventually

from .workload import SINK, SOURCE, Workload, assert_exactly_once_in_key_order, batch_handler, received, single_handler

pytestmark = pytest.mark.integration

ATTEMPT_GRADED = "assessment.attempt.graded.v1"


def _consumers(infra: Infra, sink_sessions, group: str) -> tuple[IdempotentConsumer, BatchConsumer, DeadLetters]:
    dead_letters = DeadLetters(infra.bootstrap_servers, client_id="test-dead-letters")
    single = IdempotentConsumer(sessions=sink_sessions, schema=SINK, group_id=f"{group}-single",
                                handlers={ATTEMPT_GRADED: single_handler(f"{group}-single")}, dead_letters=dead_letters)
    batch = BatchConsumer(sessions=sink_sessions, schema=SINK, group_id=f"{group}-batch", event_types={ATTEMPT_GRADED},
                          handler=batch_handler(f"{group}-batch"), dead_letters=dead_letters)
    return single, batch, dead_letters


def _relay(infra: Infra, **kwargs) -> OutboxRelay:
    return OutboxRelay(dsn=db.libpq_dsn(infra.settings(SOURCE).runtime_database_url), schema=SOURCE,
                       bootstrap_servers=infra.bootstrap_servers, poll_interval=0.5, retry_backoff=0.5, **kwargs)


def _count(admin, consumer: str) -> int:
    return admin.execute(f"SELECT count(*) FROM {SINK}.received WHERE consumer = %s", (consumer,)).fetchone()[0]


def _backlog(admin) -> int:
    return admin.execute(f"SELECT count(*) FROM {SOURCE}.outbox WHERE published_at IS NULL").fetchone()[0]


async def test_ten_thousand_events_exactly_once_in_key_order(
    infra: Infra, source_sessions, sink_sessions, admin_connection, topic_prefix: str
) -> None:
    admin_connection.execute(f"TRUNCATE {SOURCE}.outbox, {SOURCE}.counters, {SINK}.received")
    workload = Workload(rollback_ratio=0.1)
    outbox = Outbox(SOURCE, producer="probe", topic_prefix=topic_prefix)
    single, batch, dead_letters = _consumers(infra, sink_sessions, "delivery")
    broker = KafkaBroker(infra.bootstrap_servers, acks="all", enable_idempotence=True)
    single.subscribe(broker, topic_prefix + "assessment.events")
    batch.subscribe(broker, topic_prefix + "assessment.events", max_records=500)
    duplicates_before = PROCESSED.labels("delivery-single", "duplicate")._value.get()

    stop = asyncio.Event()
    relay = _relay(infra)
    relay_task = asyncio.create_task(relay.run(stop))
    await broker.start()
    try:
        await workload.run(source_sessions, outbox, commits=10_000, writers=8)
        assert len(workload.committed) == 10_000 and workload.rolled_back

        # Deliver a batch twice: the relay republishes 500 events already consumed.
        await eventually(lambda: _async(_count(admin_connection, "delivery-single") >= 3_000), timeout=240,
                         message="the consumer made no progress")
        admin_connection.execute(
            f"UPDATE {SOURCE}.outbox SET published_at = NULL WHERE id IN "
            f"(SELECT id FROM {SOURCE}.outbox WHERE published_at IS NOT NULL ORDER BY id LIMIT 500)"
        )
        for consumer in ("delivery-single", "delivery-batch"):
            await eventually(lambda c=consumer: _async(_count(admin_connection, c) >= 10_000), timeout=300,
                             message=f"{consumer} did not receive every event")
        await eventually(lambda: _async(_backlog(admin_connection) == 0), timeout=60, message="relay backlog")
        await eventually(
            lambda: _async(PROCESSED.labels("delivery-single", "duplicate")._value.get() - duplicates_before >= 500),
            timeout=60, message="the re-delivered batch never reached the consumer",
        )
    finally:
        stop.set()
        await broker.stop()
        await relay_task
        await dead_letters.close()

    for consumer in ("delivery-single", "delivery-batch"):
        assert_exactly_once_in_key_order(received(admin_connection, consumer), workload)


@pytest.fixture
async def own_kafka(infra: Infra, tmp_path) -> AsyncIterator[tuple[Infra, str, OwnBroker]]:
    """A broker of the test's own, which it kills: the shared one of make infra serves the
    platform and everyone else's tests (killed, it took minutes to serve them again)."""
    broker = OwnBroker(tmp_path / "kafka")
    try:
        await broker.start()
        prefix = "outage."
        await ensure_topics(broker.bootstrap_servers, prefixed(all_topics(), prefix))
        yield dataclasses.replace(infra, bootstrap_servers=broker.bootstrap_servers), prefix, broker
    finally:
        broker.close()


async def test_relay_survives_a_broker_kill_and_restart(
    own_kafka: tuple[Infra, str, OwnBroker], source_sessions, sink_sessions, admin_connection
) -> None:
    infra, topic_prefix, own_broker = own_kafka
    admin_connection.execute(f"TRUNCATE {SOURCE}.outbox, {SOURCE}.counters, {SINK}.received")
    workload = Workload(rollback_ratio=0.05, keys_per_tenant=10)
    outbox = Outbox(SOURCE, producer="probe", topic_prefix=topic_prefix)
    single, _, dead_letters = _consumers(infra, sink_sessions, "outage")
    broker = KafkaBroker(infra.bootstrap_servers, acks="all", enable_idempotence=True)
    single.subscribe(broker, topic_prefix + "assessment.events")

    stop = asyncio.Event()
    relay_task = asyncio.create_task(_relay(infra).run(stop))
    await broker.start()
    try:
        writing = asyncio.create_task(workload.run(source_sessions, outbox, commits=3_000, writers=4, pause=0.002))
        await eventually(lambda: _async(_count(admin_connection, "outage-single") >= 500), timeout=120,
                         message="no events consumed before the outage")
        own_broker.kill()
        # Writes go on during the outage; their events wait in the outbox.
        await asyncio.sleep(3)
        backlog_during_outage = _backlog(admin_connection)
        await own_broker.start()
        await writing
        await eventually(lambda: _async(_count(admin_connection, "outage-single") >= 3_000), timeout=300,
                         message="events were lost across the broker restart")
        await eventually(lambda: _async(_backlog(admin_connection) == 0), timeout=60, message="relay backlog")
    finally:
        stop.set()
        await broker.stop()
        await relay_task
        await dead_letters.close()

    assert backlog_during_outage > 0, "the outage did not hold any event back; the test proved nothing"
    assert_exactly_once_in_key_order(received(admin_connection, "outage-single"), workload)


async def _async(value: object) -> object:
    return value

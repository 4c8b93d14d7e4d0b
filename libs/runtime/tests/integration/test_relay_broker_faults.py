"""The relay against a broker that dies, freezes and comes back: a broker of this module's own
(never the shared one of ``make infra``), the outbox of the probe schema.

Each scenario ends with every committed event on the topic exactly once, in key order."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import uuid
from collections.abc import AsyncIterator

import pytest
from aiokafka import AIOKafkaConsumer

from cuepoint.contracts.topics import all_topics
from cuepoint.runtime import db
from cuepoint.runtime.kafka import ensure_topics, prefixed
from cuepoint.runtime.outbox import Outbox, OutboxRelay
from tests.support.own_broker import OwnBroker
from tests.support.platform import Infra, eventually

from .workload import SOURCE, Workload, assert_exactly_once_in_key_order

pytestmark = [pytest.mark.integration, pytest.mark.faults]

BACK_WITHIN = 30  # seconds: the relay publishes its backlog this soon after the broker serves again


@pytest.fixture(scope="module")
async def broker(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[OwnBroker]:
    own = OwnBroker(tmp_path_factory.mktemp("relay-kafka"))
    try:
        await own.start()
        yield own
    finally:
        own.close()


@pytest.fixture
async def prefix(broker: OwnBroker) -> str:
    await broker.ensure_running()
    name = f"relay-{uuid.uuid4().hex[:6]}."
    await ensure_topics(broker.bootstrap_servers, prefixed([t for t in all_topics() if t.name == "assessment.events"], name))
    return name


class _Writes:
    """Commits a few events every tenth of a second, broker up or down, until stopped.

    Stopping lets the transaction in hand finish rather than cancelling it: a cancel that lands
    while the COMMIT is on its way leaves a transaction committed that the workload never counted
    (the assertion then saw one event "unexpected" on the topic, in two full runs)."""

    def __init__(self, sessions, outbox: Outbox) -> None:
        self.workload = Workload(rollback_ratio=0, keys_per_tenant=10)
        self._sessions, self._outbox = sessions, outbox
        self._task: asyncio.Task | None = None
        self._stopping = asyncio.Event()

    async def _loop(self) -> None:
        while not self._stopping.is_set():
            await self.workload.run(self._sessions, self._outbox, commits=3, writers=1)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), 0.1)

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop())

    async def stop(self) -> None:
        assert self._task is not None
        self._stopping.set()
        await asyncio.wait_for(self._task, 30)  # three small commits; PostgreSQL is never the one down here


@contextlib.asynccontextmanager
async def _relay(infra: Infra, broker: OwnBroker) -> AsyncIterator[tuple[OutboxRelay, asyncio.Event, asyncio.Task]]:
    relay = OutboxRelay(dsn=db.libpq_dsn(infra.settings(SOURCE).runtime_database_url), schema=SOURCE,
                        bootstrap_servers=broker.bootstrap_servers, poll_interval=0.3, retry_backoff=0.2,
                        stalled_after=1.0)
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop))
    try:
        yield relay, stop, task
    finally:
        stop.set()
        if not task.done():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(task), 20)
            task.cancel()  # a relay that does not stop must not outlive its test
            with contextlib.suppress(asyncio.CancelledError):
                await task


def _count(admin, condition: str) -> int:
    return admin.execute(f"SELECT count(*) FROM {SOURCE}.outbox WHERE {condition}").fetchone()[0]


async def _value(value: object) -> object:
    return value


async def _on_topic(broker: OwnBroker, topic: str, expected: int) -> list[tuple]:
    """(tenant, key, attempt number, event id) of every record, in partition order; reads on a
    little after ``expected`` records, so a duplicate would show."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=broker.bootstrap_servers, auto_offset_reset="earliest",
                                enable_auto_commit=False)
    await consumer.start()
    rows: list[tuple] = []
    try:
        deadline = asyncio.get_running_loop().time() + 30
        quiet_reads = 0
        while asyncio.get_running_loop().time() < deadline and quiet_reads < 3:
            batches = (await consumer.getmany(timeout_ms=500)).values()
            records = [record for batch in batches for record in batch]
            quiet_reads = quiet_reads + 1 if len(rows) >= expected and not records else 0
            for record in records:
                headers = {name: value.decode() for name, value in record.headers}
                rows.append((headers["tenant_id"], record.key.decode(),
                             json.loads(record.value)["data"]["attempt_number"], uuid.UUID(headers["event_id"])))
    finally:
        await consumer.stop()
    return rows


async def test_a_relay_told_to_stop_while_the_broker_is_down_stops_and_its_events_go_out_once_later(
    infra: Infra, broker: OwnBroker, prefix: str, source_sessions, admin_connection, caplog: pytest.LogCaptureFixture
) -> None:
    admin_connection.execute(f"TRUNCATE {SOURCE}.outbox, {SOURCE}.counters")
    writes = _Writes(source_sessions, Outbox(SOURCE, "probe", topic_prefix=prefix))
    writes.start()
    try:
        async with _relay(infra, broker) as (_, stop, task):
            await eventually(lambda: _value(_count(admin_connection, "published_at IS NOT NULL") >= 20), timeout=30,
                             message="the relay published nothing before the outage")
            broker.kill()
            # The relay is now waiting for acknowledgements that cannot come (SIGTERM of the relay
            # process, a rolling restart or a failover to a standby all ask it to stop here).
            await eventually(lambda: _value(_count(admin_connection, "published_at IS NULL") >= 20), timeout=30,
                             message="no backlog during the outage")
            with caplog.at_level(logging.WARNING, logger="cuepoint.runtime.outbox"):
                await asyncio.sleep(2)
            assert "relay is waiting for the broker to acknowledge events" in caplog.text, "the stall is silent"
            stop.set()
            try:
                await asyncio.wait_for(asyncio.shield(task), 15)
            except TimeoutError:
                pytest.fail("the relay did not stop within 15 s: it waits for the broker to come back")
    finally:
        await writes.stop()
    backlog = _count(admin_connection, "published_at IS NULL")
    assert backlog > 0

    await broker.start()
    async with _relay(infra, broker):
        await eventually(lambda: _value(_count(admin_connection, "published_at IS NULL") == 0), timeout=BACK_WITHIN,
                         message=f"the backlog of {backlog} events was not published within {BACK_WITHIN} s")
    rows = await _on_topic(broker, prefix + "assessment.events", len(writes.workload.committed))
    assert_exactly_once_in_key_order(rows, writes.workload)


async def test_a_relay_publishes_its_backlog_soon_after_a_frozen_broker_thaws_and_a_killed_one_restarts(
    infra: Infra, broker: OwnBroker, prefix: str, source_sessions, admin_connection
) -> None:
    admin_connection.execute(f"TRUNCATE {SOURCE}.outbox, {SOURCE}.counters")
    writes = _Writes(source_sessions, Outbox(SOURCE, "probe", topic_prefix=prefix))
    writes.start()
    try:
        async with _relay(infra, broker):
            await eventually(lambda: _value(_count(admin_connection, "published_at IS NOT NULL") >= 20), timeout=30,
                             message="the relay published nothing before the freeze")
            for outage in ("freeze", "kill"):
                if outage == "freeze":
                    broker.signal(signal.SIGSTOP)  # accepts connections, answers nothing, like a long GC pause
                else:
                    broker.kill()
                await eventually(lambda: _value(_count(admin_connection, "published_at IS NULL") >= 20), timeout=30,
                                 message=f"no backlog during the {outage}")
                if outage == "freeze":
                    broker.signal(signal.SIGCONT)
                else:
                    await broker.start()
                await eventually(lambda: _value(_count(admin_connection, "published_at IS NULL") < 5),
                                 timeout=BACK_WITHIN, message=f"the relay did not resume within {BACK_WITHIN} s "
                                                              f"after the {outage}")
    finally:
        await writes.stop()
    async with _relay(infra, broker):  # what the last writes left
        await eventually(lambda: _value(_count(admin_connection, "published_at IS NULL") == 0), timeout=BACK_WITHIN,
                         message="the last events were not published")
    rows = await _on_topic(broker, prefix + "assessment.events", len(writes.workload.committed))
    assert_exactly_once_in_key_order(rows, writes.workload)

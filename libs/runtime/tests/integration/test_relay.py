"""Relay behaviours: woken by NOTIFY, one leader among several relays, failover."""

from __future__ import annotations

import asyncio
import time

import pytest
from aiokafka import AIOKafkaConsumer

from cuepoint.runtime import db
from cuepoint.runtime.outbox import Outbox, OutboxRelay
from tests.support.platform import Infra, eventually

from .workload import SOURCE, Workload

pytestmark = pytest.mark.integration


def _relay(infra: Infra, poll_interval: float) -> OutboxRelay:
    return OutboxRelay(dsn=db.libpq_dsn(infra.settings(SOURCE).runtime_database_url), schema=SOURCE,
                       bootstrap_servers=infra.bootstrap_servers, poll_interval=poll_interval, retry_backoff=0.2)


async def _published_event_ids(infra: Infra, topic: str, expected: int) -> list[bytes]:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=infra.bootstrap_servers, auto_offset_reset="earliest",
                                enable_auto_commit=False)
    await consumer.start()
    ids: list[bytes] = []
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            for records in (await consumer.getmany(timeout_ms=300)).values():
                ids.extend(dict(r.headers)["event_id"] for r in records)
            if len(ids) >= expected:
                # Keep reading briefly: a double publish would show up as extra messages.
                for records in (await consumer.getmany(timeout_ms=1000)).values():
                    ids.extend(dict(r.headers)["event_id"] for r in records)
                break
    finally:
        await consumer.stop()
    return ids


def _backlog(admin) -> int:
    return admin.execute(f"SELECT count(*) FROM {SOURCE}.outbox WHERE published_at IS NULL").fetchone()[0]


async def test_notify_wakes_the_relay_long_before_the_polling_fallback(
    infra: Infra, source_sessions, admin_connection, topic_prefix: str
) -> None:
    admin_connection.execute(f"TRUNCATE {SOURCE}.outbox")
    stop = asyncio.Event()
    relay = _relay(infra, poll_interval=60)  # polling alone would take a minute
    task = asyncio.create_task(relay.run(stop))
    try:
        await asyncio.wait_for(relay.is_leader.wait(), 10)
        await asyncio.sleep(0.5)  # the relay is now waiting for a notification
        started = time.monotonic()
        await Workload(rollback_ratio=0).run(source_sessions, Outbox(SOURCE, "probe", topic_prefix=topic_prefix),
                                             commits=1, writers=1)
        await eventually(lambda: _value(_backlog(admin_connection) == 0), timeout=10, interval=0.05,
                         message="the relay did not wake up on NOTIFY")
        assert time.monotonic() - started < 5
    finally:
        stop.set()
        await task


async def test_one_leader_among_relays_no_double_publish_and_failover(
    infra: Infra, source_sessions, admin_connection, topic_prefix: str
) -> None:
    admin_connection.execute(f"TRUNCATE {SOURCE}.outbox")
    outbox = Outbox(SOURCE, "probe", topic_prefix=topic_prefix)
    workload = Workload(rollback_ratio=0)
    first, second = _relay(infra, 0.2), _relay(infra, 0.2)
    stop_first, stop_second = asyncio.Event(), asyncio.Event()
    tasks = [asyncio.create_task(first.run(stop_first)), asyncio.create_task(second.run(stop_second))]
    try:
        await eventually(lambda: _value(first.is_leader.is_set() or second.is_leader.is_set()), timeout=10,
                         message="no relay became leader")
        await asyncio.sleep(0.5)
        assert first.is_leader.is_set() != second.is_leader.is_set(), "exactly one relay leads"
        leader, standby, stop_leader = (first, second, stop_first) if first.is_leader.is_set() else (second, first, stop_second)

        await workload.run(source_sessions, outbox, commits=300, writers=4)
        await eventually(lambda: _value(_backlog(admin_connection) == 0), timeout=30, message="backlog")

        stop_leader.set()
        await eventually(lambda: _value(standby.is_leader.is_set()), timeout=15, message="the standby never took over")
        await workload.run(source_sessions, outbox, commits=300, writers=4)
        await eventually(lambda: _value(_backlog(admin_connection) == 0), timeout=30, message="backlog after failover")
    finally:
        stop_first.set()
        stop_second.set()
        await asyncio.gather(*tasks)

    ids = await _published_event_ids(infra, topic_prefix + "assessment.events", expected=600)
    assert len(workload.committed) == 600
    assert len(ids) == 600, f"{len(ids)} messages for 600 events: a relay published twice"
    assert {i.decode() for i in ids} == {str(e) for e in workload.committed}


async def _value(value: object) -> object:
    return value

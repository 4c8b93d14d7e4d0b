"""The numbers a worker and a relay export, read off their own /metrics endpoints (run_worker and
run_relay themselves, on real Kafka and PostgreSQL): consumer lag while a worker is stopped and
after, a dead letter, the outbox's backlog and age while the relay cannot publish, leader status."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import psycopg
import pytest
from prometheus_client import REGISTRY
from aiokafka import AIOKafkaProducer
from prometheus_client.parser import text_string_to_metric_families

from cuepoint.runtime.consumer import IdempotentConsumer
from cuepoint.runtime.service import ServiceContext, ServiceSpec, run_relay, run_worker
from cuepoint.runtime.settings import RuntimeSettings
from tests.support.platform import Infra, eventually

pytestmark = pytest.mark.integration

HANDLED = "content.lesson.created.v1"  # a type of the registry; its payload is never valid here


async def scrape(port: int) -> str:
    """The exposition text; empty while the process does not serve yet."""
    try:
        async with httpx.AsyncClient() as client:
            return (await client.get(f"http://127.0.0.1:{port}/metrics")).text
    except httpx.ConnectError:
        return ""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def sample(port: int, name: str, **labels: str) -> float | None:
    """The value of ``name`` with those labels on http://127.0.0.1:port/metrics (None: no such series)."""
    text = await scrape(port)
    for family in text_string_to_metric_families(text):
        for series in family.samples:
            if series.name == name and all(series.labels.get(k) == v for k, v in labels.items()):
                return series.value
    return None


@contextlib.asynccontextmanager
async def running(command, spec: ServiceSpec, settings: RuntimeSettings) -> AsyncIterator[None]:
    stop = asyncio.Event()
    task = asyncio.create_task(command(spec, ServiceContext(spec.name, settings), stop))
    try:
        await asyncio.sleep(0)
        yield
    finally:
        stop.set()
        await asyncio.wait_for(task, 60)


def sink_spec(settings: RuntimeSettings, group: str, topic: str) -> ServiceSpec:
    """A service named like the probe schema whose one consumer group handles ``HANDLED`` (never called:
    every record produced here is either skipped or dead-lettered)."""

    async def handler(session, envelope) -> None:  # pragma: no cover - never valid
        raise AssertionError("not reached")

    def consumers(context: ServiceContext, broker, dead_letters) -> None:
        consumer = IdempotentConsumer(sessions=context.sessions, schema=settings.service, group_id=group,
                                      handlers={HANDLED: handler}, dead_letters=dead_letters, max_tries=1)
        context.subscribe(consumer, broker, topic.removeprefix(settings.topic_prefix))

    return ServiceSpec(name=settings.service, description="probe", settings=lambda: settings, migrations=Path("."),
                       consumers=consumers)


async def produce(bootstrap: str, topic: str, count: int, *, event_type: str = "probe.not-handled.v1",
                  value: bytes = b"{}") -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for i in range(count):
            await producer.send_and_wait(topic, value=value, key=f"k{i}".encode(),
                                         headers=[("event_type", event_type.encode())])
    finally:
        await producer.stop()


async def test_lag_rises_while_the_worker_is_stopped_and_falls_to_zero_after(
        infra: Infra, probe_schemas: tuple[str, str], topic_prefix: str) -> None:
    _, sink = probe_schemas
    group, topic = f"{sink}.lag-{uuid.uuid4().hex[:6]}", f"{topic_prefix}content.events"
    worker_port, relay_port = free_port(), free_port()
    worker_settings = infra.settings(sink, topic_prefix=topic_prefix, metrics_port=worker_port)
    relay_settings = infra.settings(sink, topic_prefix=topic_prefix, metrics_port=relay_port,
                                    metrics_sample_interval=0.5)
    spec = sink_spec(worker_settings, group, topic)
    lag = {"name": "cuepoint_consumer_lag", "group": group, "topic": topic}

    async def total_lag() -> float | None:
        text = await scrape(relay_port)
        values = [s.value for f in text_string_to_metric_families(text) for s in f.samples
                  if s.name == lag["name"] and s.labels.get("group") == group and s.labels.get("topic") == topic]
        return sum(values) if values else None

    async with running(run_relay, spec, relay_settings):
        async with running(run_worker, spec, worker_settings):
            await produce(infra.bootstrap_servers, topic, 3)
            await eventually(lambda: _equals(total_lag, 0), timeout=60, message="the group committed, lag 0")
            assert (await sample(worker_port, "cuepoint_consumer_events_total", group=group,
                                 outcome="unknown-type")) == 3
        # The worker is stopped: what arrives now waits, and the relay's sampler sees it.
        await produce(infra.bootstrap_servers, topic, 7)
        await eventually(lambda: _equals(total_lag, 7), timeout=30, message="lag 7 while the worker is stopped")
        # Started again (on a port of its own: the first one's server lives as long as this process).
        async with running(run_worker, spec, worker_settings.model_copy(update={"metrics_port": free_port()})):
            await eventually(lambda: _equals(total_lag, 0), timeout=60, message="lag back to 0")


async def _equals(read, expected: float) -> bool:
    return (await read()) == expected


async def test_a_dead_letter_increments_its_counter(infra: Infra, probe_schemas: tuple[str, str],
                                                   topic_prefix: str) -> None:
    _, sink = probe_schemas
    group, topic = f"{sink}.dlt-{uuid.uuid4().hex[:6]}", f"{topic_prefix}content.events"
    port = free_port()
    settings = infra.settings(sink, topic_prefix=topic_prefix, metrics_port=port)
    series = {"group": group, "outcome": "dead-lettered"}
    async with running(run_worker, sink_spec(settings, group, topic), settings):
        await eventually(lambda: scrape(port), timeout=30, message="the worker serves /metrics")
        before = await sample(port, "cuepoint_consumer_events_total", **series) or 0
        await produce(infra.bootstrap_servers, topic, 2, event_type=HANDLED, value=b'{"not": "an envelope"}')

        async def dead_lettered() -> bool:
            return (await sample(port, "cuepoint_consumer_events_total", **series) or 0) == before + 2

        await eventually(dead_lettered, timeout=60, message="two dead letters counted")


async def test_outbox_backlog_and_age_grow_while_the_relay_cannot_publish(
        infra: Infra, probe_schemas: tuple[str, str], topic_prefix: str) -> None:
    source, _ = probe_schemas
    port = free_port()
    # A broker that is not there: the relay leads (the lock is PostgreSQL's) but publishes nothing.
    settings = infra.settings(source, topic_prefix=topic_prefix, metrics_port=port, metrics_sample_interval=0.5,
                              kafka_bootstrap=f"127.0.0.1:{free_port()}")
    spec = ServiceSpec(name=source, description="probe", settings=lambda: settings, migrations=Path("."))
    with psycopg.connect(infra.admin_database_url(), autocommit=True) as admin:
        already = admin.execute(f"SELECT count(*) FROM {source}.outbox WHERE published_at IS NULL").fetchone()[0]
        ids = [uuid.uuid4() for _ in range(4)]
        for event_id in ids:
            admin.execute(f"INSERT INTO {source}.outbox (event_id, event_type, topic, key, value) "
                          "VALUES (%s, 'probe.v1', %s, 'k', '{}')", (event_id, f"{topic_prefix}content.events"))
        # The counter is the process's: earlier tests in this run published for the same service.
        published_before = REGISTRY.get_sample_value("cuepoint_outbox_published_total", {"service": source}) or 0
        try:
            async with running(run_relay, spec, settings):
                async def backlog() -> bool:
                    return (await sample(port, "cuepoint_outbox_backlog", service=source)) == already + 4
                await eventually(backlog, timeout=30, message="the backlog counted")
                # (the relay takes its lock while the sampler runs: leader status may come a round later)
                await eventually(lambda: _equals(lambda: sample(port, "cuepoint_relay_leader", service=source), 1),
                                 timeout=30, message="the relay leads though it cannot publish")
                first = await sample(port, "cuepoint_outbox_oldest_unpublished_age_seconds", service=source)
                assert first is not None and first > 0

                async def older() -> bool:
                    age = await sample(port, "cuepoint_outbox_oldest_unpublished_age_seconds", service=source)
                    return age is not None and age > first
                await eventually(older, timeout=30, message="the oldest unpublished event ages")
                assert (await sample(port, "cuepoint_outbox_published_total", service=source) or 0) == published_before
        finally:
            admin.execute(f"DELETE FROM {source}.outbox WHERE event_id = ANY(%s)", (ids,))


async def test_pool_metrics_move_under_concurrent_requests(infra: Infra, probe_schemas: tuple[str, str]) -> None:
    """Connections held by concurrent requests show as in use, one more request as waiting, and its
    wait is counted; all read off an API's /metrics."""
    from cuepoint.runtime.service import build_app

    source, _ = probe_schemas
    settings = infra.settings(source, db_pool_size=1)  # 1 + 1 overflow: the third request waits
    spec = ServiceSpec(name=source, description="probe", settings=lambda: settings, migrations=Path("."))
    context = ServiceContext(source, settings)
    pool = f"cuepoint-{source}"
    app = build_app(spec, context)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as api:

        async def value(name: str, **labels: str) -> float | None:
            text = (await api.get("/metrics")).text
            return next((s.value for f in text_string_to_metric_families(text) for s in f.samples
                         if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())), None)

        waits_before = await value("cuepoint_db_pool_wait_seconds_count", pool=pool) or 0
        release = asyncio.Event()
        holding = 0

        async def request() -> None:
            nonlocal holding
            async with context.engine.connect() as connection:
                await connection.exec_driver_sql("SELECT 1")
                holding += 1
                await release.wait()

        requests = [asyncio.create_task(request()) for _ in range(3)]
        try:
            await eventually(lambda: _true(holding == 2), timeout=30, message="two connections held")
            await eventually(lambda: _equals(lambda: value("cuepoint_db_pool_waiting", pool=pool), 1),
                             timeout=30, message="the third request waits")
            assert await value("cuepoint_db_pool_in_use", pool=pool) == 2
            assert await value("cuepoint_db_pool_size", pool=pool) == 1
        finally:
            release.set()
            await asyncio.gather(*requests)
        assert await value("cuepoint_db_pool_in_use", pool=pool) == 0
        assert await value("cuepoint_db_pool_waiting", pool=pool) == 0
        assert (await value("cuepoint_db_pool_wait_seconds_count", pool=pool) or 0) >= waits_before + 3
    await context.close()


async def _true(condition: bool) -> bool:
    return condition


async def test_a_named_statement_is_timed_and_an_unnamed_one_is_not(infra: Infra, probe_schemas: tuple[str, str]) -> None:
    """``execution_options(statement_name=…)`` on the engine's statements, and ``timed_statement`` around
    plain psycopg ones, land in cuepoint_db_statement_duration_seconds by name; nothing else does."""
    from sqlalchemy import text

    from cuepoint.runtime import db
    from cuepoint.runtime.metrics import DB_STATEMENT_DURATION, timed_statement

    source, _ = probe_schemas

    def count(name: str) -> float:
        return next((s.value for m in DB_STATEMENT_DURATION.collect() for s in m.samples
                     if s.name.endswith("_count") and s.labels.get("statement") == name), 0)

    engine = db.create_engine(infra.settings(source).runtime_database_url, pool_size=1)
    try:
        named_before, unnamed_before = count("probe_sleep"), sum(
            s.value for m in DB_STATEMENT_DURATION.collect() for s in m.samples if s.name.endswith("_count"))
        async with engine.connect() as connection:
            await connection.execute(text("SELECT pg_sleep(0.02)").execution_options(statement_name="probe_sleep"))
            await connection.execute(text("SELECT 1"))  # unnamed: not measured here
        assert count("probe_sleep") == named_before + 1
        total_after = sum(s.value for m in DB_STATEMENT_DURATION.collect() for s in m.samples if s.name.endswith("_count"))
        assert total_after == unnamed_before + 1, "an unnamed statement was timed"
        slowest = next(s.value for m in DB_STATEMENT_DURATION.collect() for s in m.samples
                       if s.name.endswith("_sum") and s.labels.get("statement") == "probe_sleep")
        assert slowest >= 0.02
    finally:
        await engine.dispose()

    reads = db.ReadPool(infra.settings(source).runtime_database_url, max_size=1)
    try:
        async with reads.tenant("00000000-0000-0000-0000-000000000001") as connection:
            with timed_statement("probe_read"):
                await connection.execute("SELECT 1")
        assert count("probe_read") == 1
    finally:
        await reads.close()

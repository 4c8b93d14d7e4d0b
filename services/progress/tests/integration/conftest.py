"""progress on the real PostgreSQL and Kafka; other services are played by publishing their events."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator

import httpx
import psycopg
import pytest
from faststream.kafka import KafkaBroker

from cuepoint.progress.bootstrap import consumers, spec
from cuepoint.progress.settings import ProgressSettings
from cuepoint.runtime import db
from cuepoint.runtime.consumer import DeadLetters
from cuepoint.runtime.outbox import OutboxRelay
from cuepoint.runtime.service import ServiceContext, build_app
from tests.support.accounts import Accounts
from tests.support.platform import Infra


@pytest.fixture(scope="session")
def progress_settings(infra: Infra, test_database: str, topics: list[str]) -> ProgressSettings:
    return infra.settings("progress", ProgressSettings)


@pytest.fixture
async def progress_context(progress_settings: ProgressSettings, accounts: Accounts) -> AsyncIterator[ServiceContext]:
    context = ServiceContext("progress", progress_settings)
    context.__dict__["verifier"] = accounts.verifier()
    yield context
    await context.close()


@pytest.fixture
async def api(progress_context: ServiceContext) -> AsyncIterator[httpx.AsyncClient]:
    app = build_app(spec(), progress_context)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://progress") as client:
        yield client


@pytest.fixture
def admin_connection(infra: Infra, test_database: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(infra.admin_database_url(), autocommit=True) as connection:
        yield connection


@contextlib.asynccontextmanager
async def running_worker(settings: ProgressSettings, infra: Infra) -> AsyncIterator[ServiceContext]:
    """progress's worker (its four consumers) and outbox relay, as `python -m cuepoint.progress worker|relay`."""
    context = ServiceContext("progress", settings)
    stop = asyncio.Event()
    relay = OutboxRelay(dsn=db.libpq_dsn(settings.runtime_database_url), schema="progress",
                        bootstrap_servers=infra.bootstrap_servers, poll_interval=0.3)
    relay_task = asyncio.create_task(relay.run(stop))
    broker = KafkaBroker(infra.bootstrap_servers, acks="all", enable_idempotence=True)
    dead_letters = DeadLetters(infra.bootstrap_servers, client_id="progress-test")
    consumers(context, broker, dead_letters)
    await broker.start()
    try:
        yield context
    finally:
        await broker.stop()
        await dead_letters.close()
        stop.set()
        await relay_task
        await context.close()


@pytest.fixture
def start_worker(progress_settings: ProgressSettings, infra: Infra):
    """Starts (and, on leaving the ``async with``, stops) a worker, for tests that need it stopped midway."""
    return lambda: running_worker(progress_settings, infra)


@pytest.fixture
async def worker(progress_settings: ProgressSettings, infra: Infra) -> AsyncIterator[ServiceContext]:
    async with running_worker(progress_settings, infra) as context:
        yield context

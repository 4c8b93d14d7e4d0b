"""analytics on the real PostgreSQL and Kafka; other services are played by publishing their events."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator

import httpx
import psycopg
import pytest
from faststream.kafka import KafkaBroker

from cuepoint.analytics.bootstrap import consumers, spec
from cuepoint.analytics.settings import AnalyticsSettings
from cuepoint.runtime.consumer import DeadLetters
from cuepoint.runtime.service import ServiceContext, build_app
from tests.support.accounts import Accounts
from tests.support.platform import Infra


@pytest.fixture(scope="session")
def analytics_settings(infra: Infra, test_database: str, topics: list[str]) -> AnalyticsSettings:
    return infra.settings("analytics", AnalyticsSettings)


@pytest.fixture
async def analytics_context(analytics_settings, accounts: Accounts) -> AsyncIterator[ServiceContext]:
    context = ServiceContext("analytics", analytics_settings)
    context.__dict__["verifier"] = accounts.verifier()
    yield context
    await context.close()


@pytest.fixture
async def api(analytics_context: ServiceContext) -> AsyncIterator[httpx.AsyncClient]:
    app = build_app(spec(), analytics_context)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://analytics") as client:
        yield client


@pytest.fixture
def admin_connection(infra: Infra, test_database: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(infra.admin_database_url(), autocommit=True) as connection:
        yield connection


@contextlib.asynccontextmanager
async def running_worker(settings: AnalyticsSettings, infra: Infra) -> AsyncIterator[ServiceContext]:
    context = ServiceContext("analytics", settings)
    broker = KafkaBroker(infra.bootstrap_servers, acks="all", enable_idempotence=True)
    dead_letters = DeadLetters(infra.bootstrap_servers, client_id="analytics-test")
    consumers(context, broker, dead_letters)
    await broker.start()
    try:
        yield context
    finally:
        await broker.stop()
        await dead_letters.close()
        await context.close()


@pytest.fixture
def start_worker(analytics_settings, infra: Infra):
    return lambda: running_worker(analytics_settings, infra)


@pytest.fixture
async def worker(analytics_settings, infra: Infra) -> AsyncIterator[ServiceContext]:
    async with running_worker(analytics_settings, infra) as context:
        yield context


async def settle(seconds: float = 0.0) -> None:
    await asyncio.sleep(seconds)

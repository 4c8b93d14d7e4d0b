"""analytics on the real PostgreSQL and Kafka; other services are played by publishing their events."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from cuepoint.analytics.bootstrap import spec
from cuepoint.analytics.settings import AnalyticsSettings
from cuepoint.runtime.service import ServiceContext
from tests.support.accounts import Accounts
from tests.support.platform import Infra
from tests.support.services import api_client, running_worker, service_context



@pytest.fixture(scope="session")
def analytics_settings(infra: Infra, test_database: str, topics: list[str]) -> AnalyticsSettings:
    return infra.settings("analytics", AnalyticsSettings)


@pytest.fixture
async def analytics_context(analytics_settings: AnalyticsSettings, accounts: Accounts) -> AsyncIterator[ServiceContext]:
    async with service_context(spec(), analytics_settings, accounts) as context:
        yield context


@pytest.fixture
async def api(analytics_context: ServiceContext) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(spec(), analytics_context) as client:
        yield client


@pytest.fixture
def start_worker(analytics_settings: AnalyticsSettings, infra: Infra):
    """Starts (and, on leaving the ``async with``, stops) the worker and relay, for tests that stop them midway."""
    return lambda: running_worker(spec(), analytics_settings, infra)


@pytest.fixture
async def worker(analytics_settings: AnalyticsSettings, infra: Infra) -> AsyncIterator[ServiceContext]:
    async with running_worker(spec(), analytics_settings, infra) as context:
        yield context

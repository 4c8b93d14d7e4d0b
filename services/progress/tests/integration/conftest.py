"""progress on the real PostgreSQL and Kafka; other services are played by publishing their events."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from cuepoint.progress.bootstrap import spec
from cuepoint.progress.settings import ProgressSettings
from cuepoint.runtime.service import ServiceContext
from tests.support.accounts import Accounts
from tests.support.platform import Infra
from tests.support.services import api_client, running_worker, service_context



@pytest.fixture(scope="session")
def progress_settings(infra: Infra, test_database: str, topics: list[str]) -> ProgressSettings:
    return infra.settings("progress", ProgressSettings)


@pytest.fixture
async def progress_context(progress_settings: ProgressSettings, accounts: Accounts) -> AsyncIterator[ServiceContext]:
    async with service_context(spec(), progress_settings, accounts) as context:
        yield context


@pytest.fixture
async def api(progress_context: ServiceContext) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(spec(), progress_context) as client:
        yield client


@pytest.fixture
def start_worker(progress_settings: ProgressSettings, infra: Infra):
    """Starts (and, on leaving the ``async with``, stops) the worker and relay, for tests that stop them midway."""
    return lambda: running_worker(spec(), progress_settings, infra)


@pytest.fixture
async def worker(progress_settings: ProgressSettings, infra: Infra) -> AsyncIterator[ServiceContext]:
    async with running_worker(spec(), progress_settings, infra) as context:
        yield context

"""content on the real PostgreSQL, Kafka and a GCS emulator (in-process, on a free port)."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator

import httpx
import pytest
from gcp_storage_emulator.server import create_server

from cuepoint.content.bootstrap import build_content, spec
from cuepoint.content.settings import ContentSettings
from cuepoint.runtime.service import ServiceContext, build_app
from tests.support.accounts import Accounts
from tests.support.platform import Infra

BUCKET = "cuepoint-test-media"


@pytest.fixture(scope="session")
def storage_emulator() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = create_server("127.0.0.1", port, in_memory=True, default_bucket=BUCKET)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture(scope="session")
def content_settings(infra: Infra, test_database: str, topics: list[str], storage_emulator: str) -> ContentSettings:
    return infra.settings("content", ContentSettings, storage_bucket=BUCKET, STORAGE_EMULATOR_HOST=storage_emulator)


@pytest.fixture
async def content_context(content_settings: ContentSettings, accounts: Accounts) -> AsyncIterator[ServiceContext]:
    context = ServiceContext("content", content_settings)
    context.__dict__["verifier"] = accounts.verifier()  # identity's real JWKS, over in-process HTTP
    yield context
    await context.close()


@pytest.fixture
async def api(content_context: ServiceContext) -> AsyncIterator[httpx.AsyncClient]:
    app = build_app(spec(), content_context)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://content") as client:
        yield client


@pytest.fixture
def content(content_context: ServiceContext):
    return build_content(content_context)

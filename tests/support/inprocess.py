"""The five services in-process on the test database, as tests/services/test_fuzz.py runs them (its
``clients`` fixture): each API app on an httpx ASGI transport, verifying tokens against the in-process
identity's JWKS; and, when asked, each service's worker (consumers) and outbox relay, so that what one
service emits reaches the others through the run's Kafka topics."""

from __future__ import annotations

import contextlib
import importlib
import socket
from collections.abc import AsyncIterator, Iterator

import httpx
from gcp_storage_emulator.server import create_server

from cuepoint.contracts.topics import SERVICES
from cuepoint.runtime.service import ServiceContext, build_app
from cuepoint.runtime.settings import RuntimeSettings

from .accounts import Accounts
from .platform import Infra
from .services import running_worker

BUCKET = "cuepoint-inprocess-media"


@contextlib.contextmanager
def storage_emulator(bucket: str = BUCKET) -> Iterator[str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = create_server("127.0.0.1", port, in_memory=True, default_bucket=bucket)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def service_settings(infra: Infra, service: str, storage: str, bucket: str = BUCKET,
                     **overrides: object) -> RuntimeSettings:
    spec = importlib.import_module(f"cuepoint.{service}.bootstrap").spec()
    if service == "content":
        overrides = {"storage_bucket": bucket, "STORAGE_EMULATOR_HOST": storage, **overrides}
    return infra.settings(service, type(spec.settings()), **overrides)


@contextlib.asynccontextmanager
async def service_clients(infra: Infra, accounts: Accounts, storage: str, *, workers: bool = False,
                          overrides: dict[str, dict[str, object]] | None = None
                          ) -> AsyncIterator[tuple[dict[str, httpx.AsyncClient], dict[str, ServiceContext]]]:
    """(clients by service, worker contexts by service: empty without ``workers``); ``overrides``: settings
    by service."""
    async with contextlib.AsyncExitStack() as stack:
        opened: dict[str, httpx.AsyncClient] = {}
        running: dict[str, ServiceContext] = {}
        for service in SERVICES:
            spec = importlib.import_module(f"cuepoint.{service}.bootstrap").spec()
            settings = service_settings(infra, service, storage, **(overrides or {}).get(service, {}))
            context = ServiceContext(service, settings)
            stack.push_async_callback(context.close)
            if service != "identity":
                context.__dict__["verifier"] = accounts.verifier()  # identity's real JWKS, in-process
            client = httpx.AsyncClient(transport=httpx.ASGITransport(app=build_app(spec, context),
                                                                     raise_app_exceptions=False),
                                       base_url=f"http://{service}")
            stack.push_async_callback(client.aclose)
            opened[service] = client
            if workers:
                running[service] = await stack.enter_async_context(running_worker(spec, settings, infra))
        yield opened, running

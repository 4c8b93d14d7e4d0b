"""A service as its processes run it, in-process for tests: its context (verifying tokens
against the in-process identity), its HTTP API, and its worker and outbox relay."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import httpx
from faststream.kafka import KafkaBroker

from cuepoint.runtime import db
from cuepoint.runtime.consumer import DeadLetters
from cuepoint.runtime.outbox import OutboxRelay
from cuepoint.runtime.service import ServiceContext, ServiceSpec, build_app
from cuepoint.runtime.settings import RuntimeSettings

from .accounts import Accounts
from .platform import Infra


@contextlib.asynccontextmanager
async def service_context(spec: ServiceSpec, settings: RuntimeSettings,
                          accounts: Accounts) -> AsyncIterator[ServiceContext]:
    context = ServiceContext(spec.name, settings)
    context.__dict__["verifier"] = accounts.verifier()  # identity's real JWKS, over in-process HTTP
    try:
        yield context
    finally:
        await context.close()


@contextlib.asynccontextmanager
async def api_client(spec: ServiceSpec, context: ServiceContext) -> AsyncIterator[httpx.AsyncClient]:
    app = build_app(spec, context)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=f"http://{spec.name}") as client:
        yield client


@contextlib.asynccontextmanager
async def running_worker(spec: ServiceSpec, settings: RuntimeSettings, infra: Infra, *,
                         relay: bool = True) -> AsyncIterator[ServiceContext]:
    """`python -m cuepoint.<service> worker` (its consumers) and, optionally, `relay`."""
    context = ServiceContext(spec.name, settings, ping_connections=False)  # as `worker` runs it
    stop = asyncio.Event()
    relay_task = None
    if relay:
        outbox_relay = OutboxRelay(dsn=db.libpq_dsn(settings.runtime_database_url), schema=spec.name,
                                   bootstrap_servers=infra.bootstrap_servers, poll_interval=0.3)
        relay_task = asyncio.create_task(outbox_relay.run(stop))
    broker = KafkaBroker(infra.bootstrap_servers.split(","), acks="all", enable_idempotence=True)  # see run_worker
    dead_letters = DeadLetters(infra.bootstrap_servers, client_id=f"{spec.name}-test")
    spec.consumers(context, broker, dead_letters)
    await broker.start()
    try:
        yield context
    finally:
        await broker.stop()
        await dead_letters.close()
        stop.set()
        if relay_task is not None:
            await relay_task
        await context.close()

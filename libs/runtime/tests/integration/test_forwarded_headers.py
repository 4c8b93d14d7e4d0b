"""uvicorn, as ``python -m cuepoint.<service> api`` runs it, believes X-Forwarded-For only from the
configured gateway (issue 16, finding 6): a client on the machine cannot name its own address."""

from __future__ import annotations

import asyncio
import socket

import httpx
import pytest
import uvicorn

from cuepoint.runtime.service import proxy_options
from cuepoint.runtime.settings import RuntimeSettings

pytestmark = pytest.mark.integration


async def _seen_address(app_settings: RuntimeSettings, *, source: str) -> str:
    async def app(scope, receive, send) -> None:  # answers the client address uvicorn settled on
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": scope["client"][0].encode()})

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="off",
                                           **proxy_options(app_settings)))
    serving = asyncio.create_task(server.serve())
    try:
        while not server.started:
            await asyncio.sleep(0.02)
        transport = httpx.AsyncHTTPTransport(local_address=source)
        async with httpx.AsyncClient(transport=transport) as client:
            response = await client.get(f"http://127.0.0.1:{port}/", headers={"X-Forwarded-For": "192.0.2.44"})
        return response.text
    finally:
        server.should_exit = True
        await serving


async def test_forwarded_for_is_believed_from_the_gateway_only() -> None:
    settings = RuntimeSettings(service="probe")
    assert settings.trusted_proxies == "127.0.0.2"
    # Any other process on the machine connects from 127.0.0.1: its X-Forwarded-For is ignored.
    assert await _seen_address(settings, source="127.0.0.1") == "127.0.0.1"
    # The gateway (nginx proxy_bind 127.0.0.2) is believed.
    assert await _seen_address(settings, source="127.0.0.2") == "192.0.2.44"

"""Swagger UI that works offline and behind the gateway.

FastAPI's own /docs loads its scripts from a CDN, which a school network or this machine may not
reach; fastapi-offline serves the same Swagger UI from the package. Behind the gateway a page at
/api/content/docs must fetch /api/content/openapi.json: the gateway names its prefix in
``X-Forwarded-Prefix`` and this middleware makes it the docs page's root path, which the page puts in
front of its URLs (the document and the assets themselves are served at the same paths either way).
"""

from __future__ import annotations

import re
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

# Only what the gateway sends (/api/<service>): the header ends up in an HTML page.
PREFIX = re.compile(rb"^/api/[a-z]{1,30}$")


class ForwardedPrefix:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # The docs page alone: given a root path, Starlette would also strip it from (and so miss) the
        # paths of the mounted assets.
        if scope["type"] == "http" and scope["path"] == "/docs" and not scope.get("root_path"):
            for name, value in scope["headers"]:
                if name == b"x-forwarded-prefix" and PREFIX.match(value):
                    scope = {**scope, "root_path": value.decode()}
                    break
        await self.app(scope, receive, send)


def docs_options() -> dict[str, Any]:
    """FastAPIOffline's arguments: Swagger UI at /docs with its assets beside it, no ReDoc."""
    return {"docs_url": "/docs", "redoc_url": None, "static_url": "/docs/assets"}

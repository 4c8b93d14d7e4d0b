"""Who may call what: docs/roles.md is what docs/roles.py reads off the routes' guards, the routes
anyone may call without a token are the ones chosen to be, and platform routes need a platform admin."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from fastapi import APIRouter, Depends
from fastapi.routing import APIRoute

from cuepoint.runtime.auth import Role, authentication, require_platform_admin, require_role, route_gate

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.unit

# Each one a decision: sign-in and recovery come before a token, the keys verify tokens, an email's
# link works without signing in, and a thumbnail is an <img> (no header; its name is unguessable).
PUBLIC = {
    ("GET", "/api/identity/.well-known/jwks.json"), ("POST", "/api/identity/v1/auth/email-change/confirm"),
    ("POST", "/api/identity/v1/auth/login"), ("POST", "/api/identity/v1/auth/password-reset"),
    ("POST", "/api/identity/v1/auth/password-reset/confirm"), ("POST", "/api/identity/v1/auth/refresh"),
    ("POST", "/api/identity/v1/auth/register"), ("POST", "/api/identity/v1/auth/resend-verification"),
    ("POST", "/api/identity/v1/auth/verify-email"), ("POST", "/api/identity/v1/notifications/unsubscribe"),
    ("GET", "/api/content/v1/thumbnails/{tenant_id}/{file_name}"),
}


def _generator():
    spec = importlib.util.spec_from_file_location("roles", ROOT / "docs" / "roles.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def _rows() -> list[tuple[str, str, str]]:
    generator = _generator()
    return [(method, f"/api/{service}{path}", gate) for service in ("identity", "content", "assessment", "progress",
                                                                      "analytics")
            for method, path, gate, _ in generator.routes(service)]


def test_docs_roles_md_is_what_the_routes_say() -> None:
    assert (ROOT / "docs" / "roles.md").read_text() == _generator().render(), "run .venv/bin/python docs/roles.py"


def test_only_the_chosen_routes_are_public_and_platform_routes_need_a_platform_admin() -> None:
    rows = _rows()
    assert {(method, path) for method, path, gate in rows if gate == "public"} == PUBLIC
    platform = [(method, path, gate) for method, path, gate in rows if "/v1/platform/" in path or "/v1/tenants" in path]
    assert platform and all(gate == "platform admin" for _, _, gate in platform), platform


def test_a_routes_gate_is_its_strongest_guard() -> None:
    authenticated = authentication(lambda request: None)
    router = APIRouter()

    @router.get("/open")
    async def open_() -> None: ...

    @router.get("/any")
    async def any_(user=Depends(authenticated)) -> None: ...

    @router.get("/teacher")
    async def teacher(user=Depends(require_role(authenticated, Role.TEACHER))) -> None: ...

    @router.get("/admin-and-signed-in")
    async def both(a=Depends(authenticated), b=Depends(require_role(authenticated, Role.ADMIN))) -> None: ...

    @router.get("/platform")
    async def platform(user=Depends(require_platform_admin(authenticated))) -> None: ...

    gates = {route.path: route_gate(route) for route in router.routes if isinstance(route, APIRoute)}
    assert gates == {"/open": "public", "/any": "signed in", "/teacher": "teacher", "/admin-and-signed-in": "admin",
                     "/platform": "platform admin"}

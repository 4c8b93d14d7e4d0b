"""The real identity service for other services' tests: the demo tenant, logins, and a
token verifier that fetches identity's JWKS over (in-process) HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest

from cuepoint.identity.bootstrap import build_identity, seed_demo
from cuepoint.identity.bootstrap import spec as identity_spec
from cuepoint.identity.settings import IdentitySettings
from cuepoint.runtime.auth import JwksCache, TokenVerifier
from cuepoint.runtime.service import ServiceContext, build_app

from .platform import Infra

DEMO_PASSWORD = "Demo123!"


@dataclass
class Accounts:
    client: httpx.AsyncClient

    async def login(self, email: str, tenant: str = "demo", password: str = DEMO_PASSWORD) -> dict[str, str]:
        """Authorization headers of a fresh login."""
        response = await self.client.post("/v1/auth/login", json={"tenant": tenant, "email": email,
                                                                   "password": password})
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['access_token']}"}

    async def tenant_with_users(self, slug: str) -> dict[str, dict[str, str]]:
        """Another tenant with an admin, a teacher and a student; their auth headers by role."""
        identity = self.client._transport.app.state.identity  # noqa: SLF001
        tenant = await identity.ensure_tenant(slug=slug, name=slug.title())
        headers = {}
        for role in ("ADMIN", "TEACHER", "STUDENT"):
            email = f"{role.lower()}@{slug}.example"
            await identity.ensure_user(tenant_id=tenant.id, email=email, password=DEMO_PASSWORD,
                                       display_name=f"{slug} {role.lower()}", role=role)
            headers[role.lower()] = await self.login(email, tenant=slug)
        return headers

    def verifier(self, audience: str = "cuepoint") -> TokenVerifier:
        return TokenVerifier(JwksCache("http://identity/.well-known/jwks.json", client=self.client), audience=audience)


@pytest.fixture(scope="session")
async def accounts(infra: Infra, test_database: str, topics: list[str]) -> AsyncIterator[Accounts]:
    context = ServiceContext("identity", infra.settings("identity", IdentitySettings))
    identity = build_identity(context)
    await seed_demo(identity)
    app = build_app(identity_spec(), context)
    app.state.identity = identity
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://identity") as client:
        yield Accounts(client)
    await context.close()

"""identity on the real PostgreSQL and Kafka, with a real SMTP server in-process."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator

import httpx
import pytest

from cuepoint.identity.bootstrap import build_identity, seed_demo, spec
from cuepoint.identity.bootstrap import Identity
from cuepoint.identity.settings import IdentitySettings
from cuepoint.runtime.service import ServiceContext, build_app
from tests.support.mail import Mailbox
from tests.support.platform import Infra

PASSWORD = "Demo123!"


def sensitive():
    """What identity seals stored emails and session clients with, under the key of the settings the tests
    run with (the environment's): to read or find rows in SQL (identity's sensitive.py)."""
    from cuepoint.identity.sensitive import SensitiveFields
    from cuepoint.runtime.secrets import Keyring

    return SensitiveFields(Keyring.from_settings(IdentitySettings()))


def email_index(email_address: str) -> bytes:
    """What SQL finds an account by: addresses are stored encrypted, beside their blind index."""
    return sensitive().email_indexes(email_address)[0]




@pytest.fixture(scope="session")
def identity_settings(infra: Infra, test_database: str, topics: list[str], mailbox: Mailbox) -> IdentitySettings:
    return infra.settings("identity", IdentitySettings, smtp_host="127.0.0.1", smtp_port=mailbox.port,
                          smtp_starttls=False, public_base_url="http://cuepoint.test")


@pytest.fixture
async def context(identity_settings: IdentitySettings) -> AsyncIterator[ServiceContext]:
    ctx = ServiceContext("identity", identity_settings)
    yield ctx
    await ctx.close()


@pytest.fixture
async def identity(context: ServiceContext) -> Identity:
    service = build_identity(context)
    await seed_demo(service)
    return service


def client_for(app, address: str | None = None) -> httpx.AsyncClient:
    address = address or f"10.{random.randint(0, 255)}.{random.randint(0, 255)}.{random.randint(1, 254)}"
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://identity")


@pytest.fixture
async def app(context: ServiceContext, identity: Identity):
    return build_app(spec(), context)


@pytest.fixture
async def api(app) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(app) as client:
        yield client


async def login(api: httpx.AsyncClient, email_address: str, password: str = PASSWORD, tenant: str = "demo",
                device_id: str | None = None) -> dict:
    response = await api.post("/v1/auth/login", json={"tenant": tenant, "email": email_address,
                                                      "password": password, "device_id": device_id})
    assert response.status_code == 200, response.text
    return response.json()


def bearer(tokens: dict) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


async def new_tenant(api: httpx.AsyncClient, mailbox: Mailbox, slug: str) -> tuple[dict, dict]:
    """A tenant created by the platform admin, and the tokens of its first admin (who
    accepted the emailed invitation)."""
    platform = await login(api, "platform-admin@example.com", tenant="platform")
    admin_email = f"admin@{slug}.example"
    response = await api.post("/v1/tenants", json={"slug": slug, "name": slug.title(), "admin_email": admin_email},
                              headers=bearer(platform))
    assert response.status_code == 201, response.text
    token = await mailbox.token_for(admin_email)
    registered = await api.post("/v1/auth/register", json={
        "tenant": slug, "email": admin_email, "password": "correct horse battery", "display_name": f"{slug} admin",
        "invitation_token": token})
    assert registered.status_code == 201, registered.text
    assert registered.json()["role"] == "ADMIN"
    return response.json(), await login(api, admin_email, "correct horse battery", tenant=slug)

"""Every service, built from its own composition root, runs on the real platform."""

from __future__ import annotations

import importlib
import subprocess
import sys

import httpx
import psycopg
import pytest

from cuepoint.contracts.topics import SERVICES
from cuepoint.runtime.service import ServiceContext, build_app
from tests.support.platform import Infra

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("service", SERVICES)
async def test_service_is_healthy_and_ready_on_real_postgres_and_kafka(service: str, infra: Infra,
                                                                       test_database: str) -> None:
    spec = importlib.import_module(f"cuepoint.{service}.bootstrap").spec()
    context = ServiceContext(service, infra.settings(service, spec.settings))
    app = build_app(spec, context)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            health = await client.get("/healthz")
            ready = await client.get("/readyz")
            openapi = await client.get("/openapi.json")
    finally:
        await context.close()
    assert health.json() == {"status": "ok", "service": service}
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"] == {"database": "ok", "kafka": "ok", "configs": "ok"}
    assert openapi.json()["info"]["title"] == f"Cuepoint {service}"


async def test_readiness_fails_clearly_when_the_database_is_unreachable(infra: Infra) -> None:
    spec = importlib.import_module("cuepoint.content.bootstrap").spec()
    context = ServiceContext("content", infra.settings("content", spec.settings, pg_port=1))
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=build_app(spec, context)),
                                     base_url="http://t") as client:
            ready = await client.get("/readyz")
    finally:
        await context.close()
    assert ready.status_code == 503
    assert ready.json()["checks"]["database"] == "unavailable"
    assert ready.json()["detail"] == "unavailable: database"


@pytest.mark.parametrize("service", SERVICES)
def test_outbox_and_inbox_exist_and_the_runtime_role_owns_nothing(service: str, infra: Infra, test_database: str) -> None:
    with psycopg.connect(infra.admin_database_url(), autocommit=True) as admin:
        tables = {row[0]: row[1] for row in admin.execute(
            "SELECT tablename, tableowner FROM pg_tables WHERE schemaname = %s", (service,))}
    assert {"outbox", "inbox", "alembic_version"} <= set(tables)
    assert set(tables.values()) == {f"cuepoint_{service}_owner"}


def test_migrate_check_reports_pending_migrations(infra: Infra, test_database: str) -> None:
    env = {"CUEPOINT_PG_DATABASE": test_database, "CUEPOINT_PG_HOST": infra.pg_host,
           "CUEPOINT_PG_PORT": str(infra.pg_port), "PATH": "/usr/bin:/bin"}
    up_to_date = subprocess.run([sys.executable, "-m", "cuepoint.progress", "migrate", "--check"], env=env,
                                capture_output=True, text=True, timeout=60)
    assert up_to_date.returncode == 0, up_to_date.stdout + up_to_date.stderr
    with psycopg.connect(infra.admin_database_url(), autocommit=True) as admin:
        # Put back the version that was there: later tests (the end-to-end platform) migrate this database.
        (head,) = admin.execute("SELECT version_num FROM progress.alembic_version").fetchone()
        admin.execute("UPDATE progress.alembic_version SET version_num = 'older'")
        try:
            pending = subprocess.run([sys.executable, "-m", "cuepoint.progress", "migrate", "--check"], env=env,
                                     capture_output=True, text=True, timeout=60)
        finally:
            admin.execute("UPDATE progress.alembic_version SET version_num = %s", (head,))
    assert pending.returncode == 1
    assert "migrations pending" in pending.stdout


async def test_a_database_backed_endpoint_answers_503_with_retry_after_when_postgres_is_unreachable(infra: Infra) -> None:
    """PostgreSQL stopped (here: nothing listening on its port) is a retryable 503, never a 500."""
    from cuepoint.identity.bootstrap import spec as identity_spec
    from cuepoint.identity.settings import IdentitySettings

    context = ServiceContext("identity", infra.settings("identity", IdentitySettings, pg_port=1))
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=build_app(identity_spec(), context),
                                                                   raise_app_exceptions=False),
                                     base_url="http://t") as client:
            login = await client.post("/v1/auth/login", json={"tenant": "demo", "email": "admin@demo.example",
                                                             "password": "Demo123!"})
    finally:
        await context.close()
    assert login.status_code == 503, login.text
    assert login.headers["content-type"] == "application/problem+json"
    assert int(login.headers["Retry-After"]) >= 1

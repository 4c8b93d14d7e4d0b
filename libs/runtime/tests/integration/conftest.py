"""Two probe schemas provisioned exactly like services: ``probe_source`` (state + outbox)
and ``probe_sink`` (a projection + inbox), each with an owner and a runtime role."""

from __future__ import annotations

from collections.abc import AsyncIterator

import psycopg
import pytest

from cuepoint.runtime import db
from cuepoint.runtime.migrations import plumbing_v1_sql, tenant_rls_sql
from cuepoint.runtime.provision import provision
from tests.support.platform import ROLE_PASSWORD, TEST_DATABASE, Infra

SOURCE, SINK = "probe_source", "probe_sink"


def _recreate(infra: Infra, schema: str, tables: list[str]) -> None:
    with psycopg.connect(infra.admin_database_url(), autocommit=True) as admin:
        admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    provision(infra.admin_url, TEST_DATABASE, ROLE_PASSWORD, [schema])
    owner_url = db.libpq_dsn(infra.settings(schema).owner_database_url)
    with psycopg.connect(owner_url, autocommit=True) as owner:
        for statement in [*plumbing_v1_sql(schema), *tables]:
            owner.execute(statement)


@pytest.fixture(scope="session")
def probe_schemas(infra: Infra, test_database: str) -> tuple[str, str]:
    _recreate(infra, SOURCE, [
        f"""CREATE TABLE {SOURCE}.counters (tenant_id uuid NOT NULL, key text NOT NULL, value integer NOT NULL DEFAULT 0,
            PRIMARY KEY (tenant_id, key))""",
        *tenant_rls_sql(SOURCE, "counters"),
    ])
    _recreate(infra, SINK, [
        f"""CREATE TABLE {SINK}.received (received_order bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            consumer text NOT NULL, tenant_id uuid NOT NULL, key text NOT NULL, seq integer NOT NULL, event_id uuid NOT NULL)""",
        *tenant_rls_sql(SINK, "received"),
    ])
    return SOURCE, SINK


@pytest.fixture
async def source_sessions(infra: Infra, probe_schemas: tuple[str, str]) -> AsyncIterator:
    engine = db.create_engine(infra.settings(SOURCE).runtime_database_url, pool_size=10)
    yield db.session_factory(engine)
    await engine.dispose()


@pytest.fixture
async def sink_sessions(infra: Infra, probe_schemas: tuple[str, str]) -> AsyncIterator:
    engine = db.create_engine(infra.settings(SINK).runtime_database_url, pool_size=10)
    yield db.session_factory(engine)
    await engine.dispose()


@pytest.fixture
async def topic_prefix(infra: Infra, request: pytest.FixtureRequest) -> str:
    """Registry topics under a prefix of this test's own, so tests never read each other's events."""
    import re
    import uuid

    from cuepoint.contracts.topics import all_topics
    from cuepoint.runtime.kafka import ensure_topics, prefixed

    name = re.sub(r"[^a-zA-Z0-9-]", "-", request.node.name)[:40]
    prefix = f"{infra.topic_prefix}{name}-{uuid.uuid4().hex[:4]}."
    await ensure_topics(infra.bootstrap_servers, prefixed(all_topics(), prefix))
    return prefix

"""Row-level security: every tenant-scoped table, for every service, isolates tenants."""

from __future__ import annotations

import uuid

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import ProgrammingError

from cuepoint.contracts.topics import SERVICES
from cuepoint.runtime import db
from tests.support.platform import Infra

from .workload import SOURCE

pytestmark = pytest.mark.integration

TENANT_TABLES = """
SELECT c.table_schema, c.table_name, cls.relrowsecurity, cls.relforcerowsecurity, t.tableowner
FROM information_schema.columns c
JOIN pg_namespace n ON n.nspname = c.table_schema
JOIN pg_class cls ON cls.relnamespace = n.oid AND cls.relname = c.table_name AND cls.relkind IN ('r', 'p')
JOIN pg_tables t ON t.schemaname = c.table_schema AND t.tablename = c.table_name
WHERE c.column_name = 'tenant_id' AND c.table_schema = ANY(%s)
"""

def test_every_tenant_table_has_forced_rls_and_a_runtime_role_that_cannot_bypass_it(admin_connection,
                                                                                        probe_schemas) -> None:
    schemas = [*SERVICES, *probe_schemas]
    tables = admin_connection.execute(TENANT_TABLES, (schemas,)).fetchall()
    assert any(schema == SOURCE for schema, *_ in tables), "the probe table is missing: the check saw nothing"
    for schema, table, enabled, forced, owner in tables:
        runtime_role = f"cuepoint_{schema}"
        # No exemptions: work queues and chain heads read across tenants are forced too (issue 16, finding 10).
        assert enabled and forced, f"{schema}.{table}: RLS enabled={enabled} forced={forced}"
        assert owner != runtime_role, f"{schema}.{table} is owned by the runtime role"
        policies = admin_connection.execute(
            "SELECT policyname, roles, qual, with_check FROM pg_policies WHERE schemaname = %s AND tablename = %s",
            (schema, table)).fetchall()
        assert any(name == "tenant_isolation" for name, *_ in policies), f"{schema}.{table} has no tenant policy"
        for name, roles, using, check in policies:
            if name == "tenant_isolation":
                assert "app.tenant_id" in (using or "") and "app.tenant_id" in (check or ""), f"{schema}.{table}"
            else:
                # Reading across tenants is for the schema's owner alone, which the runtime role reaches
                # only through a narrow SECURITY DEFINER function (a queue claim, the list of chains).
                assert list(roles) == [f"cuepoint_{schema}_owner"], f"{schema}.{table}: policy {name} for {roles}"
    roles = admin_connection.execute(
        "SELECT rolname, rolbypassrls, rolsuper FROM pg_roles WHERE rolname = ANY(%s)",
        ([f"cuepoint_{schema}" for schema in schemas],),
    ).fetchall()
    assert len(roles) == len(schemas)
    assert not any(bypass or superuser for _, bypass, superuser in roles)
    owned = admin_connection.execute(
        "SELECT count(*) FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner WHERE r.rolname = ANY(%s)",
        ([f"cuepoint_{schema}" for schema in schemas],),
    ).fetchone()[0]
    assert owned == 0, "a runtime role owns objects"


@pytest.fixture
async def runtime_engine(infra: Infra, probe_schemas):
    # One connection in the pool, so "A then B" really reuses the same connection.
    engine = db.create_engine(infra.settings(SOURCE).runtime_database_url, pool_size=1)
    yield engine
    await engine.dispose()


async def test_tenants_cannot_see_or_touch_each_others_rows(runtime_engine, admin_connection) -> None:
    sessions = db.session_factory(runtime_engine)
    tenant_a, tenant_b = uuid.uuid4(), uuid.uuid4()
    insert = text(f"INSERT INTO {SOURCE}.counters (tenant_id, key, value) VALUES (:t, :k, 1)")
    select = text(f"SELECT tenant_id, key FROM {SOURCE}.counters WHERE tenant_id = ANY(:tenants)")
    tenants = {"tenants": [tenant_a, tenant_b]}

    async with db.tenant_transaction(sessions, tenant_a) as session:
        await session.execute(insert, {"t": tenant_a, "k": "a-row"})
    async with db.tenant_transaction(sessions, tenant_b) as session:
        await session.execute(insert, {"t": tenant_b, "k": "b-row"})

    async with db.tenant_transaction(sessions, tenant_a) as session:
        assert (await session.execute(select, tenants)).all() == [(tenant_a, "a-row")]
        updated = await session.execute(text(f"UPDATE {SOURCE}.counters SET value = 99 WHERE tenant_id = :t"),
                                        {"t": tenant_b})
        assert updated.rowcount == 0
        deleted = await session.execute(text(f"DELETE FROM {SOURCE}.counters WHERE tenant_id = :t"), {"t": tenant_b})
        assert deleted.rowcount == 0

    with pytest.raises(ProgrammingError, match="row-level security"):
        async with db.tenant_transaction(sessions, tenant_a) as session:
            await session.execute(insert, {"t": tenant_b, "k": "smuggled"})
    with pytest.raises(ProgrammingError, match="row-level security"):
        async with db.tenant_transaction(sessions, tenant_a) as session:
            await session.execute(text(f"UPDATE {SOURCE}.counters SET tenant_id = :b WHERE key = 'a-row'"),
                                  {"b": tenant_b})

    # No tenant set: no rows, and no writes.
    async with sessions() as session, session.begin():
        assert (await session.execute(select, tenants)).all() == []
    with pytest.raises(ProgrammingError, match="row-level security"):
        async with sessions() as session, session.begin():
            await session.execute(insert, {"t": tenant_a, "k": "no-tenant"})

    rows = admin_connection.execute(
        f"SELECT tenant_id, key, value FROM {SOURCE}.counters WHERE tenant_id = ANY(%s) ORDER BY key",
        ([tenant_a, tenant_b],),
    ).fetchall()
    assert rows == [(tenant_a, "a-row", 1), (tenant_b, "b-row", 1)], "another tenant's row was changed"


async def test_a_pooled_connection_does_not_carry_the_tenant_over(runtime_engine) -> None:
    sessions = db.session_factory(runtime_engine)
    tenant_a, tenant_b = uuid.uuid4(), uuid.uuid4()
    pids = set()
    for tenant in (tenant_a, tenant_b):
        async with db.tenant_transaction(sessions, tenant) as session:
            await session.execute(text(f"INSERT INTO {SOURCE}.counters (tenant_id, key) VALUES (:t, 'pooled')"),
                                  {"t": tenant})
    for tenant in (tenant_a, tenant_b):
        async with db.tenant_transaction(sessions, tenant) as session:
            pids.add((await session.execute(text("SELECT pg_backend_pid()"))).scalar_one())
            seen = (await session.execute(text(f"SELECT tenant_id FROM {SOURCE}.counters WHERE key = 'pooled'"))).scalars().all()
            assert seen == [tenant]
    assert len(pids) == 1, "the test meant to reuse one pooled connection"
    async with sessions() as session, session.begin():
        pids.add((await session.execute(text("SELECT pg_backend_pid()"))).scalar_one())
        assert (await session.execute(text("SELECT current_setting('app.tenant_id', true)"))).scalar_one() in (None, "")
        assert (await session.execute(text(f"SELECT count(*) FROM {SOURCE}.counters"))).scalar_one() == 0
    assert len(pids) == 1


def test_the_readers_across_tenants_see_other_tenants_only_through_their_functions(infra: Infra,
                                                                                    admin_connection) -> None:
    """The generation queue and the audit chain heads are forced like every tenant table: the runtime
    role, without a tenant, sees none of their rows; the claim and the list of chains still reach all."""
    tenants = [uuid.uuid4(), uuid.uuid4()]
    jobs = [uuid.uuid4(), uuid.uuid4()]
    for tenant, job in zip(tenants, jobs, strict=True):
        # Due long ago: claimed before anything else in the queue.
        admin_connection.execute("INSERT INTO assessment.generation_queue (job_id, tenant_id, available_at) "
                                 "VALUES (%s, %s, now() - interval '10 years')", (job, tenant))
        admin_connection.execute("INSERT INTO analytics.audit_heads (tenant_id, seq, hash) VALUES (%s, 1, 'h')",
                                 (tenant,))
    try:
        with psycopg.connect(db.libpq_dsn(infra.settings("assessment").runtime_database_url)) as assessment:
            assert assessment.execute("SELECT count(*) FROM generation_queue WHERE job_id = ANY(%s)",
                                      (jobs,)).fetchone()[0] == 0
            claimed = [assessment.execute("SELECT job_id, tenant_id FROM claim_generation_job(60, 100, 100, 100)").fetchone()
                       for _ in jobs]
            assert sorted(claimed) == sorted(zip(jobs, tenants, strict=True))
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                assessment.execute("ALTER TABLE generation_queue NO FORCE ROW LEVEL SECURITY")
        with psycopg.connect(db.libpq_dsn(infra.settings("analytics").runtime_database_url)) as analytics:
            assert analytics.execute("SELECT count(*) FROM audit_heads WHERE tenant_id = ANY(%s)",
                                     (tenants,)).fetchone()[0] == 0
            chains = {row[0] for row in analytics.execute("SELECT audit_chain_tenants()")}
            assert set(tenants) <= chains
    finally:
        admin_connection.execute("DELETE FROM assessment.generation_queue WHERE job_id = ANY(%s)", (jobs,))
        admin_connection.execute("DELETE FROM analytics.audit_heads WHERE tenant_id = ANY(%s)", (tenants,))


async def test_pipelined_statements_run_in_the_sessions_transaction_as_its_tenant(runtime_engine) -> None:
    """db.pipelined sends several statements in one round trip on the session's own connection: they see
    the tenant set there and what it wrote, and they roll back with it."""
    sessions = db.session_factory(runtime_engine)
    tenant_a, tenant_b = uuid.uuid4(), uuid.uuid4()
    async with db.tenant_transaction(sessions, tenant_b) as session:
        await session.execute(text(f"INSERT INTO {SOURCE}.counters (tenant_id, key) VALUES (:t, 'b-piped')"),
                              {"t": tenant_b})
    insert = f"INSERT INTO {SOURCE}.counters (tenant_id, key, value) VALUES (%(t)s, %(k)s, 7)"
    keys = f"SELECT key, value FROM {SOURCE}.counters ORDER BY key"

    async with sessions() as session:
        async with session.begin():
            await db.set_tenant(session, tenant_a)
            await session.execute(text(f"INSERT INTO {SOURCE}.counters (tenant_id, key) VALUES (:t, 'a-first')"),
                                  {"t": tenant_a})
            written, seen, tenant = await db.pipelined(session, [
                (insert, {"t": tenant_a, "k": "a-piped"}), (keys, {}),
                ("SELECT current_setting('app.tenant_id') AS tenant", {})])
            assert written == []  # an INSERT gives no rows
            assert [(row.key, row.value) for row in seen] == [("a-first", 0), ("a-piped", 7)]  # not B's row
            assert tenant[0].tenant == str(tenant_a)
            # what the pipeline wrote, the session sees
            assert (await session.execute(text(f"SELECT count(*) FROM {SOURCE}.counters"))).scalar_one() == 2
            await session.rollback()
    async with db.tenant_transaction(sessions, tenant_a) as session:
        assert (await session.execute(text(f"SELECT count(*) FROM {SOURCE}.counters"))).scalar_one() == 0

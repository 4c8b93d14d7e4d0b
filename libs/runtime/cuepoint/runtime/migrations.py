"""Alembic, one version table per service schema, and the DDL every service shares.

A service keeps its migrations in ``cuepoint/<service>/migrations`` with an ``env.py``
that calls :func:`run_env`. ``python -m cuepoint.<service> migrate`` runs them as the
service's *owner* role; the runtime role only receives DML rights on what they create.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command, context
from alembic.config import Config
from sqlalchemy import create_engine, pool, text

from .db import libpq_dsn
from .outbox import outbox_channel


def alembic_config(script_location: Path, *, schema: str, url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(script_location))
    config.attributes["schema"] = schema
    config.attributes["url"] = url
    return config


def upgrade(script_location: Path, *, schema: str, url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(script_location, schema=schema, url=url), revision)


def current_heads(script_location: Path, *, schema: str, url: str) -> set[str]:
    engine = create_engine(_sync_url(url), poolclass=pool.NullPool)
    with engine.connect() as connection:
        table_exists = connection.execute(
            text("SELECT to_regclass(:t) IS NOT NULL"), {"t": f"{schema}.alembic_version"}
        ).scalar_one()
        if not table_exists:
            return set()
        return set(connection.execute(text(f'SELECT version_num FROM "{schema}".alembic_version')).scalars())


def _sync_url(url: str) -> str:
    return "postgresql+psycopg://" + libpq_dsn(url).split("://", 1)[1]


def run_env() -> None:
    """The body of every service's ``migrations/env.py``."""
    config = context.config
    schema: str = config.attributes["schema"]
    engine = create_engine(_sync_url(config.attributes["url"]), poolclass=pool.NullPool)
    with engine.connect() as connection:
        # Two deploys migrating at once must not interleave.
        connection.execute(text("SELECT pg_advisory_lock(hashtextextended(:k, 0))"), {"k": f"migrate:{schema}"})
        connection.execute(text(f'SET search_path TO "{schema}", public'))
        connection.commit()
        try:
            context.configure(connection=connection, version_table_schema=schema, transaction_per_migration=True)
            with context.begin_transaction():
                context.run_migrations(schema=schema)
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(hashtextextended(:k, 0))"), {"k": f"migrate:{schema}"})
            connection.commit()


# --- DDL shared by services (called from their migrations) ---------------------------

TENANT_SETTING = "NULLIF(current_setting('app.tenant_id', true), '')::uuid"


def tenant_rls_sql(schema: str, table: str) -> list[str]:
    """RLS on a tenant-scoped table: forced, for reads and writes, on ``app.tenant_id``."""
    qualified = f'"{schema}"."{table}"'
    return [
        f"ALTER TABLE {qualified} ENABLE ROW LEVEL SECURITY",
        f"ALTER TABLE {qualified} FORCE ROW LEVEL SECURITY",
        f"CREATE POLICY tenant_isolation ON {qualified} USING (tenant_id = {TENANT_SETTING}) "
        f"WITH CHECK (tenant_id = {TENANT_SETTING})",
    ]


def outbox_sql(schema: str) -> list[str]:
    """The outbox the relay publishes from, and the NOTIFY that wakes it on commit."""
    channel = outbox_channel(schema)
    return [
        f'''CREATE TABLE "{schema}".outbox (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            event_id uuid NOT NULL UNIQUE,
            event_type text NOT NULL,
            topic text NOT NULL,
            key text NOT NULL,
            value text,  -- NULL: a tombstone (erasure on a compacted topic)
            headers jsonb NOT NULL DEFAULT '{{}}',
            created_at timestamptz NOT NULL DEFAULT now(),
            published_at timestamptz
        )''',
        f'CREATE INDEX outbox_unpublished ON "{schema}".outbox (id) WHERE published_at IS NULL',
        f'CREATE INDEX outbox_published_at ON "{schema}".outbox (published_at) WHERE published_at IS NOT NULL',
        f'''CREATE FUNCTION "{schema}".outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN PERFORM pg_notify('{channel}', ''); RETURN NULL; END $$''',
        f'''CREATE TRIGGER outbox_notify AFTER INSERT ON "{schema}".outbox
            FOR EACH STATEMENT EXECUTE FUNCTION "{schema}".outbox_notify()''',
    ]


def inbox_sql(schema: str) -> list[str]:
    """What each consumer group has processed: the idempotency record."""
    return [
        f'''CREATE TABLE "{schema}".inbox (
            consumer_group text NOT NULL,
            event_id uuid NOT NULL,
            topic text NOT NULL,
            partition integer NOT NULL,
            "offset" bigint NOT NULL,
            processed_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (consumer_group, event_id)
        )''',
    ]


def plumbing_v1_sql(schema: str) -> list[str]:
    """Outbox and inbox as every service's migration 0001 creates them.

    Frozen: applied migrations must keep meaning what they did. A change to these tables
    is a ``plumbing_v2_sql`` and a new migration in each service, never an edit here.
    """
    return [*outbox_sql(schema), *inbox_sql(schema)]

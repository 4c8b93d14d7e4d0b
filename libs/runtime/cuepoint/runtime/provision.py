"""Creates the database, extensions, and for each service a schema and two roles.

    python -m cuepoint.runtime.provision --admin-url postgresql://postgres:…@127.0.0.1:5432/postgres

Per service ``s``: schema ``s`` owned by ``cuepoint_s_owner`` (runs migrations), and
``cuepoint_s``, the runtime role, which owns nothing, has no BYPASSRLS, and gets only
DML rights on the schema's tables (default privileges), so row-level security applies
to it. Both roles have ``search_path = s, public``, so the seed's queries run verbatim.
Idempotent: run it as often as you like.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable

import psycopg
from psycopg import sql

from cuepoint.contracts.topics import SERVICES

EXTENSIONS = ("pgcrypto", "pg_trgm", "btree_gin", "pg_stat_statements")
# The metrics exporter's role (deploy/local/infra.sh): reads statistics (pg_monitor), no table's rows.
MONITOR_ROLE = "cuepoint_monitor"


def _role_exists(connection: psycopg.Connection, role: str) -> bool:
    return connection.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone() is not None


def ensure_role(connection: psycopg.Connection, role: str, password: str) -> None:
    verb = "ALTER" if _role_exists(connection, role) else "CREATE"
    connection.execute(
        sql.SQL("{} ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS PASSWORD {}").format(
            sql.SQL(verb), sql.Identifier(role), sql.Literal(password)
        )
    )


def provision(admin_url: str, database: str, password: str, schemas: Iterable[str] = SERVICES) -> None:
    with psycopg.connect(admin_url, autocommit=True) as admin:
        if admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone() is None:
            admin.execute(sql.SQL("CREATE DATABASE {} ENCODING 'UTF8' TEMPLATE template0").format(sql.Identifier(database)))
        admin.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(sql.Identifier(database)))
        ensure_role(admin, MONITOR_ROLE, password)
        admin.execute(sql.SQL("GRANT pg_monitor TO {}").format(sql.Identifier(MONITOR_ROLE)))
        admin.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(sql.Identifier(database),
                                                                        sql.Identifier(MONITOR_ROLE)))
        for schema in schemas:
            owner, runtime = f"cuepoint_{schema}_owner", f"cuepoint_{schema}"
            ensure_role(admin, owner, password)
            ensure_role(admin, runtime, password)
            for role in (owner, runtime):
                # TEMPORARY: bulk loads COPY into a staging table (COPY cannot target RLS tables).
                admin.execute(sql.SQL("GRANT CONNECT, TEMPORARY ON DATABASE {} TO {}").format(sql.Identifier(database), sql.Identifier(role)))
                admin.execute(
                    sql.SQL("ALTER ROLE {} IN DATABASE {} SET search_path = {}, public").format(
                        sql.Identifier(role), sql.Identifier(database), sql.Identifier(schema)
                    )
                )

    db_url = admin_url.rsplit("/", 1)[0] + "/" + database
    with psycopg.connect(db_url, autocommit=True) as admin:
        for extension in EXTENSIONS:
            admin.execute(sql.SQL("CREATE EXTENSION IF NOT EXISTS {} WITH SCHEMA public").format(sql.Identifier(extension)))
        admin.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
        for schema in schemas:
            owner, runtime = sql.Identifier(f"cuepoint_{schema}_owner"), sql.Identifier(f"cuepoint_{schema}")
            name = sql.Identifier(schema)
            admin.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {} AUTHORIZATION {}").format(name, owner))
            admin.execute(sql.SQL("ALTER SCHEMA {} OWNER TO {}").format(name, owner))
            admin.execute(sql.SQL("REVOKE ALL ON SCHEMA {} FROM PUBLIC").format(name))
            admin.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(name, runtime))
            admin.execute(
                sql.SQL("ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA {} GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {}").format(
                    owner, name, runtime
                )
            )
            admin.execute(
                sql.SQL("ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA {} GRANT USAGE, SELECT ON SEQUENCES TO {}").format(
                    owner, name, runtime
                )
            )
            # Tables created before the default privileges existed (re-provisioning).
            admin.execute(sql.SQL("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {} TO {}").format(name, runtime))
            admin.execute(sql.SQL("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {} TO {}").format(name, runtime))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cuepoint.runtime.provision", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--admin-url", required=True, help="superuser URL, e.g. postgresql://postgres:pw@127.0.0.1:5432/postgres")
    parser.add_argument("--database", default="cuepoint", help="database to create (default: %(default)s)")
    parser.add_argument("--password", default="cuepoint-local", help="password of the service roles (default: %(default)s)")
    parser.add_argument("--schema", action="append", dest="schemas", help="provision only these (repeatable); default: every service")
    args = parser.parse_args(argv)
    schemas = args.schemas or list(SERVICES)
    provision(args.admin_url, args.database, args.password, schemas)
    print(f"database {args.database}: schemas and roles ready for {', '.join(schemas)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

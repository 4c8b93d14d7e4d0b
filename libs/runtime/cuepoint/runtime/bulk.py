"""Bulk writes inside a session's transaction, for the projections that take events in batches
(decisions/0003): rows COPied through a staging table (``copy_rows``), or JSON documents COPied as
they arrived for PostgreSQL to take apart (``staged_json``)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession


async def copy_rows(session: AsyncSession, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """Bulk-inserts rows into ``table`` within the session's transaction; returns the count.

    PostgreSQL refuses ``COPY FROM`` into a table with row-level security, so the rows are
    COPied into a transaction-local staging table and moved with one ``INSERT … SELECT``,
    which the table's RLS policy checks like any insert.
    """
    async with _staged(session, table, columns, rows) as (cursor, move):
        await cursor.execute(move)
        return cursor.rowcount


@asynccontextmanager
async def _staged(session: AsyncSession, table: str, columns: Sequence[str],
                  rows: Iterable[Sequence[Any]]) -> AsyncIterator[tuple[Any, str]]:
    """The rows COPied into a transaction-local staging table; yields a cursor and the INSERT … SELECT."""
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    driver = raw.driver_connection
    column_list = ", ".join(f'"{column}"' for column in columns)
    staging = '"_copy_' + table.replace('"', "").replace(".", "_") + '"'
    async with driver.cursor() as cursor:
        await cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {staging} ON COMMIT DROP AS SELECT {column_list} FROM {table} WITH NO DATA"
        )
        async with cursor.copy(f"COPY {staging} ({column_list}) FROM STDIN") as copy:
            for row in rows:
                await copy.write_row(row)
        yield cursor, f"INSERT INTO {table} ({column_list}) SELECT {column_list} FROM {staging}"
        await cursor.execute(f"TRUNCATE {staging}")


# COPY's text format: a backslash escapes, and a newline, carriage return or tab would end a value.
# Valid JSON never holds a raw NUL, which therefore serves as the row separator until the end.
_COPY_ESCAPES = ((b"\\", b"\\\\"), (b"\n", b"\\n"), (b"\r", b"\\r"), (b"\t", b"\\t"), (b"\x00", b"\n"))


STAGED_JSON = "_staged_json"


@asynccontextmanager
async def staged_json(session: AsyncSession, documents: Sequence[bytes]) -> AsyncIterator[str]:
    """JSON documents as they arrived, COPied into a connection-local staging table ``(doc jsonb)``
    within the session's transaction; yields its name. For projections that let PostgreSQL take the
    columns apart: one COPY of the bytes instead of building and adapting a row per event in Python."""
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    async with raw.driver_connection.cursor() as cursor:
        await cursor.execute(f"CREATE TEMP TABLE IF NOT EXISTS {STAGED_JSON} (doc jsonb NOT NULL) ON COMMIT DELETE ROWS")
        data = b"\x00".join(documents)
        for plain, escaped in _COPY_ESCAPES:
            data = data.replace(plain, escaped)
        async with cursor.copy(f"COPY {STAGED_JSON} (doc) FROM STDIN") as copy:
            await copy.write(data + b"\n")
        yield STAGED_JSON
        await cursor.execute(f"TRUNCATE {STAGED_JSON}")

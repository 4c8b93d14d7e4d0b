"""A rebuild and the workers that keep the same projections live exclude each other.

A rebuild empties a service's projection tables and replays every topic from offset 0; a worker
applying live events meanwhile would race it (rows written, then truncated, or applied twice in a
different order). So every worker holds a *shared* advisory lock on its schema's key for as long as
it runs, and a rebuild takes the key *exclusively* without waiting: while any worker of the service
runs — on this machine or another, since the lock lives in the database — the rebuild refuses and
says what to do; a worker that starts during a rebuild waits for it to end. A process that dies
releases its lock with its connection.
"""

from __future__ import annotations

import logging

import psycopg

log = logging.getLogger(__name__)

_KEY = "hashtextextended('cuepoint.projections.' || %s, 0)"


async def hold_for_worker(dsn: str, schema: str) -> psycopg.AsyncConnection:
    """The connection that holds the worker's shared lock: close it to release."""
    connection = await psycopg.AsyncConnection.connect(dsn, autocommit=True)
    try:
        cursor = await connection.execute(f"SELECT pg_try_advisory_lock_shared({_KEY})", (schema,))
        if not (await cursor.fetchone())[0]:
            log.warning("a rebuild of the projections is running: this worker waits for it to finish",
                        extra={"schema": schema})
            await connection.execute(f"SELECT pg_advisory_lock_shared({_KEY})", (schema,))
            log.info("the rebuild finished: the worker starts", extra={"schema": schema})
    except BaseException:
        await connection.close()
        raise
    return connection


def take_for_rebuild(connection: psycopg.Connection, schema: str) -> int:
    """Takes the exclusive lock on ``connection`` (held until it closes) and returns 0, or returns
    how many worker processes hold the shared one, taking nothing."""
    if connection.execute(f"SELECT pg_try_advisory_lock({_KEY})", (schema,)).fetchone()[0]:
        return 0
    # A bigint advisory key is shown in pg_locks as classid (high 32 bits) and objid (low 32 bits).
    holders = connection.execute(
        f"SELECT count(DISTINCT pid) FROM pg_locks, (SELECT {_KEY} AS key) wanted "
        "WHERE locktype = 'advisory' AND objsubid = 1 AND granted AND mode = 'ShareLock' "
        "AND classid::bigint = (key >> 32) & 4294967295 AND objid::bigint = key & 4294967295 "
        # pg_locks lists every database's locks; an advisory key is one database's only.
        "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
        (schema,)).fetchone()[0]
    return max(int(holders), 1)

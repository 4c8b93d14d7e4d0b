"""Playback's milestone lookup on plain psycopg, in one round trip to PostgreSQL.

The runtime's ReadPool (cuepoint.runtime.db) opens a transaction, sets the tenant, then runs the
query and commits: BEGIN, ``set_config``, the lookup and COMMIT, each a round trip of its own.
On a busy machine each round trip is a wake-up of the API process and of its backend, and the
waits add up in the lookup's tail (bench/milestone_lookup.py). Here the same four statements go to
the server in one pipeline (psycopg's pipeline mode) and their results come back together: the
same transaction, the same transaction-local ``app.tenant_id`` set from a bound parameter before
the lookup runs, the same runtime role and row-level security — one round trip.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from cuepoint.runtime.db import libpq_dsn
from cuepoint.runtime.metrics import watch_psycopg_pool

SET_TENANT_SQL = "SELECT set_config('app.tenant_id', %s, true)"


class LookupPool:
    """Pooled psycopg connections for the lookups that run while a video plays."""

    def __init__(self, url: str, *, max_size: int = 10, application_name: str = "cuepoint") -> None:
        self._pool = AsyncConnectionPool(libpq_dsn(url), min_size=1, max_size=max_size, open=False,
                                         kwargs={"application_name": application_name})
        watch_psycopg_pool(application_name, self._pool)
        self._opened = False
        self._opening = asyncio.Lock()

    async def rows(self, tenant_id: uuid.UUID | str, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        """The rows of ``sql`` as ``tenant_id`` sees them (row-level security), as dicts: BEGIN, the
        tenant, the query and COMMIT sent at once. An error rolls the transaction back."""
        if not self._opened:
            async with self._opening:  # concurrent first requests open it once
                if not self._opened:
                    await self._pool.open()
                    self._opened = True
        async with self._pool.connection() as connection:
            async with connection.pipeline():
                await connection.execute(SET_TENANT_SQL, (str(tenant_id),))
                cursor = await connection.cursor(row_factory=dict_row).execute(sql, params)
                await connection.commit()  # queues COMMIT and syncs: the one round trip
            return await cursor.fetchall()

    async def close(self) -> None:
        if self._opened:
            await self._pool.close()
            self._opened = False

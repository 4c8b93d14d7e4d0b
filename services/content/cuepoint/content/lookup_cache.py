"""The playback lookup's answers, kept in the API process until content changes (issue 21).

A playing video asks for its milestones at start and again on every seek, and the answer changes
only when a teacher edits the lesson or a question is approved — rarely, next to how often it is
read. A lookup served from memory skips the database round trip, which on a busy machine is where
the tail of the 5 ms budget went (each round trip is a wake-up of this process and of a backend).

Kept correct by PostgreSQL itself: a statement trigger on every table a lookup reads (migration
0005) notifies ``CHANGED_CHANNEL`` when it commits, whoever wrote — this API, another replica, the
worker projecting assessment's questions, an operator in psql. One LISTEN connection per process
empties the cache on each notice. Three rules keep a stale answer out:
- nothing is cached while that connection is not listening (at start, after it broke): a change
  then would go unseen, so every lookup goes to the database until it listens again;
- a lookup stores what it read only if no change arrived since it started reading (the
  generation it read under), so a read racing a commit cannot put the old answer back;
- this process's own commits empty it at once (``changed``, called by its units of work), so a
  teacher's next request after a write never waits on the notice. Another replica's notice arrives
  within milliseconds of the commit: that is the one window where a lookup may answer as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Hashable
from typing import Any

import psycopg

# The channel migration 0005's trigger notifies on a commit to a table the lookups read.
CHANGED_CHANNEL = "cuepoint_content_lookups"
APPLICATION_NAME = "cuepoint-content-lookup-cache"  # its LISTEN connection, as pg_stat_activity names it

log = logging.getLogger(__name__)


class LookupCache:
    def __init__(self, dsn: str, *, max_entries: int = 10_000, retry_seconds: float = 1.0) -> None:
        self.dsn = dsn
        self.max_entries = max_entries  # a video's answer is a few kB: 10,000 of them stay small
        self.retry_seconds = retry_seconds
        self._entries: dict[Hashable, list[dict[str, Any]]] = {}
        self._generation = 0
        self._listening = False
        self._task: asyncio.Task[None] | None = None

    @property
    def listening(self) -> bool:
        return self._listening

    def get(self, key: Hashable) -> list[dict[str, Any]] | None:
        """The kept answer, or None: read it, then ``put`` it with the generation read before."""
        if self._task is None:  # started by the first lookup: it needs the running event loop
            self._task = asyncio.get_running_loop().create_task(self._listen())
        return self._entries.get(key) if self._listening else None

    @property
    def generation(self) -> int:
        """Take it before reading; ``put`` stores the answer only if it has not moved since."""
        return self._generation

    def put(self, key: Hashable, rows: list[dict[str, Any]], generation: int) -> None:
        if generation != self._generation:
            return
        if len(self._entries) >= self.max_entries:
            del self._entries[next(iter(self._entries))]  # the oldest kept answer
        self._entries[key] = rows

    def changed(self) -> None:
        """Something a lookup reads may have changed: forget every answer, and refuse the ones
        still being read."""
        self._generation += 1
        self._entries.clear()

    async def _listen(self) -> None:
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(self.dsn, autocommit=True,
                                                          application_name=APPLICATION_NAME) as connection:
                    await connection.execute(f"LISTEN {CHANGED_CHANNEL}")
                    self.changed()  # whatever was read before listening may be stale already
                    self._listening = True
                    log.info("lookup cache listening on %s", CHANGED_CHANNEL)
                    async for _notice in connection.notifies():
                        self.changed()
            except asyncio.CancelledError:
                raise
            except Exception:  # the database restarted: lookups go to it until listening again
                log.warning("lookup cache lost its LISTEN connection; lookups read the database until it is back",
                            exc_info=True)
            finally:
                self._listening = False
                self.changed()
            await asyncio.sleep(self.retry_seconds)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None

"""Live updates for Server-Sent Events: one LISTEN connection per API process fans the
worker's NOTIFYs out to the streams that asked for them.

The worker notifies on commit (``pg_notify`` is transactional), so a stream never shows
progress that was rolled back. A stream that falls behind loses the oldest notices: each
carries ids only, and the stream reads the current state when it sends.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import psycopg

# The channel progress notifies on when a student's lesson progress changed (repositories.py, projections.py).
NOTIFY_CHANNEL = "cuepoint_progress"

log = logging.getLogger(__name__)

Match = Callable[[dict[str, Any]], bool]


@dataclass(eq=False)
class Subscription:
    match: Match
    queue: asyncio.Queue[dict[str, Any]] = field(default_factory=lambda: asyncio.Queue(maxsize=100))

    def offer(self, notice: dict[str, Any]) -> None:
        if self.queue.full():
            self.queue.get_nowait()
        self.queue.put_nowait(notice)


class LiveHub:
    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.subscriptions: set[Subscription] = set()
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()

    async def subscribe(self, match: Match) -> Subscription:
        if self._task is None or self._task.done():
            self._ready.clear()
            self._task = asyncio.create_task(self._listen())
        await asyncio.wait_for(self._ready.wait(), timeout=10)
        subscription = Subscription(match)
        self.subscriptions.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        self.subscriptions.discard(subscription)

    async def _listen(self) -> None:
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(self.dsn, autocommit=True) as connection:
                    await connection.execute(f"LISTEN {NOTIFY_CHANNEL}")
                    self._ready.set()
                    async for notify in connection.notifies():
                        notice = json.loads(notify.payload)
                        for subscription in list(self.subscriptions):
                            if subscription.match(notice):
                                subscription.offer(notice)
            except asyncio.CancelledError:
                raise
            except Exception:  # the database restarted: listen again (streams stay open)
                log.exception("live updates lost their connection; reconnecting")
                await asyncio.sleep(1)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

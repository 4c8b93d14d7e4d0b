"""Live updates for Server-Sent Events: one LISTEN connection per API process fans the
worker's NOTIFYs out to the streams that asked for them.

The worker notifies on commit (``pg_notify`` is transactional), so a stream never shows
progress that was rolled back. A stream that falls behind loses the oldest notices: each
carries ids only, and the stream reads the current state when it sends.

A stream does not read once per notice (``changes``): the worker notifies after each batch it
projects, a playing student's heartbeats come in many batches, and each read is a few queries. A
key's first notice is read at once; later ones within ``COALESCE_SECONDS`` of that read wait and
are read once, at the window's end, so the latest state always arrives. A notice of a person's act
(``urgent``: an answer graded, a grade overridden or given) is read at once even inside a window: it
is what a teacher watches for. What is read is sent only if what the client shows differs from what
this connection sent last for that key.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any

import psycopg

# The channel progress notifies on when a student's lesson progress changed (repositories.py, projections.py).
NOTIFY_CHANNEL = "cuepoint_progress"

log = logging.getLogger(__name__)

Match = Callable[[dict[str, Any]], bool]

# At most one read per key (a student's lesson) per this many seconds per stream (issue 21: ~60 % of
# progress's API was the student's stream re-reading for every projected batch).
COALESCE_SECONDS = 1.0


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


async def changes(subscription: Subscription, *, key: Callable[[dict[str, Any]], Hashable],
                  read: Callable[[dict[str, Any]], Awaitable[Any]], interval: float = COALESCE_SECONDS,
                  shown: Callable[[Any], Any] = lambda message: message,
                  already_sent: Mapping[Hashable, Any] | None = None) -> AsyncIterator[Any]:
    """What ``read`` gives for the subscription's notices, coalesced per ``key``: a key is read at most
    once per ``interval`` (its first notice at once, a burst's later ones once at the window's end, never
    dropped), and sent only when ``shown(message)`` differs from the last one sent for that key (a read
    may return None: nothing to send). ``already_sent``: the messages the stream sent before (its
    snapshot) by key."""
    queue = subscription.queue
    last: dict[Hashable, Any] = {k: shown(message) for k, message in (already_sent or {}).items()}
    pending: dict[Hashable, dict[str, Any]] = {}
    urgent: set[Hashable] = set()  # keys with a pending notice of a person's act: read without waiting
    quiet_until: dict[Hashable, float] = {}

    def take(notice: dict[str, Any]) -> None:
        pending[key(notice)] = notice
        if notice.get("urgent"):
            urgent.add(key(notice))

    while True:
        while not queue.empty():
            take(queue.get_nowait())
        now = time.monotonic()
        due = [k for k in pending if k in urgent or quiet_until.get(k, now) <= now]
        if not due:
            wake = min((quiet_until[k] for k in pending), default=None)
            try:
                async with asyncio.timeout(None if wake is None else max(0.0, wake - now)):
                    take(await queue.get())
            except TimeoutError:
                pass
            continue
        for k in due:
            notice = pending.pop(k)
            urgent.discard(k)
            quiet_until[k] = time.monotonic() + interval
            message = await read(notice)
            if message is None:
                continue
            seen = shown(message)
            if last.get(k, _NOTHING) != seen:
                last[k] = seen
                yield message
        now = time.monotonic()
        for k in [k for k, until in quiet_until.items() if until <= now and k not in pending]:
            del quiet_until[k]


_NOTHING = object()


class SharedReads:
    """One read per notice for every stream it woke: a class's teachers follow one lesson, and each of
    their streams read the same student's row for the same notice (issue 21: at 250 viewers with nine
    teacher streams on the lesson, nine reads of one row per heartbeat batch). A stream joins a read
    only if it serves that very notice (the hub hands one object to all), never a read begun for an
    earlier one, which may have missed the commit this notice announces."""

    def __init__(self) -> None:
        self._reads: dict[tuple[int, Hashable], asyncio.Future[Any]] = {}

    async def read(self, notice: dict[str, Any], key: Hashable, fetch: Callable[[], Awaitable[Any]]) -> Any:
        # id() is the notice's while a read of it is on: the stream that began it holds the notice.
        flight = (id(notice), key)
        shared = self._reads.get(flight)
        if shared is None:
            shared = asyncio.ensure_future(fetch())
            self._reads[flight] = shared
            shared.add_done_callback(lambda _: self._reads.pop(flight, None))
        # Shielded: a stream that closes (cancelled) while others wait must not cancel their read.
        return await asyncio.shield(shared)

"""In-memory stand-ins for analytics' repositories and its client event stream."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from cuepoint.runtime.errors import Unavailable


class FakeOwnership:
    """repositories.Ownership over a dict: tenant → the lesson, video and question ids it owns. A fake
    unit of work carries no tenant into its repositories, so the test names the tenant it looks up for."""

    def __init__(self, owned: Iterable[uuid.UUID] = ()) -> None:
        self.ids = set(owned)
        self.lookups: list[dict[str, list[uuid.UUID]]] = []

    async def owned(self, named: dict[str, Iterable[uuid.UUID]]) -> set[uuid.UUID]:
        self.lookups.append({field: list(ids) for field, ids in named.items()})
        return {i for ids in named.values() for i in ids if i in self.ids}


class FakeStream:
    """stream.ClientEventStream that keeps what it was given; ``down`` makes it refuse like a broker that
    does not acknowledge."""

    def __init__(self, *, down: bool = False) -> None:
        self.down = down
        self.published: list[Any] = []

    async def publish(self, envelopes: list[Any]) -> None:
        if self.down:
            raise Unavailable("the event stream did not acknowledge the batch; retry it", retry_after=5)
        self.published.extend(envelopes)

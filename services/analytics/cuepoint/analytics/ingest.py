"""The ingest as one object: the client event stream plus a lookup of what a tenant owns, for callers
that hold an ``owned(tenant_id, named)`` function rather than units of work (test_analytics' broker
outage test builds one so). The service itself calls use_cases.ingest.record_client_events."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from cuepoint.runtime.auth import CurrentUser
from cuepoint.runtime.logging import correlation_id

from .stream import ACK_TIMEOUT, ClientEventStream
from .use_cases.ingest import RecordClientEvents, Recorded, record_client_events

# (tenant, ids named by field) → those the tenant owns (repositories.Ownership.owned)
OwnedIds = Callable[[uuid.UUID, dict[str, list[uuid.UUID]]], Awaitable[set[uuid.UUID]]]


class Ingest(ClientEventStream):
    def __init__(self, bootstrap_servers: str, *, topic_prefix: str, owned: OwnedIds,
                 ack_timeout: float = ACK_TIMEOUT) -> None:
        super().__init__(bootstrap_servers, topic_prefix=topic_prefix, ack_timeout=ack_timeout)
        self.owned = owned

    async def accept(self, actor: CurrentUser, batch: dict[str, Any], *, user_agent: str | None) -> Recorded:
        command = RecordClientEvents(actor, batch.get("device_id"), batch.get("events"), user_agent=user_agent,
                                     correlation_id=correlation_id.get())
        return await record_client_events(command, lambda tenant_id: _Lookup(self.owned, tenant_id), stream=self)


class _Lookup:
    """A unit of work whose only repository is the ``owned`` function: no transaction of its own."""

    def __init__(self, owned: OwnedIds, tenant_id: uuid.UUID) -> None:
        self.ownership = self
        self._owned, self._tenant_id = owned, tenant_id

    async def __aenter__(self) -> _Lookup:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        return None

    async def owned(self, named: dict[str, list[uuid.UUID]]) -> set[uuid.UUID]:
        return await self._owned(self._tenant_id, named)

"""The client event ingest: validate each event, publish the valid ones to
``analytics.client-events`` keyed by user, and acknowledge only what the broker acknowledged."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from pydantic import TypeAdapter, ValidationError

from cuepoint.contracts.analytics import ClientEvent, ClientEventRecorded
from cuepoint.contracts.envelope import new_envelope
from cuepoint.contracts.topics import CLIENT_EVENTS
from cuepoint.runtime.auth import CurrentUser
from cuepoint.runtime.errors import Invalid, Unavailable
from cuepoint.runtime.logging import correlation_id

log = logging.getLogger(__name__)

MAX_EVENTS = 500
MAX_BYTES = 1024 * 1024
EVENT = TypeAdapter(ClientEvent)
ITEM_KEYS = ("id", "occurred_at")
# A broker that is down or frozen is answered within this (a 503 the client retries), not after 15 s.
ACK_TIMEOUT = 5.0
RETRY_AFTER_SECONDS = 5
# Names the published event ids (uuid5) of client events: see retry_safe.
CLIENT_EVENT_NAMESPACE = uuid.UUID("5b1c0c52-4f0e-4c1a-9d3e-2f8f3c6a7e10")
ID_FIELDS = ("lesson_id", "video_id", "question_id")
# (tenant, ids named by field) → those the tenant owns (ownership.Ownership.owned)
OwnedIds = Callable[[uuid.UUID, dict[str, list[uuid.UUID]]], Awaitable[set[uuid.UUID]]]


class Ingest:
    def __init__(self, bootstrap_servers: str, *, topic_prefix: str, owned: OwnedIds,
                 ack_timeout: float = ACK_TIMEOUT) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.owned = owned
        self.topic = topic_prefix + CLIENT_EVENTS.name
        self.ack_timeout = ack_timeout
        self._producer: AIOKafkaProducer | None = None
        self._lock = asyncio.Lock()

    async def _started(self) -> AIOKafkaProducer:
        async with self._lock:
            if self._producer is None:
                producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap_servers, acks="all",
                                            enable_idempotence=True, linger_ms=5,
                                            request_timeout_ms=int(self.ack_timeout * 1000))
                try:
                    await asyncio.wait_for(producer.start(), timeout=self.ack_timeout)
                except (KafkaError, TimeoutError, OSError) as error:
                    await producer.stop()
                    raise Unavailable("the event stream is unavailable; retry the batch later",
                                      retry_after=RETRY_AFTER_SECONDS) from error
                self._producer = producer
            return self._producer

    async def close(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None

    async def accept(self, actor: CurrentUser, batch: dict[str, Any], *, user_agent: str | None) -> dict[str, Any]:
        device_id = batch.get("device_id")
        items = batch.get("events")
        if not isinstance(device_id, str) or not 1 <= len(device_id) <= 200 or _holds_nul(device_id):
            raise Invalid("device_id must be a string of 1 to 200 characters (no NUL)")
        if not isinstance(items, list) or not items:
            raise Invalid("events must be a non-empty list")
        if len(items) > MAX_EVENTS:
            raise Invalid(f"a batch holds at most {MAX_EVENTS} events; this one has {len(items)}")
        received_at = datetime.now(UTC)
        envelopes, rejected = [], []
        for index, item in enumerate(items):
            try:
                record = self._record(actor, item, device_id, received_at, user_agent)
            except (ValidationError, ValueError, TypeError) as error:
                given = item.get("id") if isinstance(item, dict) else None
                rejected.append({"index": index, "id": None if given is None else str(given),
                                 "errors": _problems(error)})
                continue
            envelopes.append((index, item, new_envelope(record, tenant_id=actor.tenant_id, producer="analytics",
                                                        actor_id=actor.id, correlation_id=correlation_id.get())))
        envelopes = await self._owned_only(actor, envelopes, rejected)
        if envelopes:
            await self._publish(envelopes)
        return {"accepted": len(envelopes), "rejected": rejected, "received_at": received_at}

    async def _owned_only(self, actor: CurrentUser, indexed: list[tuple[int, Any, Any]],
                          rejected: list[dict[str, Any]]) -> list[Any]:
        """The events whose lesson, video and question ids the caller's tenant owns; the others rejected."""
        named = {field: [getattr(e.data.event, field) for _, _, e in indexed if getattr(e.data.event, field, None)]
                 for field in ID_FIELDS}
        owned = await self.owned(actor.tenant_id, named)
        kept = []
        for index, item, envelope in indexed:
            foreign = [field for field in ID_FIELDS
                       if getattr(envelope.data.event, field, None) is not None
                       and getattr(envelope.data.event, field) not in owned]
            if foreign:
                rejected.append({"index": index, "id": None if item.get("id") is None else str(item["id"]),
                                 "errors": [{"location": field, "message": f"{field.removesuffix('_id')} "
                                             f"{getattr(envelope.data.event, field)} not found in this organisation"}
                                            for field in foreign]})
            else:
                kept.append(envelope)
        rejected.sort(key=lambda problem: problem["index"])
        return kept

    @staticmethod
    def _record(actor: CurrentUser, item: Any, device_id: str, received_at: datetime,
                user_agent: str | None) -> ClientEventRecorded:
        if not isinstance(item, dict):
            raise ValueError("an event is an object")
        if _holds_nul(item):
            raise ValueError("text may not contain the NUL character (\\u0000): it cannot be stored")
        event = EVENT.validate_python({k: v for k, v in item.items() if k not in ITEM_KEYS})
        return ClientEventRecorded(user_id=actor.id, device_id=device_id,
                                   client_event_id=uuid.UUID(str(item.get("id"))) if item.get("id") else uuid.uuid4(),
                                   client_occurred_at=item.get("occurred_at") or received_at,
                                   received_at=received_at, user_agent=(user_agent or "")[:500] or None, event=event)

    async def _publish(self, envelopes: list[Any]) -> None:
        producer = await self._started()
        envelopes = [retry_safe(envelope) for envelope in envelopes]
        try:
            async with asyncio.timeout(self.ack_timeout):  # waiting for metadata included
                sends = [await producer.send(self.topic, envelope.model_dump_json().encode(),
                                             key=envelope.key.encode(),
                                             headers=[(k, v.encode()) for k, v in envelope.headers().items()])
                         for envelope in envelopes]
                await asyncio.gather(*sends)
        except (KafkaError, TimeoutError) as error:
            # Some of the batch may be stored all the same; a retry is safe (see retry_safe).
            log.warning("client events not acknowledged by the broker", extra={"events": len(envelopes),
                                                                              "error": repr(error)})
            raise Unavailable("the event stream did not acknowledge the batch; retry it",
                              retry_after=RETRY_AFTER_SECONDS) from error


def retry_safe(envelope: Any) -> Any:
    """The envelope under an event id named by (tenant, user, device, the client's event id): a batch
    the client sends again (after a 503 that stored part of it, a lost answer, a reload) publishes the
    same event ids, and every consumer, deduplicating on the event id, stores each event once."""
    record = envelope.data
    name = f"{envelope.tenant_id}/{record.user_id}/{record.device_id}/{record.client_event_id}"
    return envelope.model_copy(update={"event_id": uuid.uuid5(CLIENT_EVENT_NAMESPACE, name)})


def _holds_nul(value: Any) -> bool:
    """PostgreSQL's text and jsonb cannot hold U+0000: an event carrying one would be accepted here and
    then refused by every projection, so it is refused here, with the rest of the batch unharmed."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_holds_nul(key) or _holds_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(_holds_nul(item) for item in value)
    return False


def _problems(error: Exception) -> list[dict[str, Any]]:
    if isinstance(error, ValidationError):
        return [{"location": ".".join(str(p) for p in problem["loc"]), "message": problem["msg"]}
                for problem in error.errors()[:10]]
    return [{"location": "", "message": str(error)}]

"""The client event ingest: validate each event, publish the valid ones to
``analytics.client-events`` keyed by user, and acknowledge only what the broker acknowledged."""

from __future__ import annotations

import asyncio
import logging
import uuid
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


class Ingest:
    def __init__(self, bootstrap_servers: str, *, topic_prefix: str, ack_timeout: float = 15.0) -> None:
        self.bootstrap_servers = bootstrap_servers
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
                    raise Unavailable("the event stream is unavailable; retry the batch later") from error
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
            envelopes.append(new_envelope(record, tenant_id=actor.tenant_id, producer="analytics",
                                          actor_id=actor.id, correlation_id=correlation_id.get()))
        if envelopes:
            await self._publish(envelopes)
        return {"accepted": len(envelopes), "rejected": rejected, "received_at": received_at}

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
        try:
            sends = [await producer.send(self.topic, envelope.model_dump_json().encode(),
                                         key=envelope.key.encode(),
                                         headers=[(k, v.encode()) for k, v in envelope.headers().items()])
                     for envelope in envelopes]
            await asyncio.wait_for(asyncio.gather(*sends), timeout=self.ack_timeout)
        except (KafkaError, TimeoutError) as error:
            log.warning("client events not acknowledged by the broker", extra={"events": len(envelopes),
                                                                              "error": repr(error)})
            raise Unavailable("the event stream did not acknowledge the batch; retry it") from error


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

"""The envelope every Cuepoint event travels in, and the base class of event payloads.

An event on Kafka is one JSON envelope: who produced it, when, for which tenant, what
caused it, and ``data``, the typed payload. The Kafka headers repeat ``event_type``,
``event_id``, ``tenant_id`` and ``correlation_id`` so that consumers can route and
filter without parsing the value.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, ClassVar, Generic, TypeVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator
from uuid6 import uuid7

EVENT_TYPE_PATTERN = re.compile(r"^(?P<service>[a-z]+)\.(?P<subject>[a-z_]+)\.(?P<action>[a-z_]+)\.v(?P<version>[1-9][0-9]*)$")
"""``{service}.{subject}.{action}.v{N}``: e.g. ``content.video.uploaded.v1``."""


class Event(BaseModel):
    """Base of every event payload (the envelope's ``data``).

    Subclasses set ``event_type`` and ``key_field``: the payload field holding the id
    of the aggregate the event is about, which becomes the Kafka message key. Unknown
    fields are ignored so an older consumer reads a newer, additively evolved event.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    event_type: ClassVar[str]
    key_field: ClassVar[str]
    topic: ClassVar[str]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        event_type = cls.__dict__.get("event_type")
        if event_type is None:
            return  # an abstract intermediate class
        match = EVENT_TYPE_PATTERN.match(event_type)
        if match is None:
            raise TypeError(f"{cls.__name__}.event_type {event_type!r} is not {{service}}.{{subject}}.{{action}}.v{{N}}")
        if "topic" not in cls.__dict__:
            cls.topic = f"{match['service']}.events"

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        if "event_type" in cls.__dict__ and cls.key_field not in cls.model_fields:
            raise TypeError(f"{cls.__name__}.key_field {cls.key_field!r} is not one of its fields")

    def message_key(self) -> str:
        return str(getattr(self, self.key_field))


DataT = TypeVar("DataT", bound=BaseModel)


class Envelope(BaseModel, Generic[DataT]):
    """One event as it appears on a Kafka topic."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    event_id: UUID = Field(default_factory=uuid7, description="UUIDv7, unique per event; consumers deduplicate on it.")
    event_type: str = Field(description="`{service}.{subject}.{action}.v{N}`; selects the schema of `data`.")
    occurred_at: datetime = Field(
        default_factory=lambda: datetime.now(UTC), description="When the state change happened (UTC)."
    )
    tenant_id: UUID = Field(description="The tenant the event belongs to.")
    producer: str = Field(description="The service that emitted the event.")
    key: str = Field(description="The Kafka message key: the id of the aggregate the event is about.")
    correlation_id: str | None = Field(
        default=None, description="The request or flow this event is part of; propagated to every event it causes."
    )
    causation_id: UUID | None = Field(default=None, description="The event_id of the event that caused this one, if any.")
    actor_id: UUID | None = Field(default=None, description="The user who caused the change; null for system actions.")
    data: DataT = Field(description="The typed payload of `event_type`.")

    @field_validator("event_type")
    @classmethod
    def _event_type_is_well_formed(cls, value: str) -> str:
        if not EVENT_TYPE_PATTERN.match(value):
            raise ValueError("event_type must read {service}.{subject}.{action}.v{N}")
        return value

    @field_validator("occurred_at")
    @classmethod
    def _occurred_at_is_aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("occurred_at must carry a UTC offset")
        return value.astimezone(UTC)

    def headers(self) -> dict[str, str]:
        """Kafka headers repeating the routing fields of the envelope."""
        headers = {"event_type": self.event_type, "event_id": str(self.event_id), "tenant_id": str(self.tenant_id)}
        if self.correlation_id:
            headers["correlation_id"] = self.correlation_id
        return headers


def new_envelope(
    data: Event,
    *,
    tenant_id: UUID,
    producer: str,
    correlation_id: str | None = None,
    causation_id: UUID | None = None,
    actor_id: UUID | None = None,
    occurred_at: datetime | None = None,
) -> Envelope[Event]:
    """Wraps a payload in an envelope whose type and key follow from the payload."""
    fields: dict[str, Any] = {}
    if occurred_at is not None:
        fields["occurred_at"] = occurred_at
    return Envelope[type(data)](  # type: ignore[misc]
        event_type=data.event_type,
        tenant_id=tenant_id,
        producer=producer,
        key=data.message_key(),
        correlation_id=correlation_id,
        causation_id=causation_id,
        actor_id=actor_id,
        data=data,
        **fields,
    )

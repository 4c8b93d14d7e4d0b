"""What a client may send: the limits of a batch, what makes an event acceptable, and the event id
that makes a retried batch safe; what analytics keeps of it (buckets) and erases (free text)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import TypeAdapter, ValidationError

from cuepoint.contracts.analytics import ClientEvent, ClientEventRecorded
from cuepoint.runtime.errors import Invalid

MAX_EVENTS = 500
MAX_BYTES = 1024 * 1024
EVENT = TypeAdapter(ClientEvent)
ITEM_KEYS = ("id", "occurred_at")
# Names the published event ids (uuid5) of client events: see retry_safe_event_id.
CLIENT_EVENT_NAMESPACE = uuid.UUID("5b1c0c52-4f0e-4c1a-9d3e-2f8f3c6a7e10")
ID_FIELDS = ("lesson_id", "video_id", "question_id")
BUCKET_SECONDS = 5
# Free text a client may send that can hold personal data; erased with the user.
PERSONAL_FIELDS = ("path", "referrer", "message", "source", "user_agent")


def check_batch(device_id: Any, items: Any) -> None:
    """A batch names its device and holds 1 to MAX_EVENTS events; otherwise all of it is refused."""
    if not isinstance(device_id, str) or not 1 <= len(device_id) <= 200 or holds_nul(device_id):
        raise Invalid("device_id must be a string of 1 to 200 characters (no NUL)")
    if not isinstance(items, list) or not items:
        raise Invalid("events must be a non-empty list")
    if len(items) > MAX_EVENTS:
        raise Invalid(f"a batch holds at most {MAX_EVENTS} events; this one has {len(items)}")


def client_event_record(user_id: uuid.UUID, item: Any, device_id: str, received_at: datetime,
                        user_agent: str | None, *, nul_free: bool = False) -> ClientEventRecorded:
    """One event of a batch as analytics records it; raises ValidationError, ValueError or TypeError
    for an event the contract refuses (the rest of the batch is unharmed). ``nul_free``: the caller
    knows no text of the batch holds NUL (see ``may_hold_nul``), so the event is not walked for one."""
    if not isinstance(item, dict):
        raise ValueError("an event is an object")
    if not nul_free and holds_nul(item):
        raise ValueError("text may not contain the NUL character (\\u0000): it cannot be stored")
    event = EVENT.validate_python({k: v for k, v in item.items() if k not in ITEM_KEYS})
    return ClientEventRecorded(user_id=user_id, device_id=device_id,
                               client_event_id=uuid.UUID(str(item.get("id"))) if item.get("id") else uuid.uuid4(),
                               client_occurred_at=item.get("occurred_at") or received_at,
                               received_at=received_at, user_agent=(user_agent or "")[:500] or None, event=event)


def named_ids(events: list[Any]) -> dict[str, list[uuid.UUID]]:
    """The lesson, video and question ids the client events name, by field."""
    return {field: [getattr(event, field) for event in events if getattr(event, field, None)] for field in ID_FIELDS}


def foreign_fields(event: Any, owned: set[uuid.UUID]) -> list[str]:
    """The id fields of ``event`` naming something the tenant does not own: such an event is refused, so
    one tenant's telemetry never lands on another's lessons."""
    return [field for field in ID_FIELDS
            if getattr(event, field, None) is not None and getattr(event, field) not in owned]


def foreign_problems(event: Any, fields: list[str]) -> list[dict[str, Any]]:
    return [{"location": field, "message": f"{field.removesuffix('_id')} {getattr(event, field)} not found in "
             "this organisation"} for field in fields]


def retry_safe_event_id(tenant_id: uuid.UUID, record: ClientEventRecorded) -> uuid.UUID:
    """The event id named by (tenant, user, device, the client's event id): a batch the client sends
    again (after a 503 that stored part of it, a lost answer, a reload) publishes the same event ids,
    and every consumer, deduplicating on the event id, stores each event once."""
    name = f"{tenant_id}/{record.user_id}/{record.device_id}/{record.client_event_id}"
    return uuid.uuid5(CLIENT_EVENT_NAMESPACE, name)


def may_hold_nul(body: bytes) -> bool:
    """Whether the values of this JSON text can hold U+0000. JSON spells it only as the escape \\u0000
    (a raw control character in a string is invalid JSON, and Python's parser refuses it), so a body
    without that escape holds none, and its events need not be walked one by one (``holds_nul``)."""
    return b"\\u0000" in body


def holds_nul(value: Any) -> bool:
    """PostgreSQL's text and jsonb cannot hold U+0000: an event carrying one would be accepted here and
    then refused by every projection, so it is refused here, with the rest of the batch unharmed."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(holds_nul(key) or holds_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(holds_nul(item) for item in value)
    return False


def problems(error: Exception) -> list[dict[str, Any]]:
    """Why an event was refused, as the ingest answers it (at most 10 problems)."""
    if isinstance(error, ValidationError):
        return [{"location": ".".join(str(p) for p in problem["loc"]), "message": problem["msg"]}
                for problem in error.errors()[:10]]
    return [{"location": "", "message": str(error)}]

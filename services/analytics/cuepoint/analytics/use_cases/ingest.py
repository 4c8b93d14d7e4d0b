"""The client event ingest: validate each event of a batch, refuse those naming what the caller's
tenant does not own, and publish the rest, answering only once the broker has them."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from pydantic import ValidationError

from cuepoint.contracts.envelope import Envelope, new_envelope
from cuepoint.runtime.auth import CurrentUser

from ..domain.telemetry import (
    check_batch,
    client_event_record,
    foreign_fields,
    foreign_problems,
    named_ids,
    problems,
    retry_safe_event_id,
)
from ..unit_of_work import AnalyticsUnitOfWork


class EventStream(Protocol):
    async def publish(self, envelopes: list[Envelope[Any]]) -> None:
        """Returns once the broker acknowledged every envelope; raises Unavailable otherwise."""


Units = Callable[[uuid.UUID | None], AnalyticsUnitOfWork]


@dataclass(frozen=True)
class RecordClientEvents:
    """A batch as the client sent it (``{"device_id": …, "events": […]}``): its shape is checked here,
    event by event."""

    actor: CurrentUser
    device_id: Any
    events: Any
    user_agent: str | None = None
    correlation_id: str | None = None
    nul_free: bool = False  # the body was checked for NUL as a whole (domain.telemetry.may_hold_nul)


@dataclass(frozen=True)
class EventProblem:
    location: str
    message: str


@dataclass(frozen=True)
class RejectedEvent:
    index: int
    id: str | None
    errors: list[EventProblem] = field(default_factory=list)


@dataclass(frozen=True)
class Recorded:
    accepted: int
    rejected: list[RejectedEvent]
    received_at: datetime


def _rejected(index: int, item: Any, errors: list[dict[str, Any]]) -> RejectedEvent:
    given = item.get("id") if isinstance(item, dict) else None
    return RejectedEvent(index, None if given is None else str(given), [EventProblem(**e) for e in errors])


async def record_client_events(command: RecordClientEvents, units: Units, *, stream: EventStream,
                               now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> Recorded:
    """Refuses the whole batch (Invalid) if it names no device or holds no or too many events; otherwise
    each event the contract refuses, or that names a lesson, video or question the tenant does not own,
    is rejected with why, and the rest are published under retry-safe event ids. Unavailable if the
    broker does not acknowledge them (the client retries the batch)."""
    actor = command.actor
    check_batch(command.device_id, command.events)
    received_at = now()
    envelopes: list[tuple[int, Any, Envelope[Any]]] = []
    rejected: list[RejectedEvent] = []
    for index, item in enumerate(command.events):
        try:
            record = client_event_record(actor.id, item, command.device_id, received_at, command.user_agent,
                                         nul_free=command.nul_free)
        except (ValidationError, ValueError, TypeError) as error:
            rejected.append(_rejected(index, item, problems(error)))
            continue
        envelope = new_envelope(record, tenant_id=actor.tenant_id, producer="analytics", actor_id=actor.id,
                                correlation_id=command.correlation_id)
        envelopes.append((index, item, envelope))
    kept = await _owned_only(actor, envelopes, rejected, units)
    rejected.sort(key=lambda problem: problem.index)
    if kept:
        await stream.publish([envelope.model_copy(update={"event_id": retry_safe_event_id(envelope.tenant_id,
                                                                                          envelope.data)})
                              for envelope in kept])
    return Recorded(accepted=len(kept), rejected=rejected, received_at=received_at)


async def _owned_only(actor: CurrentUser, indexed: list[tuple[int, Any, Envelope[Any]]],
                      rejected: list[RejectedEvent], units: Units) -> list[Envelope[Any]]:
    """The events whose lesson, video and question ids the caller's tenant owns; the others rejected."""
    named = named_ids([envelope.data.event for _, _, envelope in indexed])
    owned: set[uuid.UUID] = set()
    if any(named.values()):  # a batch naming nothing (navigation, errors) needs no transaction
        async with units(actor.tenant_id) as uow:
            owned = await uow.ownership.owned(named)
    kept = []
    for index, item, envelope in indexed:
        foreign = foreign_fields(envelope.data.event, owned)
        if foreign:
            rejected.append(_rejected(index, item, foreign_problems(envelope.data.event, foreign)))
        else:
            kept.append(envelope)
    return kept

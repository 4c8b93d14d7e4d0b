"""Which consumer group reads which topic into which projection (the runtime's consumers do the rest)."""

from __future__ import annotations

from typing import Any

from faststream.kafka import KafkaBroker
from sqlalchemy.ext.asyncio import AsyncSession

from cuepoint.contracts.envelope import Envelope

from cuepoint.contracts.registry import EVENT_TYPES
from cuepoint.contracts.topics import (
    ASSESSMENT_EVENTS,
    CLIENT_EVENTS,
    CONTENT_EVENTS,
    IDENTITY_EVENTS,
    PROGRESS_EVENTS,
    SYSTEM_CONFIGS,
)
from cuepoint.runtime.consumer import BatchConsumer, DeadLetters, IdempotentConsumer
from cuepoint.runtime.service import ServiceContext

from .projections import client_events, domain_event
from .unit_of_work import AnalyticsUnitOfWork
from .use_cases.exports import ExportPersonalData, export_personal_data

DOMAIN_TOPICS = (IDENTITY_EVENTS.name, SYSTEM_CONFIGS.name, CONTENT_EVENTS.name, ASSESSMENT_EVENTS.name,
                 PROGRESS_EVENTS.name)


def input_consumers(context: ServiceContext, dead_letters: Any) -> dict[str, Any]:
    common = {"sessions": context.sessions, "schema": "analytics", "dead_letters": dead_letters,
              "max_tries": context.settings.consumer_max_tries}
    # One group for the event store, the counts and engagement: a second group decoding the same
    # stream in the same process measured slower (5.5k/s against 7.3k/s), not faster.
    consumers: dict[str, Any] = {CLIENT_EVENTS.name: BatchConsumer(
        group_id="analytics.client-events", handler=client_events, inbox=False, deliveries=True,
        event_types=["analytics.client_event.recorded.v1"], **common)}
    for topic in DOMAIN_TOPICS:
        types = [t for t, model in EVENT_TYPES.items() if model.topic == topic]
        consumers[topic] = IdempotentConsumer(group_id=f"analytics.{topic}", handlers=dict.fromkeys(types, domain_event),
                                              **common)
    return consumers


def export_consumer(context: ServiceContext, dead_letters: Any) -> IdempotentConsumer:
    """identity.events' export requests: analytics answers with its part of the person's data. Not an
    input of the event store (a rebuild does not replay it: that would send parts nobody asked for)."""
    async def export_requested(session: AsyncSession, envelope: Envelope[Any]) -> None:
        uow = AnalyticsUnitOfWork.joining(session, context.outbox, envelope.tenant_id)
        await export_personal_data(ExportPersonalData(envelope.data), uow)

    return IdempotentConsumer(sessions=context.sessions, schema="analytics", group_id="analytics.exports",
                              handlers={"identity.user.export_requested.v1": export_requested},
                              dead_letters=dead_letters, max_tries=context.settings.consumer_max_tries)


def subscribe(context: ServiceContext, broker: KafkaBroker, dead_letters: DeadLetters) -> None:
    for topic, consumer in input_consumers(context, dead_letters).items():
        if topic == CLIENT_EVENTS.name:
            context.subscribe(consumer, broker, topic, consumers=context.settings.telemetry_consumers)
        else:
            context.subscribe(consumer, broker, topic)
    context.subscribe(export_consumer(context, dead_letters), broker, IDENTITY_EVENTS.name)

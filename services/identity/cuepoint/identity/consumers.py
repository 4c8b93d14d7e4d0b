"""Which consumer group reads which topic into which projection or use case: identity's notifications
hear of content's and assessment's events; its data exports receive every service's part."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from faststream.kafka import KafkaBroker
from sqlalchemy.ext.asyncio import AsyncSession

from cuepoint.contracts.envelope import Envelope
from cuepoint.contracts.registry import EVENT_TYPES
from cuepoint.contracts.topics import ASSESSMENT_EVENTS, CONTENT_EVENTS, EXPORT_PARTS
from cuepoint.runtime.consumer import DeadLetters, Handler, IdempotentConsumer
from cuepoint.runtime.outbox import Outbox
from cuepoint.runtime.secrets import SecretBox
from cuepoint.runtime.service import ServiceContext

from .projections import Notifications
from .unit_of_work import IdentityUnitOfWork
from .use_cases.exports import ReceivePart, receive_part


def export_handlers(outbox: Outbox, *, box: SecretBox, ttl: timedelta) -> dict[str, Handler]:
    """Every service's export part (privacy.export-parts) into its export; the last one assembles it."""
    async def part_received(session: AsyncSession, envelope: Envelope[Any]) -> None:
        uow = IdentityUnitOfWork.joining(session, outbox, envelope.tenant_id)
        await receive_part(ReceivePart(envelope.tenant_id, envelope.data), uow, box=box, ttl=ttl)

    return {t: part_received for t, model in EVENT_TYPES.items() if model.topic == EXPORT_PARTS.name}


def subscribe(context: ServiceContext, broker: KafkaBroker, dead_letters: DeadLetters,
              notifications: Notifications, *, box: SecretBox, export_ttl: timedelta) -> None:
    handlers = notifications.handlers()
    for topic in (CONTENT_EVENTS, ASSESSMENT_EVENTS):
        context.subscribe(IdempotentConsumer(
            sessions=context.sessions, schema="identity", group_id=f"identity.notifications.{topic.producer}",
            handlers={t: h for t, h in handlers.items() if t.startswith(f"{topic.producer}.")},
            dead_letters=dead_letters, max_tries=context.settings.consumer_max_tries), broker, topic.name)
    context.subscribe(IdempotentConsumer(
        sessions=context.sessions, schema="identity", group_id="identity.exports",
        handlers=export_handlers(context.outbox, box=box, ttl=export_ttl), dead_letters=dead_letters,
        max_tries=context.settings.consumer_max_tries), broker, EXPORT_PARTS.name)

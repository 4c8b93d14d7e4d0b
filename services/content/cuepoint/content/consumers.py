"""Which consumer group reads which topic into which projection (projections.py)."""

from __future__ import annotations

from typing import Any

from faststream.kafka import KafkaBroker
from sqlalchemy.ext.asyncio import AsyncSession

from cuepoint.contracts.envelope import Envelope
from cuepoint.contracts.topics import ASSESSMENT_EVENTS, IDENTITY_EVENTS
from cuepoint.runtime.consumer import DeadLetters, IdempotentConsumer
from cuepoint.runtime.service import ServiceContext

from . import projections
from .unit_of_work import ContentUnitOfWork
from .use_cases.exports import ExportPersonalData, export_personal_data

# assessment's questions, for the playback lookup's approved-question counts.
HANDLERS = {
    "assessment.questions.generated.v1": projections.questions_generated,
    "assessment.question.approved.v1": projections.question_approved,
    "assessment.question.rejected.v1": projections.question_rejected,
}


def export_consumer(context: ServiceContext, dead_letters: Any) -> IdempotentConsumer:
    """identity.events' export requests: content answers with its part of the person's data."""
    async def export_requested(session: AsyncSession, envelope: Envelope[Any]) -> None:
        uow = ContentUnitOfWork.joining(session, context.outbox, envelope.tenant_id)
        await export_personal_data(ExportPersonalData(envelope.data), uow)

    return IdempotentConsumer(sessions=context.sessions, schema="content", group_id="content.exports",
                              handlers={"identity.user.export_requested.v1": export_requested},
                              dead_letters=dead_letters, max_tries=context.settings.consumer_max_tries)


def subscribe(context: ServiceContext, broker: KafkaBroker, dead_letters: DeadLetters) -> None:
    context.subscribe(IdempotentConsumer(
        sessions=context.sessions, schema="content", group_id="content.questions-projection", handlers=HANDLERS,
        dead_letters=dead_letters, max_tries=context.settings.consumer_max_tries), broker, ASSESSMENT_EVENTS.name)
    context.subscribe(export_consumer(context, dead_letters), broker, IDENTITY_EVENTS.name)

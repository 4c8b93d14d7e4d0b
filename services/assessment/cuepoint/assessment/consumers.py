"""Which of assessment's consumer groups reads which topic into which projection or use case."""

from __future__ import annotations

from typing import Any

from faststream.kafka import KafkaBroker
from sqlalchemy.ext.asyncio import AsyncSession

from cuepoint.contracts.envelope import Envelope
from cuepoint.contracts.topics import CONTENT_EVENTS, IDENTITY_EVENTS, SYSTEM_CONFIGS
from cuepoint.runtime.consumer import DeadLetters, Handler, IdempotentConsumer
from cuepoint.runtime.outbox import Outbox
from cuepoint.runtime.service import ServiceContext

from . import projections
from .projections import Event
from .unit_of_work import AssessmentUnitOfWork
from .use_cases.attempts import THRESHOLD_KEY, PassingThresholdChanged, passing_threshold_changed
from .use_cases.exports import ExportPersonalData, export_personal_data
from .use_cases.generation import GenerateAutomatically, generate_automatically
from .use_cases.policies import ConfigLookup


def content_handlers(*, config: ConfigLookup, outbox: Outbox, auto_generate_count: int) -> dict[str, Handler]:
    """content.events into the projections; TranscriptReady and MilestoneCreated also queue question
    generation when the lesson asks for it."""
    async def auto_generate(session: AsyncSession, envelope: Event) -> None:
        data = envelope.data
        await generate_automatically(GenerateAutomatically(
            tenant_id=envelope.tenant_id, lesson_id=data.lesson_id, video_id=data.video_id,
            requested_by_id=envelope.actor_id), AssessmentUnitOfWork.joining(session, outbox, envelope.tenant_id),
            config=config, count=auto_generate_count)

    async def transcript_ready(session: AsyncSession, envelope: Event) -> None:
        if await projections.transcript_ready(session, envelope):
            await auto_generate(session, envelope)

    async def milestone_created(session: AsyncSession, envelope: Event) -> None:
        await projections.milestone_changed(session, envelope)
        await auto_generate(session, envelope)

    return {
        "content.lesson.created.v1": projections.lesson_created,
        "content.lesson.updated.v1": projections.lesson_updated,
        "content.lesson.published.v1": projections.lesson_published,
        "content.lesson.archived.v1": projections.lesson_archived,
        "content.milestone.created.v1": milestone_created,
        "content.milestone.updated.v1": projections.milestone_changed,
        "content.milestone.deleted.v1": projections.milestone_deleted,
        "content.transcript.ready.v1": transcript_ready,
    }


def config_handlers(*, config: ConfigLookup, outbox: Outbox) -> dict[str, Handler]:
    async def system_config_changed(session: AsyncSession, envelope: Event) -> None:
        change = envelope.data
        if change.key != THRESHOLD_KEY:
            return
        await passing_threshold_changed(PassingThresholdChanged(
            scope_tenant_id=change.scope_tenant_id, value=change.value, is_default=change.is_default,
            actor_id=envelope.actor_id), AssessmentUnitOfWork.joining(session, outbox, None), config=config)

    return {"identity.system_config.changed.v1": system_config_changed}


def export_consumer(context: ServiceContext, dead_letters: Any) -> IdempotentConsumer:
    """identity.events' export requests: assessment answers with its part of the person's data."""
    async def export_requested(session: AsyncSession, envelope: Envelope[Any]) -> None:
        uow = AssessmentUnitOfWork.joining(session, context.outbox, envelope.tenant_id)
        await export_personal_data(ExportPersonalData(envelope.data), uow)

    return IdempotentConsumer(sessions=context.sessions, schema="assessment", group_id="assessment.exports",
                              handlers={"identity.user.export_requested.v1": export_requested},
                              dead_letters=dead_letters, max_tries=context.settings.consumer_max_tries)


def subscribe(context: ServiceContext, broker: KafkaBroker, dead_letters: DeadLetters, *,
              auto_generate_count: int) -> None:
    common: dict[str, Any] = {"sessions": context.sessions, "schema": "assessment", "dead_letters": dead_letters,
                              "max_tries": context.settings.consumer_max_tries}
    context.subscribe(IdempotentConsumer(
        group_id="assessment.content-projection", handlers=content_handlers(
            config=context.config, outbox=context.outbox, auto_generate_count=auto_generate_count), **common),
        broker, CONTENT_EVENTS.name)
    # Grades follow a changed passing threshold (their `passed`); the compacted topic keeps every latest value.
    context.subscribe(IdempotentConsumer(
        group_id="assessment.grading-configs", handlers=config_handlers(config=context.config, outbox=context.outbox),
        **common), broker, SYSTEM_CONFIGS.name)
    context.subscribe(export_consumer(context, dead_letters), broker, IDENTITY_EVENTS.name)

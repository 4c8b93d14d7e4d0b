"""Which consumer group reads which topic into which projection or use case. The worker and
`rebuild` share these; a rebuild passes ``emit=False``, so no event is announced again."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from cuepoint.contracts.envelope import Envelope
from cuepoint.contracts.topics import (
    ASSESSMENT_EVENTS,
    CLIENT_EVENTS,
    CONTENT_EVENTS,
    IDENTITY_EVENTS,
    PROGRESS_EVENTS,
    USER_PROFILES,
)
from cuepoint.runtime.consumer import PROCESSED, BatchConsumer, BatchHandler, Handler, IdempotentConsumer, Record
from cuepoint.runtime.db import set_tenant
from cuepoint.runtime.metrics import TELEMETRY_DROPPED as DROPPED
from cuepoint.runtime.metrics import TELEMETRY_FLAGGED as FLAGGED
from cuepoint.runtime.outbox import Outbox
from cuepoint.runtime.service import ServiceContext

from . import projections
from .unit_of_work import ProgressUnitOfWork
from .use_cases.grades import (
    RecordAttempt,
    RecordLessonGrade,
    RecordOverride,
    record_attempt,
    record_lesson_grade,
    record_override,
)
from .use_cases.exports import ExportPersonalData, export_personal_data
from .use_cases.playback import RecordPlayback, record_playback

Event = Envelope[Any]


def grade_handlers(outbox: Outbox, *, emit: bool) -> dict[str, Handler]:
    async def attempt_graded(session: AsyncSession, envelope: Event) -> None:
        uow = ProgressUnitOfWork.joining(session, outbox, envelope.tenant_id)
        await record_attempt(RecordAttempt(envelope.data), uow, announce=emit)

    async def score_overridden(session: AsyncSession, envelope: Event) -> None:
        uow = ProgressUnitOfWork.joining(session, outbox, envelope.tenant_id)
        await record_override(RecordOverride(envelope.data), uow, announce=emit)

    async def lesson_graded(session: AsyncSession, envelope: Event) -> None:
        uow = ProgressUnitOfWork.joining(session, outbox, envelope.tenant_id)
        await record_lesson_grade(RecordLessonGrade(envelope.data), uow, announce=emit)

    return {
        "assessment.lesson.graded.v1": lesson_graded,
        "assessment.question.approved.v1": projections.question_reviewed,
        "assessment.question.rejected.v1": projections.question_reviewed,
        "assessment.attempt.graded.v1": attempt_graded,
        "assessment.attempt.score_overridden.v1": score_overridden,
    }


def playback_handler(outbox: Outbox, *, emit: bool) -> BatchHandler:
    async def playback(session: AsyncSession, envelopes: list[Event]) -> None:
        """One tenant's new client events of a polled batch, in partition order."""
        if not envelopes:
            return
        uow = ProgressUnitOfWork.joining(session, outbox, envelopes[0].tenant_id)
        recorded = await record_playback(RecordPlayback([e.data for e in envelopes]), uow, announce=emit)
        for reason in recorded.dropped:
            DROPPED.labels(reason).inc()
        for reason in recorded.flagged:
            FLAGGED.labels(reason).inc()

    return playback


def input_consumers(context: ServiceContext, dead_letters: Any, *, emit: bool) -> dict[str, Any]:
    """Topic name (unprefixed) → the consumer that projects it."""
    common = {"sessions": context.sessions, "schema": "progress", "dead_letters": dead_letters,
              "max_tries": context.settings.consumer_max_tries}
    return {
        CONTENT_EVENTS.name: IdempotentConsumer(group_id="progress.content", handlers=projections.CATALOGUE, **common),
        ASSESSMENT_EVENTS.name: IdempotentConsumer(group_id="progress.assessment",
                                                   handlers=grade_handlers(context.outbox, emit=emit), **common),
        PROGRESS_EVENTS.name: IdempotentConsumer(group_id="progress.sessions", handlers=projections.OWN, **common),
        CLIENT_EVENTS.name: BatchConsumer(group_id="progress.playback", handler=playback_handler(context.outbox, emit=emit),
                                          event_types=["analytics.client_event.recorded.v1"], **common),
        USER_PROFILES.name: ProfileConsumer(group_id="progress.profiles", **common),
    }


def export_consumer(context: ServiceContext, dead_letters: Any) -> IdempotentConsumer:
    """identity.events' export requests: progress answers with its part of the person's data. Not an
    input of the read models (a rebuild does not replay it: that would send parts nobody asked for)."""
    async def export_requested(session: AsyncSession, envelope: Event) -> None:
        uow = ProgressUnitOfWork.joining(session, context.outbox, envelope.tenant_id)
        await export_personal_data(ExportPersonalData(envelope.data), uow)

    return IdempotentConsumer(sessions=context.sessions, schema="progress", group_id="progress.exports",
                              handlers={"identity.user.export_requested.v1": export_requested},
                              dead_letters=dead_letters, max_tries=context.settings.consumer_max_tries)


class ProfileConsumer(IdempotentConsumer):
    """The idempotent consumer of ``identity.user-profiles``, tombstones included.

    The runtime's consumers skip tombstones (they carry no envelope), but here a tombstone is the
    one message that must not be missed. It has no event id for the inbox; deleting is idempotent
    and a key's records arrive in order, so a redelivered tombstone changes nothing.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(handlers=projections.PROFILES, **kwargs)

    async def handle_record(self, record: Record) -> None:
        if record.value is not None:
            await super().handle_record(record)
            return
        try:
            user_id = uuid.UUID((record.key or b"").decode())
            tenant_id = uuid.UUID(_header(record, "tenant_id") or "")
        except ValueError as error:  # without both, the row to delete is unknown: made visible, not skipped
            await self._dead_letter(record, "invalid-tombstone", error)
            return

        async def work() -> None:
            async with self.sessions() as session, session.begin():
                await set_tenant(session, tenant_id)
                await projections.erase_user(session, tenant_id, user_id)
            PROCESSED.labels(self.group_id, "processed").inc()

        async def give_up(error: BaseException) -> None:
            await self._dead_letter(record, "handler-failed", error)

        await self._with_retries(work, record, on_give_up=give_up)


def _header(record: Record, name: str) -> str | None:
    for key, value in record.headers or ():
        if key == name:
            return value.decode(errors="replace")
    return None

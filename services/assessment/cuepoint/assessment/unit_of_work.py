"""assessment's unit of work: a tenant transaction with the repositories its use cases need."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from cuepoint.contracts.envelope import Envelope, Event
from cuepoint.runtime.outbox import Outbox
from cuepoint.runtime.unit_of_work import Emitted, UnitOfWork

from .repositories import (
    Attempts,
    Configurations,
    Grades,
    Jobs,
    Lessons,
    MilestonePolicies,
    Milestones,
    Questions,
    Transcripts,
    Usage,
)


class _Repositories:
    lessons: Lessons
    milestones: Milestones
    transcripts: Transcripts
    questions: Questions
    policies: MilestonePolicies
    attempts: Attempts
    grades: Grades
    configurations: Configurations
    jobs: Jobs
    usage: Usage

    def _attach(self, session: AsyncSession) -> None:
        self.lessons = Lessons(session)
        self.milestones = Milestones(session)
        self.transcripts = Transcripts(session)
        self.questions = Questions(session)
        self.policies = MilestonePolicies(session)
        self.attempts = Attempts(session)
        self.grades = Grades(session)
        self.configurations = Configurations(session)
        self.jobs = Jobs(session)
        self.usage = Usage(session)


class AssessmentUnitOfWork(_Repositories, UnitOfWork):
    def _open(self, session: AsyncSession) -> None:
        self._attach(session)


class ConsumerUnitOfWork(_Repositories):
    """The same repositories and ``emit`` on a consumer's transaction, which the runtime's
    IdempotentConsumer opened and commits (with the record's acknowledgement): an event's use case
    runs in it rather than in a transaction of its own."""

    def __init__(self, session: AsyncSession, outbox: Outbox, tenant_id: uuid.UUID | None) -> None:
        self.session = session
        self._outbox = outbox
        self.tenant_id = tenant_id
        self.emitted: list[Emitted] = []
        self._attach(session)

    async def emit(self, event: Event, *, actor_id: uuid.UUID | None = None, causation_id: uuid.UUID | None = None,
                   tenant_id: uuid.UUID | None = None) -> Envelope[Any]:
        tenant = tenant_id or self.tenant_id
        if tenant is None:
            raise ValueError("an event needs a tenant: this unit of work has none, and none was given")
        self.emitted.append(Emitted(event, actor_id, causation_id))
        return await self._outbox.emit(self.session, event, tenant_id=tenant, actor_id=actor_id,
                                       causation_id=causation_id)

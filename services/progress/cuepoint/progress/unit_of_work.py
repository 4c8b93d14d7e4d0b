"""progress's unit of work: its repositories on the tenant transaction's session."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from cuepoint.runtime.outbox import Outbox
from cuepoint.runtime.unit_of_work import UnitOfWork

from .repositories import Catalogue, LessonProgresses, Results, Sessions, VideoProgress


class ProgressUnitOfWork(UnitOfWork):
    catalogue: Catalogue
    videos: VideoProgress
    sessions: Sessions
    results: Results
    progress: LessonProgresses

    def _open(self, session: AsyncSession) -> None:
        self.catalogue = Catalogue(session)
        self.videos = VideoProgress(session)
        self.sessions = Sessions(session)
        self.results = Results(session)
        self.progress = LessonProgresses(session)

    @classmethod
    def joining(cls, session: AsyncSession, outbox: Outbox, tenant_id: uuid.UUID) -> ProgressUnitOfWork:
        """The consumer's transaction as a unit of work, for the use cases events drive: the consumer
        opened it (tenant set, inbox claimed) and commits or rolls it back, so the rows, the events
        emitted and the inbox entry stay one transaction. Not to be entered with ``async with``."""
        uow = cls(None, outbox, tenant_id)  # type: ignore[arg-type]  # no sessions: it opens none
        uow.session = session
        uow._open(session)
        return uow

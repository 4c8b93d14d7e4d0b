"""progress's unit of work: its repositories on the tenant transaction's session."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from cuepoint.runtime.unit_of_work import UnitOfWork

from .repositories import Catalogue, LessonProgresses, PersonalData, Results, Sessions, VideoProgress


class ProgressUnitOfWork(UnitOfWork):
    """``units(tenant)`` for a request's use case; ``ProgressUnitOfWork.joining(session, outbox, tenant)``
    for the use cases events drive, inside their consumer's transaction (rows, events and inbox entry
    in one commit)."""

    catalogue: Catalogue
    videos: VideoProgress
    sessions: Sessions
    results: Results
    progress: LessonProgresses
    personal_data: PersonalData

    def _open(self, session: AsyncSession) -> None:
        self.catalogue = Catalogue(session)
        self.videos = VideoProgress(session)
        self.sessions = Sessions(session)
        self.results = Results(session)
        self.progress = LessonProgresses(session)
        self.personal_data = PersonalData(session)

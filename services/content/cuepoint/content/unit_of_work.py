"""content's unit of work: a tenant transaction with the repositories its use cases need."""

from __future__ import annotations

from collections.abc import Callable
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from cuepoint.runtime.unit_of_work import UnitOfWork

from .repositories import Groups, Lessons, Milestones, PersonalData, Questions, Transcripts, Versions, Videos


class ContentUnitOfWork(UnitOfWork):
    lessons: Lessons
    versions: Versions
    groups: Groups
    videos: Videos
    milestones: Milestones
    transcripts: Transcripts
    questions: Questions
    personal_data: PersonalData

    def _open(self, session: AsyncSession) -> None:
        self.lessons = Lessons(session)
        self.versions = Versions(session)
        self.groups = Groups(session)
        self.videos = Videos(session)
        self.milestones = Milestones(session)
        self.transcripts = Transcripts(session)
        self.questions = Questions(session)
        self.personal_data = PersonalData(session)


Units = Callable[[UUID], ContentUnitOfWork]
"""``units(tenant_id)``, for a use case that opens a unit of work per step (slow I/O between them):
UnitsOfWork[ContentUnitOfWork] in the service, FakeUnitsOfWork in unit tests."""

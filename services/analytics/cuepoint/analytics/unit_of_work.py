"""analytics' unit of work: a tenant transaction and the repositories on it."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from cuepoint.runtime.unit_of_work import UnitOfWork

from .repositories import Ownership, PersonalData


class AnalyticsUnitOfWork(UnitOfWork):
    ownership: Ownership
    personal_data: PersonalData

    def _open(self, session: AsyncSession) -> None:
        self.ownership = Ownership(session)
        self.personal_data = PersonalData(session)

"""The SQL the use cases need, on the unit of work's session."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy import select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from .orm import lessons, questions, videos

KINDS = {"lesson_id": lessons, "video_id": videos, "question_id": questions}


class Ownership:
    """Which lessons, videos and questions a tenant owns, as analytics learned them from content's and
    assessment's events (the ``lessons``, ``videos`` and ``questions`` read models; never another
    service's schema). The ingest refuses client events naming ids the caller's tenant does not own, so
    one tenant's telemetry never lands on another's lessons (issue 16, finding 2)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def owned(self, named: dict[str, Iterable[uuid.UUID]]) -> set[uuid.UUID]:
        """Of the ids named (by field: ``lesson_id``, ``video_id``, ``question_id``), those of the tenant
        (row-level security shows this transaction's tenant's rows only)."""
        ids = {field: sorted(set(named.get(field, ()))) for field in KINDS}
        if not any(ids.values()):
            return set()
        query = union_all(*(select(table.c.id).where(table.c.id.in_(ids[field])) for field, table in KINDS.items()))
        return set((await self.session.execute(query)).scalars())

"""Which lessons, videos and questions a tenant owns, as analytics learned them from content's and
assessment's events (the ``lessons``, ``videos`` and ``questions`` read models; never another
service's schema). The ingest refuses client events naming ids the caller's tenant does not own, so
one tenant's telemetry never lands on another's lessons (issue 16, finding 2)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cuepoint.runtime.db import tenant_transaction

KINDS = {"lesson_id": "lessons", "video_id": "videos", "question_id": "questions"}

_OWNED = text("""
SELECT id FROM lessons WHERE id = ANY(:lesson_id)
UNION ALL SELECT id FROM videos WHERE id = ANY(:video_id)
UNION ALL SELECT id FROM questions WHERE id = ANY(:question_id)
""")


class Ownership:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    async def owned(self, tenant_id: uuid.UUID, named: dict[str, Iterable[uuid.UUID]]) -> set[uuid.UUID]:
        """Of the ids named (by field: ``lesson_id``, ``video_id``, ``question_id``), those of the tenant."""
        ids = {field: sorted(set(named.get(field, ()))) for field in KINDS}
        if not any(ids.values()):
            return set()
        async with tenant_transaction(self.sessions, tenant_id) as session:
            return set((await session.execute(_OWNED, ids)).scalars())

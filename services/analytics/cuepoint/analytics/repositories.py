"""The SQL the use cases need, on the unit of work's session."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from typing import Any

from sqlalchemy import or_, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from .orm import analytics_events, audit_logs, lessons, questions, videos

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


class PersonalData:
    """What analytics keeps about one person, for their data export (issue 16): the events of its event
    store they caused or that are about them (telemetry they sent, domain events they caused, e.g. a
    failed sign-in to their account), and the audit log's entries where they are the actor or the target."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def of(self, user_id: uuid.UUID) -> dict[str, list[dict[str, Any]]]:
        events, audit = analytics_events, audit_logs
        person = str(user_id)
        about = or_(events.c.user_id == user_id, events.c.data["user_id"].astext == person,
                    events.c.data["student_id"].astext == person)
        event_rows = (await self.session.execute(select(events).where(about).order_by(events.c.occurred_at))).all()
        audit_rows = (await self.session.execute(select(audit).where(or_(
            audit.c.actor_id == user_id, audit.c.target_id == person)).order_by(audit.c.seq))).all()
        return {
            "events": [{k: v for k, v in row._mapping.items() if k != "tenant_id"} for row in event_rows],
            "audit_entries": [{k: v for k, v in row._mapping.items() if k not in ("tenant_id", "id")}
                              for row in audit_rows],
        }

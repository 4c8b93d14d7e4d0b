"""content's projection of assessment's questions: id, milestone and status, enough for
the playback lookup. Events of one question can arrive in any order (generation is keyed
by job, review by question), so each write is an order-independent upsert."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from cuepoint.contracts.envelope import Envelope
from cuepoint.runtime.upserts import upsert_if_newer

from . import orm


async def questions_generated(session: AsyncSession, envelope: Envelope[Any]) -> None:
    for question in envelope.data.questions:
        # A row that exists already came from a later review event: keep its status.
        await session.execute(insert(orm.questions).values(
            id=question.question_id, tenant_id=envelope.tenant_id, milestone_id=question.milestone_id,
            status=question.status, updated_at=envelope.occurred_at).on_conflict_do_nothing())


async def _reviewed(session: AsyncSession, envelope: Envelope[Any], status: str) -> None:
    data = envelope.data
    await upsert_if_newer(session, orm.questions, {
        "id": data.question_id, "tenant_id": envelope.tenant_id, "milestone_id": data.milestone_id, "status": status,
        "updated_at": envelope.occurred_at}, changes={"status": status, "milestone_id": data.milestone_id,
                                                      "updated_at": envelope.occurred_at})


async def question_approved(session: AsyncSession, envelope: Envelope[Any]) -> None:
    await _reviewed(session, envelope, "APPROVED")


async def question_rejected(session: AsyncSession, envelope: Envelope[Any]) -> None:
    await _reviewed(session, envelope, "REJECTED")


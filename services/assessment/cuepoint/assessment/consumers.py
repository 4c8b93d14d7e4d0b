"""assessment's projections of content.events: lessons (author, publication, auto-generation),
milestones and transcripts. Events of one lesson arrive in order (keyed by their aggregate),
but lesson, milestone and transcript events are keyed differently, so every write is an
upsert guarded by ``updated_at`` and never depends on another row arriving first.

TranscriptReady and MilestoneCreated also queue question generation when the lesson asks for it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from cuepoint.contracts.envelope import Envelope
from cuepoint.runtime.consumer import Handler
from cuepoint.runtime.errors import Conflict

from . import orm
from .domain import offline_generator
from .domain.prompting import validate_types
from .generation import Generation

Event = Envelope[Any]


async def _upsert(session: AsyncSession, table: Any, keys: list[str], values: dict[str, Any],
                  changes: dict[str, Any]) -> None:
    statement = insert(table).values(**values)
    await session.execute(statement.on_conflict_do_update(
        index_elements=[table.c[key] for key in keys], set_=changes,
        where=table.c.updated_at <= values["updated_at"]))


async def _lesson(session: AsyncSession, envelope: Event, **changes: Any) -> None:
    data = envelope.data
    base = {"id": data.lesson_id, "tenant_id": envelope.tenant_id, "title": "", "status": "DRAFT",
            "created_by_id": getattr(data, "created_by_id", None) or envelope.actor_id,
            "auto_generate_questions": False, "updated_at": envelope.occurred_at}
    await _upsert(session, orm.lessons, ["id"], {**base, **changes}, {**changes, "updated_at": envelope.occurred_at})


async def lesson_created(session: AsyncSession, envelope: Event) -> None:
    data = envelope.data
    await _lesson(session, envelope, title=data.title, created_by_id=data.created_by_id,
                  auto_generate_questions=data.auto_generate_questions)


async def lesson_updated(session: AsyncSession, envelope: Event) -> None:
    data = envelope.data
    await _lesson(session, envelope, title=data.title, auto_generate_questions=data.auto_generate_questions)


async def lesson_published(session: AsyncSession, envelope: Event) -> None:
    await _lesson(session, envelope, title=envelope.data.title, status="PUBLISHED")


async def lesson_archived(session: AsyncSession, envelope: Event) -> None:
    await _lesson(session, envelope, status="ARCHIVED")


async def milestone_changed(session: AsyncSession, envelope: Event) -> None:
    data = envelope.data
    fields = {"video_id": data.video_id, "lesson_id": data.lesson_id, "timestamp": data.timestamp,
              "title": data.title, "is_required": data.is_required, "deleted": False,
              "updated_at": envelope.occurred_at}
    await _upsert(session, orm.milestones, ["id"], {"id": data.milestone_id, "tenant_id": envelope.tenant_id,
                                                     **fields}, fields)


async def milestone_deleted(session: AsyncSession, envelope: Event) -> None:
    data = envelope.data
    values = {"id": data.milestone_id, "tenant_id": envelope.tenant_id, "video_id": data.video_id,
              "lesson_id": data.lesson_id, "timestamp": 0.0, "title": "", "is_required": False, "deleted": True,
              "updated_at": envelope.occurred_at}
    await _upsert(session, orm.milestones, ["id"], values, {"deleted": True, "updated_at": envelope.occurred_at})


def handlers(generation: Generation, *, auto_generate_count: int) -> dict[str, Handler]:
    async def transcript_ready(session: AsyncSession, envelope: Event) -> None:
        data = envelope.data
        if data.segments is None:
            return  # an event from before segments travelled with it: nothing to project
        segments = [s.model_dump() for s in data.segments]
        values = {"video_id": data.video_id, "language": data.language, "tenant_id": envelope.tenant_id,
                  "lesson_id": data.lesson_id, "segments": segments, "updated_at": envelope.occurred_at}
        await _upsert(session, orm.transcripts, ["video_id", "language"], values,
                      {"segments": segments, "updated_at": envelope.occurred_at})
        await _auto_generate(session, envelope, data.lesson_id, data.video_id)

    async def milestone_created(session: AsyncSession, envelope: Event) -> None:
        await milestone_changed(session, envelope)
        await _auto_generate(session, envelope, envelope.data.lesson_id, envelope.data.video_id)

    async def _auto_generate(session: AsyncSession, envelope: Event, lesson_id: Any, video_id: Any) -> None:
        """Questions for the video's milestones that automatic generation has not covered yet, once the video
        has a transcript: milestones and transcripts arrive in either order (they have different keys)."""
        # Serialised per video, so a milestone and a transcript projected at the same moment by two workers
        # cannot both miss each other.
        await session.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"),
                              {"k": f"auto-generate:{video_id}"})
        lesson = (await session.execute(select(orm.lessons).where(orm.lessons.c.id == lesson_id))).first()
        if lesson is None or not lesson.auto_generate_questions:
            return
        if (await session.execute(select(orm.transcripts.c.video_id).where(
                orm.transcripts.c.video_id == video_id).limit(1))).first() is None:
            return
        m, jobs = orm.milestones, orm.generation_jobs
        covered = select(jobs.c.id).where(jobs.c.trigger == "AUTOMATIC", m.c.id == func.any(jobs.c.milestone_ids))
        milestones = (await session.execute(select(m.c.id).where(
            m.c.video_id == video_id, ~m.c.deleted, ~covered.exists()).order_by(m.c.timestamp))).scalars().all()
        if not milestones:
            return
        try:
            configuration, provider, model = await generation.choose_configuration(
                session, envelope.tenant_id, configuration_id=None, provider=None)
        except Conflict:  # no usable provider: teachers can still ask by hand
            configuration, provider, model = None, offline_generator.PROVIDER, offline_generator.MODEL
        await generation.enqueue(session, tenant_id=envelope.tenant_id, lesson_id=lesson_id, video_id=video_id,
                                 milestone_ids=list(milestones), count=auto_generate_count,
                                 types=validate_types(None), trigger="AUTOMATIC", requested_by_id=envelope.actor_id,
                                 configuration=configuration, provider=provider, model=model)

    return {
        "content.lesson.created.v1": lesson_created,
        "content.lesson.updated.v1": lesson_updated,
        "content.lesson.published.v1": lesson_published,
        "content.lesson.archived.v1": lesson_archived,
        "content.milestone.created.v1": milestone_created,
        "content.milestone.updated.v1": milestone_changed,
        "content.milestone.deleted.v1": milestone_deleted,
        "content.transcript.ready.v1": transcript_ready,
    }

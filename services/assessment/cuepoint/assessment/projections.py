"""assessment's projections of content.events: lessons (author, publication, auto-generation),
milestones and transcripts. Events of one lesson arrive in order (keyed by their aggregate),
but lesson, milestone and transcript events are keyed differently, so every write is an
upsert guarded by ``updated_at`` and never depends on another row arriving first.

(TranscriptReady and MilestoneCreated also queue question generation when the lesson asks for it:
use_cases.generation.generate_automatically, wired in consumers.py.)
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from cuepoint.contracts.envelope import Envelope
from cuepoint.runtime.upserts import upsert_if_newer

from . import orm

Event = Envelope[Any]


async def _lesson(session: AsyncSession, envelope: Event, **changes: Any) -> None:
    data = envelope.data
    base = {"id": data.lesson_id, "tenant_id": envelope.tenant_id, "title": "", "status": "DRAFT",
            "created_by_id": getattr(data, "created_by_id", None) or envelope.actor_id,
            "auto_generate_questions": False, "updated_at": envelope.occurred_at}
    await upsert_if_newer(session, orm.lessons, {**base, **changes},
                          changes={**changes, "updated_at": envelope.occurred_at})


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
    await upsert_if_newer(session, orm.milestones, {"id": data.milestone_id, "tenant_id": envelope.tenant_id,
                                                     **fields}, changes=fields)


async def milestone_deleted(session: AsyncSession, envelope: Event) -> None:
    data = envelope.data
    values = {"id": data.milestone_id, "tenant_id": envelope.tenant_id, "video_id": data.video_id,
              "lesson_id": data.lesson_id, "timestamp": 0.0, "title": "", "is_required": False, "deleted": True,
              "updated_at": envelope.occurred_at}
    await upsert_if_newer(session, orm.milestones, values,
                          changes={"deleted": True, "updated_at": envelope.occurred_at})


async def transcript_ready(session: AsyncSession, envelope: Event) -> bool:
    """The transcript (its segments); False for an event from before segments travelled with it: nothing
    to project."""
    data = envelope.data
    if data.segments is None:
        return False
    segments = [s.model_dump() for s in data.segments]
    values = {"video_id": data.video_id, "language": data.language, "tenant_id": envelope.tenant_id,
              "lesson_id": data.lesson_id, "segments": segments, "updated_at": envelope.occurred_at}
    await upsert_if_newer(session, orm.transcripts, values,
                          changes={"segments": segments, "updated_at": envelope.occurred_at},
                          keys=["video_id", "language"])
    return True

"""What progress keeps of events as they are: content's catalogue, assessment's question reviews,
its own ended sessions and identity's display names. Functions (session, envelope) → rows,
idempotent and order-independent ("upsert if newer" on the event's time).

Events that drive rules (playback, gradings) go to use cases instead (consumers.py).
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Text, text
from sqlalchemy import cast as sa_cast
from sqlalchemy.ext.asyncio import AsyncSession

from cuepoint.contracts.envelope import Envelope
from cuepoint.runtime.consumer import Handler
from cuepoint.runtime.upserts import upsert_if_newer, upsert_if_newer_statement

from . import orm
from .live import NOTIFY_CHANNEL

Event = Envelope[Any]


# --- content's catalogue ---------------------------------------------------------------------------

async def _lesson(session: AsyncSession, envelope: Event, **changes: Any) -> None:
    data = envelope.data
    values = {"id": data.lesson_id, "tenant_id": envelope.tenant_id, "title": "",
              "created_by_id": getattr(data, "created_by_id", None) or envelope.actor_id,
              "updated_at": envelope.occurred_at, **changes}
    await upsert_if_newer(session, orm.lessons, values, changes={**changes, "updated_at": envelope.occurred_at})


async def lesson_created(session: AsyncSession, envelope: Event) -> None:
    data = envelope.data
    await _lesson(session, envelope, title=data.title, thumbnail=data.thumbnail,
                  created_by_id=data.created_by_id, seek_policy=data.seek_policy)


async def lesson_updated(session: AsyncSession, envelope: Event) -> None:
    data = envelope.data
    await _lesson(session, envelope, title=data.title, thumbnail=data.thumbnail, seek_policy=data.seek_policy)


async def lesson_published(session: AsyncSession, envelope: Event) -> None:
    data = envelope.data
    await _lesson(session, envelope, title=data.title, thumbnail=data.thumbnail,
                  created_by_id=data.created_by_id, status="PUBLISHED", video_ids=list(data.video_ids))


async def lesson_archived(session: AsyncSession, envelope: Event) -> None:
    await _lesson(session, envelope, status="ARCHIVED")


async def video_uploaded(session: AsyncSession, envelope: Event) -> None:
    data = envelope.data
    changes = {"lesson_id": data.lesson_id, "duration": data.duration_seconds}
    await upsert_if_newer(session, orm.videos, {"id": data.video_id, "tenant_id": envelope.tenant_id,
                                                "updated_at": envelope.occurred_at, **changes},
                          changes={**changes, "updated_at": envelope.occurred_at})


async def video_updated(session: AsyncSession, envelope: Event) -> None:
    """Title, chapter and position are the draft's: progress keeps none of them, and students'
    playback order is the published version's (``LessonPublished.video_ids``). Handled (and so
    recorded in the inbox) rather than filtered out, to say that nothing is to be done."""


async def video_deleted(session: AsyncSession, envelope: Event) -> None:
    # Only marked: a published version holding the video keeps playing it, with its milestones
    # (so those stay too), until a publication leaves it out of ``video_ids``. An update, not an
    # upsert: a cancelled upload that never reached VideoUploaded leaves nothing to mark.
    v = orm.videos
    await session.execute(v.update().where(v.c.id == envelope.data.video_id, v.c.updated_at <= envelope.occurred_at)
                          .values(deleted=True, updated_at=envelope.occurred_at))


async def milestone_changed(session: AsyncSession, envelope: Event) -> None:
    data = envelope.data
    deleted = envelope.event_type == "content.milestone.deleted.v1"
    changes = {"video_id": data.video_id, "lesson_id": data.lesson_id, "deleted": deleted,
               "updated_at": envelope.occurred_at}
    if not deleted:
        changes |= {"timestamp": data.timestamp, "is_required": data.is_required}
    await upsert_if_newer(session, orm.milestones, {"id": data.milestone_id, "tenant_id": envelope.tenant_id,
                                                    "timestamp": 0.0, "is_required": False, **changes},
                          changes=changes)


CATALOGUE: dict[str, Handler] = {
    "content.lesson.created.v1": lesson_created,
    "content.lesson.updated.v1": lesson_updated,
    "content.lesson.published.v1": lesson_published,
    "content.lesson.archived.v1": lesson_archived,
    "content.video.uploaded.v1": video_uploaded,
    "content.video.updated.v1": video_updated,
    "content.video.deleted.v1": video_deleted,
    "content.milestone.created.v1": milestone_changed,
    "content.milestone.updated.v1": milestone_changed,
    "content.milestone.deleted.v1": milestone_changed,
}


# --- assessment's question reviews -----------------------------------------------------------------

async def question_reviewed(session: AsyncSession, envelope: Event) -> None:
    data = envelope.data
    changes = {"milestone_id": data.milestone_id, "lesson_id": data.lesson_id,
               "approved": envelope.event_type == "assessment.question.approved.v1",
               "updated_at": envelope.occurred_at}
    await upsert_if_newer(session, orm.questions, {"id": data.question_id, "tenant_id": envelope.tenant_id,
                                                   **changes}, changes=changes)


# --- progress's own events -------------------------------------------------------------------------

async def session_ended(session: AsyncSession, envelope: Event) -> None:
    data = envelope.data
    s = orm.student_sessions
    await session.execute(s.update().where(s.c.id == data.session_id, s.c.last_seen_at <= data.ended_at)
                          .values(ended_at=data.ended_at))


OWN: dict[str, Handler] = {"progress.session.ended.v1": session_ended, "progress.session.ended.v2": session_ended}


# --- identity's display names ----------------------------------------------------------------------
# Who each student is, for the teacher's class view (identity lets only admins read other users),
# from identity's compacted ``identity.user-profiles``. A profile snapshot upserts the user's display
# name; the email it also carries is not kept, since the class view needs only the name. A tombstone
# (null value, keyed by user id, the tenant in its headers) is identity's erasure: the row is deleted,
# and a replay of the compacted topic, which keeps only the tombstone (then nothing) for that key,
# never brings the name back.

# A changed name reaches the live class views of every lesson the student has progress in; the
# notices have the progress notices' shape, so the streams re-read that student's row as for any change.
NOTIFY_LESSONS = text("""
SELECT pg_notify(:channel, json_build_object('tenant_id', tenant_id, 'student_id', student_id,
                                             'lesson_id', lesson_id)::text)
FROM student_progress WHERE student_id = :student_id
""")


async def display_name(session: AsyncSession, envelope: Event) -> None:
    data = envelope.data
    n = orm.display_names
    written = await session.execute(upsert_if_newer_statement(n, {
        "tenant_id": envelope.tenant_id, "user_id": data.user_id, "display_name": data.display_name,
        "updated_at": envelope.occurred_at}).returning(n.c.user_id))
    if written.first() is not None:
        await _notify_lessons(session, data.user_id)


PROFILES: dict[str, Handler] = {"identity.user_profile.snapshot.v1": display_name}


async def erase_user(session: AsyncSession, tenant_id: uuid.UUID, user_id: uuid.UUID) -> None:
    """The student's name goes, and what identifies their devices: a session keeps its id (which
    is what events and the resume refer to) but not the device id or user agent."""
    n = orm.display_names
    deleted = await session.execute(n.delete().where(n.c.tenant_id == tenant_id, n.c.user_id == user_id)
                                    .returning(n.c.user_id))
    s, v = orm.student_sessions, orm.video_progress
    await session.execute(s.update().where(s.c.tenant_id == tenant_id, s.c.student_id == user_id)
                          .values(device_id="erased:" + sa_cast(s.c.id, Text), user_agent=None))
    await session.execute(v.update().where(v.c.tenant_id == tenant_id, v.c.student_id == user_id)
                          .values(last_device_id=None))
    # Sessions ended before progress.session.ended.v2 named their device; the published rows the
    # relay has not purged yet go now (the topic's copies are the README's stated exception).
    await session.execute(text("DELETE FROM outbox WHERE event_type = 'progress.session.ended.v1' AND key = :key "
                               "AND published_at IS NOT NULL"), {"key": str(user_id)})
    if deleted.first() is not None:
        await _notify_lessons(session, user_id)


async def _notify_lessons(session: AsyncSession, student_id: uuid.UUID) -> None:
    await session.execute(NOTIFY_LESSONS, {"channel": NOTIFY_CHANNEL, "student_id": student_id})

"""Reads that answer content's GET routes. A view never writes and never emits.

The playback lookup (``milestones``) runs while a video plays: it is the seed's "Video Milestone
Lookup" on plain psycopg in one round trip (runtime's ReadPool.rows; the same row-level security), no ORM,
and its answers are kept in memory until content changes (lookup_cache.py)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cuepoint.runtime.auth import CurrentUser, Role
from cuepoint.runtime.clock import utc_now
from cuepoint.runtime.db import ReadPool, tenant_transaction
from cuepoint.runtime.errors import Conflict, NotFound
from cuepoint.runtime.metrics import timed_statement

from . import orm
from .domain import lessons
from .domain.captions import caption_label, webvtt
from .domain.images import EXTENSION_TYPES
from .domain.transcripts import Segment
from .domain.versions import changes as version_changes
from .lookup_cache import LookupCache
from .repositories import Lessons, Videos
from .settings import ContentSettings
from .storage import VideoStorage, thumbnail_object_name

Sessions = async_sessionmaker[AsyncSession]

# The seed's "Video Milestone Lookup", verbatim but for the GROUP BY PostgreSQL requires.
MILESTONE_LOOKUP_SQL = """
SELECT
    m.id,
    m.timestamp,
    m.title,
    m.is_required,
    COUNT(q.id) as question_count
FROM milestones m
LEFT JOIN questions q ON m.id = q.milestone_id
  AND q.status = 'APPROVED'
WHERE m.video_id = %(video_id)s
GROUP BY m.id
ORDER BY m.timestamp ASC
"""
MILESTONE_LOOKUP = text(MILESTONE_LOOKUP_SQL.replace("%(video_id)s", ":video_id")).execution_options(
    statement_name="milestone_lookup")

# The same lookup for students: milestones of the *published* version, approved counts live. The
# lesson is found from the video by primary keys (the scalar subquery), so the plan never walks the
# organisation's published lessons, however few the planner thinks there are.
PUBLISHED_MILESTONE_LOOKUP_SQL = """
SELECT (ms->>'id')::uuid AS id, (ms->>'timestamp')::float AS timestamp, ms->>'title' AS title,
       (ms->>'is_required')::boolean AS is_required,
       (SELECT COUNT(*) FROM questions q WHERE q.milestone_id = (ms->>'id')::uuid AND q.status = 'APPROVED')
           AS question_count
FROM lessons l
JOIN lesson_versions lv ON lv.lesson_id = l.id AND lv.version = l.version
CROSS JOIN LATERAL jsonb_array_elements(lv.snapshot->'videos') v
CROSS JOIN LATERAL jsonb_array_elements(v->'milestones') ms
WHERE l.id = (SELECT vid.lesson_id FROM videos vid WHERE vid.id = %(video_id)s) AND l.status = 'PUBLISHED'
  AND v->>'id' = %(video_id)s::text
ORDER BY 2
"""
PUBLISHED_VIDEO_SQL = """
SELECT 1 FROM lessons l
JOIN lesson_versions lv ON lv.lesson_id = l.id AND lv.version = l.version
WHERE l.id = (SELECT vid.lesson_id FROM videos vid WHERE vid.id = %(video_id)s) AND l.status = 'PUBLISHED'
  AND lv.snapshot->'videos' @> jsonb_build_array(jsonb_build_object('id', %(video_id)s::text))
"""

# Counted in SQL: a snapshot holds every video and milestone, and a page needs only the numbers.
VERSIONS = text("""
SELECT lv.version, lv.snapshot->>'title' AS title, lv.published_at, lv.published_by_id,
       jsonb_array_length(lv.snapshot->'videos') AS video_count,
       COUNT(ms) AS milestone_count,
       COUNT(ms) FILTER (WHERE (ms->>'is_required')::boolean) AS required_milestone_count
FROM lesson_versions lv
LEFT JOIN LATERAL jsonb_array_elements(lv.snapshot->'videos') v ON true
LEFT JOIN LATERAL jsonb_array_elements(v->'milestones') ms ON true
WHERE lv.lesson_id = :lesson_id
GROUP BY lv.lesson_id, lv.version
ORDER BY lv.version DESC
LIMIT :limit OFFSET :offset
""")



async def _draft(session: AsyncSession, lesson: Any) -> dict[str, Any]:
    groups, videos, milestones = await Lessons(session).contents(lesson.id)
    return lessons.draft(lesson, groups, videos, milestones, now=utc_now())


async def _authored(session: AsyncSession, actor: CurrentUser, lesson_id: uuid.UUID) -> Any:
    lesson = await Lessons(session).get(lesson_id)
    lessons.ensure_authored(lesson, actor)
    return lesson


async def _published_snapshot(session: AsyncSession, lesson_id: uuid.UUID) -> dict[str, Any]:
    row = (await session.execute(
        select(orm.lesson_versions.c.snapshot).join(orm.lessons, and_(
            orm.lessons.c.id == orm.lesson_versions.c.lesson_id,
            orm.lessons.c.version == orm.lesson_versions.c.version))
        .where(orm.lessons.c.id == lesson_id, orm.lessons.c.status == "PUBLISHED"))).first()
    if row is None:
        raise NotFound(f"no lesson {lesson_id}")
    return row.snapshot


# --- lessons ---------------------------------------------------------------------------------------

async def get_lesson(sessions: Sessions, actor: CurrentUser, lesson_id: uuid.UUID) -> dict[str, Any]:
    """Teachers and admins see the working draft; students the published version."""
    async with tenant_transaction(sessions, actor.tenant_id) as session:
        if actor.at_least(Role.TEACHER):
            return await _draft(session, await Lessons(session).get(lesson_id))
        return await _published_snapshot(session, lesson_id)


async def list_lessons(sessions: Sessions, actor: CurrentUser, *, query: str | None, status: str | None, limit: int,
                       offset: int) -> tuple[list[dict[str, Any]], int]:
    async with tenant_transaction(sessions, actor.tenant_id) as session:
        await session.execute(text("SET LOCAL pg_trgm.similarity_threshold = 0.2"))
        if actor.at_least(Role.TEACHER):
            haystack = (func.lower(orm.lessons.c.title) + " " + func.lower(orm.lessons.c.description)).self_group()
            base = select(orm.lessons)
            conditions = [orm.lessons.c.status == status] if status else []
        else:
            snapshot = orm.lesson_versions.c.snapshot
            haystack = (func.lower(snapshot["title"].astext) + " "
                        + func.lower(snapshot["description"].astext)).self_group()
            base = select(orm.lessons, snapshot.label("snapshot")).join(orm.lesson_versions, and_(
                orm.lesson_versions.c.lesson_id == orm.lessons.c.id,
                orm.lesson_versions.c.version == orm.lessons.c.version))
            conditions = [orm.lessons.c.status == "PUBLISHED"]
        order: list[Any] = [orm.lessons.c.updated_at.desc(), orm.lessons.c.id]
        if query:
            needle = query.strip().lower()
            conditions.append(haystack.op("%", is_comparison=True)(needle) | haystack.contains(needle))
            order = [func.similarity(haystack, needle).desc(), orm.lessons.c.id]
        total = (await session.execute(select(func.count()).select_from(base.where(*conditions).subquery()))
                 ).scalar_one()
        rows = (await session.execute(base.where(*conditions).order_by(*order).limit(limit).offset(offset))).all()
    if actor.at_least(Role.TEACHER):
        return [lessons.lesson_summary(row) for row in rows], total
    return [{**lessons.summary_of_snapshot(row.snapshot)} for row in rows], total


async def versions(sessions: Sessions, actor: CurrentUser, lesson_id: uuid.UUID, *, limit: int,
                   offset: int) -> tuple[list[dict[str, Any]], int]:
    """The published versions, newest first, with what each snapshot holds."""
    async with tenant_transaction(sessions, actor.tenant_id) as session:
        await _authored(session, actor, lesson_id)
        total = (await session.execute(select(func.count()).select_from(orm.lesson_versions).where(
            orm.lesson_versions.c.lesson_id == lesson_id))).scalar_one()
        rows = (await session.execute(VERSIONS, {"lesson_id": lesson_id, "limit": limit, "offset": offset})).all()
    return [dict(row._mapping) for row in rows], total


async def changes(sessions: Sessions, actor: CurrentUser, lesson_id: uuid.UUID) -> dict[str, Any]:
    """What publishing now would change: the draft as publish would freeze it against the latest version."""
    async with tenant_transaction(sessions, actor.tenant_id) as session:
        lesson = await _authored(session, actor, lesson_id)
        view = await _draft(session, lesson)
        # Archived lessons keep their version: the latest one, not only a PUBLISHED lesson's.
        published = (await session.execute(
            select(orm.lesson_versions.c.snapshot).where(orm.lesson_versions.c.lesson_id == lesson_id)
            .order_by(orm.lesson_versions.c.version.desc()).limit(1))).scalar()
    return {"lesson_id": lesson_id, **version_changes(published, lessons.publishable_draft(view))}


async def thumbnail(storage: VideoStorage, tenant_id: uuid.UUID, file_name: str) -> tuple[bytes, str]:
    """An image set_thumbnail stored: its bytes and content type. The name is a hash, so a
    caller who has no lesson page naming it cannot guess it."""
    extension = file_name.rsplit(".", 1)[-1]
    data = None
    if extension in EXTENSION_TYPES:
        data = await storage.read(thumbnail_object_name(tenant_id, file_name))
    if data is None:
        raise NotFound(f"no thumbnail {file_name}")
    return data, EXTENSION_TYPES[extension]


# --- playback --------------------------------------------------------------------------------------

async def playback(sessions: Sessions, storage: VideoStorage, settings: ContentSettings, actor: CurrentUser,
                   video_id: uuid.UUID) -> dict[str, Any]:
    """A short-lived read URL and the milestones where playback pauses."""
    async with tenant_transaction(sessions, actor.tenant_id) as session:
        video = await Videos(session).get(video_id, deleted_ok=True)
        milestones, played = await _playback_milestones(session, actor, video)
        if video.status not in ("UPLOADED", "READY"):
            raise Conflict("this video has not been uploaded yet")
        languages = (await session.execute(select(orm.transcripts.c.language).where(
            orm.transcripts.c.video_id == video_id).order_by(orm.transcripts.c.language))).scalars().all()
    minutes = settings.playback_url_minutes
    url = await storage.read_url(played["storage_path"].removeprefix(storage.gs_prefix), minutes)
    captions = [{"language": language, "label": caption_label(language),
                 "path": f"/v1/videos/{video_id}/transcripts/{language}.vtt"} for language in languages]
    return {"video_id": video_id, "url": url, "expires_at": utc_now() + timedelta(minutes=minutes),
            "duration": played["duration"], "milestones": milestones, "captions": captions}


async def milestones(lookups: ReadPool, kept: LookupCache, actor: CurrentUser,
                     video_id: uuid.UUID) -> list[dict[str, Any]]:
    """The playback lookup alone (no URL signing): it runs while a video plays, so authors
    get the seed's query on a plain connection; students read the published version. One
    round trip each (ReadPool.rows); a second only when there is nothing to show (404 or no milestones).
    An answer is kept until content changes (lookup_cache.py): the same tenant's next lookup of the
    video on the same side (the draft, the published version) skips the database."""
    author = actor.at_least(Role.TEACHER)
    key = (actor.tenant_id, video_id, author)
    if (rows := kept.get(key)) is not None:
        return rows
    generation = kept.generation
    lookup, exists = ((MILESTONE_LOOKUP_SQL, "SELECT 1 FROM videos WHERE id = %(video_id)s") if author
                      else (PUBLISHED_MILESTONE_LOOKUP_SQL, PUBLISHED_VIDEO_SQL))
    params = {"video_id": video_id}
    # Named for cuepoint_db_statement_duration_seconds: the seed's hot path, budget 5 ms (its one
    # round trip: the transaction, the tenant and the lookup).
    with timed_statement("milestone_lookup" if author else "published_milestone_lookup"):
        rows = await lookups.rows(actor.tenant_id, lookup, params)
    if not rows and not await lookups.rows(actor.tenant_id, exists, params):
        raise NotFound(f"no video {video_id}")
    kept.put(key, rows, generation)
    return rows


async def _playback_milestones(session: AsyncSession, actor: CurrentUser,
                               video: Any) -> tuple[list[dict], dict[str, Any]]:
    """The milestones and the file to play: authors preview the working draft (the seed's lookup);
    students get the published version, whose file stays the one it was published with even
    after the draft's is replaced."""
    if actor.at_least(Role.TEACHER):
        milestones = [dict(row._mapping) for row in await session.execute(MILESTONE_LOOKUP, {"video_id": video.id})]
        return milestones, {"storage_path": video.storage_path, "duration": video.duration}
    snapshot = await _published_snapshot(session, video.lesson_id)
    published = next((v for v in snapshot["videos"] if v["id"] == str(video.id)), None)
    if published is None:
        raise NotFound(f"no video {video.id}")
    return await _with_question_counts(session, published["milestones"]), published


async def _with_question_counts(session: AsyncSession, milestones: list[dict[str, Any]]) -> list[dict]:
    ids = [uuid.UUID(m["id"]) for m in milestones]
    counts = dict((await session.execute(
        select(orm.questions.c.milestone_id, func.count()).where(
            orm.questions.c.milestone_id.in_(ids), orm.questions.c.status == "APPROVED")
        .group_by(orm.questions.c.milestone_id))).all()) if ids else {}
    return [{"id": m["id"], "timestamp": m["timestamp"], "title": m["title"], "is_required": m["is_required"],
             "question_count": counts.get(uuid.UUID(m["id"]), 0)} for m in milestones]


# --- transcripts -----------------------------------------------------------------------------------

async def transcript(sessions: Sessions, actor: CurrentUser, video_id: uuid.UUID, language: str) -> dict[str, Any]:
    row = await _readable_transcript(sessions, actor, video_id, language)
    return {"id": row.id, "video_id": video_id, "language": language, "format": row.format,
            "segments": row.segments}


async def captions(sessions: Sessions, actor: CurrentUser, video_id: uuid.UUID, language: str) -> str:
    """The transcript as a WebVTT caption track."""
    row = await _readable_transcript(sessions, actor, video_id, language)
    return webvtt(Segment(s["start"], s["end"], s["text"]) for s in row.segments)


async def _readable_transcript(sessions: Sessions, actor: CurrentUser, video_id: uuid.UUID, language: str) -> Any:
    """Teachers and admins read any of their organisation's; students only a video of the published version."""
    async with tenant_transaction(sessions, actor.tenant_id) as session:
        video = await Videos(session).get(video_id, deleted_ok=True)
        if not actor.at_least(Role.TEACHER):
            snapshot = await _published_snapshot(session, video.lesson_id)
            if not any(v["id"] == str(video_id) for v in snapshot["videos"]):
                raise NotFound(f"no video {video_id}")
        row = (await session.execute(select(orm.transcripts).where(
            orm.transcripts.c.video_id == video_id, orm.transcripts.c.language == language))).first()
        if row is None:
            raise NotFound(f"no {language} transcript for this video")
        return row

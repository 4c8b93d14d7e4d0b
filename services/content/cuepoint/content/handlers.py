"""content's use cases: authoring, publishing (frozen versions), uploads, milestones,
transcripts. One tenant-scoped transaction each, events through the outbox."""

from __future__ import annotations

import asyncio
import json
import shutil
import tempfile
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import and_, func, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cuepoint.contracts import content as events
from cuepoint.runtime.auth import CurrentUser, Role
from psycopg.rows import dict_row

from cuepoint.runtime.db import one_or_404, ReadPool, tenant_transaction
from cuepoint.runtime.errors import Conflict, Forbidden, Gone, Invalid, NotFound
from cuepoint.runtime.outbox import Outbox

from . import orm
from .domain.captions import caption_label, webvtt
from .domain.images import EXTENSION_TYPES, image_file_name
from .domain.milestones import timestamp_problem
from .domain.probe import PROBED_FORMATS, UNREADABLE, UnreadableVideo, probe_result
from .domain.transcripts import Segment, TranscriptError, parse
from .domain.versions import changes as version_changes
from .settings import ContentSettings
from .storage import VideoStorage, object_name, replacement_object_name, tenant_prefix, thumbnail_object_name

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
MILESTONE_LOOKUP = text(MILESTONE_LOOKUP_SQL.replace("%(video_id)s", ":video_id"))

# The same lookup for students: milestones of the *published* version, approved counts live.
PUBLISHED_MILESTONE_LOOKUP_SQL = """
SELECT (ms->>'id')::uuid AS id, (ms->>'timestamp')::float AS timestamp, ms->>'title' AS title,
       (ms->>'is_required')::boolean AS is_required,
       (SELECT COUNT(*) FROM questions q WHERE q.milestone_id = (ms->>'id')::uuid AND q.status = 'APPROVED')
           AS question_count
FROM videos vid
JOIN lessons l ON l.id = vid.lesson_id AND l.status = 'PUBLISHED'
JOIN lesson_versions lv ON lv.lesson_id = l.id AND lv.version = l.version
CROSS JOIN LATERAL jsonb_array_elements(lv.snapshot->'videos') v
CROSS JOIN LATERAL jsonb_array_elements(v->'milestones') ms
WHERE vid.id = %(video_id)s AND v->>'id' = %(video_id)s::text
ORDER BY 2
"""
PUBLISHED_VIDEO_SQL = """
SELECT 1 FROM videos vid
JOIN lessons l ON l.id = vid.lesson_id AND l.status = 'PUBLISHED'
JOIN lesson_versions lv ON lv.lesson_id = l.id AND lv.version = l.version
WHERE vid.id = %(video_id)s AND lv.snapshot->'videos' @> jsonb_build_array(jsonb_build_object('id', %(video_id)s::text))
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

# What publishing freezes; an expired or failed upload has nothing to play.
PUBLISHABLE = ("UPLOADED", "READY")

# The segments travel in TranscriptReady; this keeps that event far below Kafka's 1 MB.
TRANSCRIPT_TEXT_LIMIT = 512 * 1024

ConfigLookup = Callable[[str, uuid.UUID], Awaitable[Any]]


def _now() -> datetime:
    return datetime.now(UTC)


class Content:
    def __init__(self, *, sessions: async_sessionmaker[AsyncSession], outbox: Outbox, storage: VideoStorage,
                 settings: ContentSettings, config: ConfigLookup, reads: ReadPool) -> None:
        self.sessions = sessions
        self.reads = reads
        self.outbox = outbox
        self.storage = storage
        self.settings = settings
        self.config = config

    # --- access --------------------------------------------------------------------------------

    _one = staticmethod(one_or_404)

    async def _lesson(self, session: AsyncSession, lesson_id: uuid.UUID, *, lock: bool = False) -> Any:
        return await self._one(session, orm.lessons, lesson_id, "lesson", lock=lock)

    async def _editable(self, session: AsyncSession, actor: CurrentUser, lesson_id: uuid.UUID) -> Any:
        lesson = await self._lesson(session, lesson_id, lock=True)
        if not actor.at_least(Role.TEACHER):
            raise NotFound(f"no lesson {lesson_id}")
        if lesson.created_by_id != actor.id and not actor.at_least(Role.ADMIN):
            raise Forbidden("only the lesson's author or an admin can change it")
        if lesson.status == "ARCHIVED":
            raise Conflict("this lesson is archived")
        return lesson

    async def _authored(self, session: AsyncSession, actor: CurrentUser, lesson_id: uuid.UUID) -> Any:
        """A lesson its author or an admin may look into; unlike _editable, an archived one too."""
        lesson = await self._lesson(session, lesson_id)
        if not actor.at_least(Role.TEACHER):
            raise NotFound(f"no lesson {lesson_id}")
        if lesson.created_by_id != actor.id and not actor.at_least(Role.ADMIN):
            raise Forbidden("only the lesson's author or an admin can see its versions")
        return lesson

    async def _touch(self, session: AsyncSession, lesson_id: uuid.UUID) -> None:
        await session.execute(update(orm.lessons).where(orm.lessons.c.id == lesson_id)
                              .values(has_unpublished_changes=True, updated_at=_now()))

    async def _video(self, session: AsyncSession, video_id: uuid.UUID, *, lock: bool = False,
                     deleted_ok: bool = False) -> Any:
        """A video of the draft; ``deleted_ok`` also finds one deleted from it (a published version may play it)."""
        video = await self._one(session, orm.videos, video_id, "video", lock=lock)
        if video.deleted_at is not None and not deleted_ok:
            raise NotFound(f"no video {video_id}")
        return video

    async def _published_snapshot(self, session: AsyncSession, lesson_id: uuid.UUID) -> dict[str, Any]:
        row = (await session.execute(
            select(orm.lesson_versions.c.snapshot).join(orm.lessons, and_(
                orm.lessons.c.id == orm.lesson_versions.c.lesson_id,
                orm.lessons.c.version == orm.lesson_versions.c.version))
            .where(orm.lessons.c.id == lesson_id, orm.lessons.c.status == "PUBLISHED"))).first()
        if row is None:
            raise NotFound(f"no lesson {lesson_id}")
        return row.snapshot

    # --- lessons ----------------------------------------------------------------------------------

    async def create_lesson(self, actor: CurrentUser, fields: dict[str, Any]) -> dict[str, Any]:
        lesson_id = uuid.uuid4()
        async with tenant_transaction(self.sessions, actor.tenant_id) as session:
            await session.execute(orm.lessons.insert().values(
                id=lesson_id, tenant_id=actor.tenant_id, created_by_id=actor.id, status="DRAFT", version=0,
                has_unpublished_changes=True, created_at=_now(), updated_at=_now(), **fields))
            lesson = await self._lesson(session, lesson_id)
            await self.outbox.emit(session, events.LessonCreated(
                lesson_id=lesson_id, title=lesson.title, thumbnail=lesson.thumbnail, created_by_id=actor.id,
                seek_policy=lesson.seek_policy, auto_generate_questions=lesson.auto_generate_questions),
                tenant_id=actor.tenant_id, actor_id=actor.id)
            return await self._draft_view(session, lesson)

    async def update_lesson(self, actor: CurrentUser, lesson_id: uuid.UUID, fields: dict[str, Any]) -> dict[str, Any]:
        async with tenant_transaction(self.sessions, actor.tenant_id) as session:
            await self._editable(session, actor, lesson_id)
            if fields:
                await session.execute(update(orm.lessons).where(orm.lessons.c.id == lesson_id)
                                      .values(**fields, has_unpublished_changes=True, updated_at=_now()))
            lesson = await self._lesson(session, lesson_id)
            await self.outbox.emit(session, events.LessonUpdated(
                lesson_id=lesson_id, title=lesson.title, thumbnail=lesson.thumbnail, seek_policy=lesson.seek_policy,
                auto_generate_questions=lesson.auto_generate_questions), tenant_id=actor.tenant_id, actor_id=actor.id)
            return await self._draft_view(session, lesson)

    async def set_thumbnail(self, actor: CurrentUser, lesson_id: uuid.UUID, data: bytes,
                            content_type: str) -> dict[str, Any]:
        """Stores the image under its hash and makes it the lesson's thumbnail (a LessonUpdated)."""
        file_name = image_file_name(data, content_type, max_bytes=self.settings.thumbnail_max_bytes)
        async with tenant_transaction(self.sessions, actor.tenant_id) as session:
            await self._editable(session, actor, lesson_id)  # nothing is stored for who may not change it
        await self.storage.put(thumbnail_object_name(actor.tenant_id, file_name), data,
                               content_type=EXTENSION_TYPES[file_name.rsplit(".", 1)[1]])
        url = f"{self.settings.public_api_path.rstrip('/')}/v1/thumbnails/{actor.tenant_id}/{file_name}"
        return await self.update_lesson(actor, lesson_id, {"thumbnail": url})

    async def thumbnail(self, tenant_id: uuid.UUID, file_name: str) -> tuple[bytes, str]:
        """An image set_thumbnail stored: its bytes and content type. The name is a hash, so a
        caller who has no lesson page naming it cannot guess it."""
        extension = file_name.rsplit(".", 1)[-1]
        data = None
        if extension in EXTENSION_TYPES:
            data = await self.storage.read(thumbnail_object_name(tenant_id, file_name))
        if data is None:
            raise NotFound(f"no thumbnail {file_name}")
        return data, EXTENSION_TYPES[extension]

    async def get_lesson(self, actor: CurrentUser, lesson_id: uuid.UUID) -> dict[str, Any]:
        """Teachers and admins see the working draft; students the published version."""
        async with tenant_transaction(self.sessions, actor.tenant_id) as session:
            if actor.at_least(Role.TEACHER):
                return await self._draft_view(session, await self._lesson(session, lesson_id))
            return await self._published_snapshot(session, lesson_id)

    async def list_lessons(self, actor: CurrentUser, *, query: str | None, status: str | None, limit: int,
                           offset: int) -> tuple[list[dict[str, Any]], int]:
        async with tenant_transaction(self.sessions, actor.tenant_id) as session:
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
            return [_lesson_summary(row) for row in rows], total
        return [{**_summary_of_snapshot(row.snapshot)} for row in rows], total

    async def _draft_view(self, session: AsyncSession, lesson: Any) -> dict[str, Any]:
        groups = (await session.execute(select(orm.video_groups).where(orm.video_groups.c.lesson_id == lesson.id)
                                        .order_by(orm.video_groups.c.position, orm.video_groups.c.created_at))).all()
        videos = (await session.execute(select(orm.videos).where(orm.videos.c.lesson_id == lesson.id,
                                                                 orm.videos.c.deleted_at.is_(None))
                                        .order_by(orm.videos.c.position, orm.videos.c.created_at))).all()
        milestones = (await session.execute(select(orm.milestones).where(orm.milestones.c.lesson_id == lesson.id)
                                            .order_by(orm.milestones.c.timestamp))).all()
        by_video: dict[uuid.UUID, list[dict[str, Any]]] = {}
        for milestone in milestones:
            by_video.setdefault(milestone.video_id, []).append(_milestone(milestone))
        drafted = [{**_video(v), "milestones": by_video.get(v.id, [])} for v in videos]
        return {
            **_lesson_summary(lesson),
            "video_groups": [{"id": g.id, "title": g.title, "position": g.position} for g in groups],
            "videos": drafted,
            "excluded_videos": [{"video_id": v["id"], "title": v["title"], "status": v["status"],
                                 "reason": _exclusion(v)} for v in drafted if v["status"] in ("EXPIRED", "FAILED")],
        }

    async def publish(self, actor: CurrentUser, lesson_id: uuid.UUID) -> dict[str, Any]:
        async with tenant_transaction(self.sessions, actor.tenant_id) as session:
            lesson = await self._editable(session, actor, lesson_id)
            view = await self._draft_view(session, lesson)
            pending = [v["title"] for v in view["videos"] if v["status"] == "UPLOADING"]
            if pending:
                raise Conflict(f"these videos are still uploading: {', '.join(pending)}; complete or delete them "
                               "(an upload not completed in time expires and is left out)")
            # An expired or failed upload has nothing to play: it is left out, as excluded_videos says.
            playable = [v for v in view["videos"] if v["status"] in PUBLISHABLE]
            if not playable:
                raise Conflict("a lesson needs at least one uploaded video before it is published")
            await self._refuse_unanswerable_milestones(session, playable)
            version = lesson.version + 1
            snapshot = json.loads(json.dumps({**view, "videos": playable, "status": "PUBLISHED", "version": version,
                                              "published_at": _now()}, default=_json_value))
            excluded = snapshot.pop("excluded_videos")
            snapshot.pop("has_unpublished_changes", None)
            await session.execute(orm.lesson_versions.insert().values(
                lesson_id=lesson_id, version=version, tenant_id=actor.tenant_id, snapshot=snapshot,
                published_by_id=actor.id, published_at=_now()))
            await session.execute(update(orm.lessons).where(orm.lessons.c.id == lesson_id).values(
                status="PUBLISHED", version=version, has_unpublished_changes=False, published_at=_now(),
                updated_at=_now()))
            await self.outbox.emit(session, events.LessonPublished(
                lesson_id=lesson_id, version=version, title=lesson.title, thumbnail=lesson.thumbnail,
                created_by_id=lesson.created_by_id, video_ids=[v["id"] for v in playable]),
                tenant_id=actor.tenant_id, actor_id=actor.id)
            # The author's view: draft and version agree, but for what publishing left out.
            return {**snapshot, "has_unpublished_changes": False, "excluded_videos": excluded}

    async def versions(self, actor: CurrentUser, lesson_id: uuid.UUID, *, limit: int,
                       offset: int) -> tuple[list[dict[str, Any]], int]:
        """The published versions, newest first, with what each snapshot holds."""
        async with tenant_transaction(self.sessions, actor.tenant_id) as session:
            await self._authored(session, actor, lesson_id)
            total = (await session.execute(select(func.count()).select_from(orm.lesson_versions).where(
                orm.lesson_versions.c.lesson_id == lesson_id))).scalar_one()
            rows = (await session.execute(VERSIONS, {"lesson_id": lesson_id, "limit": limit, "offset": offset})).all()
        return [dict(row._mapping) for row in rows], total

    async def changes(self, actor: CurrentUser, lesson_id: uuid.UUID) -> dict[str, Any]:
        """What publishing now would change: the draft as publish would freeze it against the latest version."""
        async with tenant_transaction(self.sessions, actor.tenant_id) as session:
            lesson = await self._authored(session, actor, lesson_id)
            view = await self._draft_view(session, lesson)
            # Archived lessons keep their version: the latest one, not only a PUBLISHED lesson's.
            published = (await session.execute(
                select(orm.lesson_versions.c.snapshot).where(orm.lesson_versions.c.lesson_id == lesson_id)
                .order_by(orm.lesson_versions.c.version.desc()).limit(1))).scalar()
        draft = json.loads(json.dumps({**view, "videos": [v for v in view["videos"] if v["status"] in PUBLISHABLE]},
                                      default=_json_value))
        return {"lesson_id": lesson_id, **version_changes(published, draft)}

    async def _refuse_unanswerable_milestones(self, session: AsyncSession, videos: list[dict[str, Any]]) -> None:
        """A required milestone stops playback until it is answered: without an approved question
        students could never get past it."""
        required = [(m, v) for v in videos for m in v["milestones"] if m["is_required"]]
        if not required:
            return
        answerable = set((await session.execute(select(orm.questions.c.milestone_id).where(
            orm.questions.c.milestone_id.in_([m["id"] for m, _ in required]),
            orm.questions.c.status == "APPROVED"))).scalars())
        blocked = [(m, v) for m, v in required if m["id"] not in answerable]
        if blocked:
            named = "; ".join(f"{m['title']!r} at {m['timestamp']:g} s in {v['title']!r}" for m, v in blocked)
            raise Conflict(f"required milestones without an approved question: {named}. Approve a question for "
                           "each, or make it optional", milestones=[
                               {"milestone_id": str(m["id"]), "title": m["title"], "video_id": str(v["id"]),
                                "video_title": v["title"]} for m, v in blocked])

    async def archive(self, actor: CurrentUser, lesson_id: uuid.UUID) -> dict[str, Any]:
        async with tenant_transaction(self.sessions, actor.tenant_id) as session:
            await self._editable(session, actor, lesson_id)
            await session.execute(update(orm.lessons).where(orm.lessons.c.id == lesson_id).values(
                status="ARCHIVED", archived_at=_now(), updated_at=_now()))
            await self.outbox.emit(session, events.LessonArchived(lesson_id=lesson_id), tenant_id=actor.tenant_id,
                                   actor_id=actor.id)
            return await self._draft_view(session, await self._lesson(session, lesson_id))

    # --- chapters ------------------------------------------------------------------------------------

    async def create_group(self, actor: CurrentUser, lesson_id: uuid.UUID, *, title: str,
                           position: int | None) -> dict[str, Any]:
        group_id = uuid.uuid4()
        async with tenant_transaction(self.sessions, actor.tenant_id) as session:
            await self._editable(session, actor, lesson_id)
            if position is None:
                position = (await session.execute(select(func.count()).select_from(orm.video_groups).where(
                    orm.video_groups.c.lesson_id == lesson_id))).scalar_one()
            await session.execute(orm.video_groups.insert().values(
                id=group_id, tenant_id=actor.tenant_id, lesson_id=lesson_id, title=title, position=position,
                created_at=_now(), updated_at=_now()))
            await self._touch(session, lesson_id)
            await self.outbox.emit(session, events.VideoGroupCreated(
                video_group_id=group_id, lesson_id=lesson_id, title=title, position=position),
                tenant_id=actor.tenant_id, actor_id=actor.id)
            return {"id": group_id, "lesson_id": lesson_id, "title": title, "position": position}

    async def update_group(self, actor: CurrentUser, group_id: uuid.UUID, fields: dict[str, Any]) -> dict[str, Any]:
        async with tenant_transaction(self.sessions, actor.tenant_id) as session:
            group = await self._group(session, group_id)
            await self._editable(session, actor, group.lesson_id)
            if fields:
                await session.execute(update(orm.video_groups).where(orm.video_groups.c.id == group_id)
                                      .values(**fields, updated_at=_now()))
            group = await self._group(session, group_id)
            await self._touch(session, group.lesson_id)
            await self.outbox.emit(session, events.VideoGroupUpdated(
                video_group_id=group_id, lesson_id=group.lesson_id, title=group.title, position=group.position),
                tenant_id=actor.tenant_id, actor_id=actor.id)
            return {"id": group.id, "lesson_id": group.lesson_id, "title": group.title, "position": group.position}

    async def delete_group(self, actor: CurrentUser, group_id: uuid.UUID) -> None:
        async with tenant_transaction(self.sessions, actor.tenant_id) as session:
            group = await self._group(session, group_id)
            await self._editable(session, actor, group.lesson_id)
            await session.execute(orm.video_groups.delete().where(orm.video_groups.c.id == group_id))
            await self._touch(session, group.lesson_id)
            await self.outbox.emit(session, events.VideoGroupDeleted(video_group_id=group_id, lesson_id=group.lesson_id),
                                   tenant_id=actor.tenant_id, actor_id=actor.id)

    async def _group(self, session: AsyncSession, group_id: uuid.UUID) -> Any:
        return await self._one(session, orm.video_groups, group_id, "chapter")

    # --- videos and uploads ---------------------------------------------------------------------------

    async def _refuse_unacceptable_file(self, actor: CurrentUser, content_type: str, size_bytes: int) -> None:
        if content_type not in self.settings.allowed_video_types:
            raise Invalid(f"content type {content_type!r} is not accepted; use one of "
                          f"{', '.join(self.settings.allowed_video_types)}")
        cap = int(await self.config("video.maxFileSize", actor.tenant_id))
        if size_bytes > cap:
            raise Invalid(f"the file is {size_bytes} bytes; this organisation accepts at most {cap} bytes "
                          "(system config video.maxFileSize)")

    async def create_upload(self, actor: CurrentUser, lesson_id: uuid.UUID, *, title: str, content_type: str,
                            size_bytes: int, video_group_id: uuid.UUID | None, position: int | None,
                            duration: float | None = None, checksum: str | None = None) -> dict[str, Any]:
        await self._refuse_unacceptable_file(actor, content_type, size_bytes)
        video_id = uuid.uuid4()
        name = object_name(actor.tenant_id, video_id)
        expires_at = _now() + timedelta(minutes=self.settings.upload_session_minutes)
        async with tenant_transaction(self.sessions, actor.tenant_id) as session:
            await self._editable(session, actor, lesson_id)
            if video_group_id is not None:
                group = await self._group(session, video_group_id)
                if group.lesson_id != lesson_id:
                    raise Invalid("the chapter belongs to another lesson")
            if position is None:
                position = (await session.execute(select(func.count()).select_from(orm.videos).where(
                    orm.videos.c.lesson_id == lesson_id))).scalar_one()
            await session.execute(orm.videos.insert().values(
                id=video_id, tenant_id=actor.tenant_id, lesson_id=lesson_id, video_group_id=video_group_id,
                title=title, position=position, duration=duration, storage_path=self.storage.gs_prefix + name,
                status="UPLOADING",
                content_type=content_type, expected_size=size_bytes, upload_expires_at=expires_at,
                metadata={"expected_checksum": checksum} if checksum else {},
                created_at=_now(), updated_at=_now()))
            await self._touch(session, lesson_id)
            upload_url = await self.storage.create_upload(name, content_type=content_type, size=size_bytes)
        return {"video_id": video_id, "upload_url": upload_url, "method": "PUT", "content_type": content_type,
                "size_bytes": size_bytes, "expires_at": expires_at}

    async def complete_upload(self, actor: CurrentUser, video_id: uuid.UUID) -> dict[str, Any]:
        """Checks the stored object and, once, publishes VideoUploaded. A video with a pending
        replacement of its file completes that replacement instead."""
        async with tenant_transaction(self.sessions, actor.tenant_id) as session:
            video = await self._video(session, video_id, lock=True)
            await self._editable(session, actor, video.lesson_id)
            replacing = video.status in PUBLISHABLE and video.replacement is not None
            if video.status in PUBLISHABLE and not replacing:
                return _completed(video)  # already completed: nothing happens twice
        if replacing:
            return await self._complete_replacement(actor, video_id)
        async with tenant_transaction(self.sessions, actor.tenant_id) as session:
            video = await self._video(session, video_id, lock=True)
            await self._editable(session, actor, video.lesson_id)
            if video.status in ("UPLOADED", "READY"):
                return _completed(video)  # a concurrent complete won
            if video.status == "FAILED":
                raise Conflict("this upload failed; start a new one")
            name = video.storage_path.removeprefix(self.storage.gs_prefix)
            if not name.startswith(tenant_prefix(actor.tenant_id)):
                raise Forbidden("the object is outside this organisation's storage")
            if video.upload_expires_at < _now():
                await self._fail(session, video, "upload session expired")
                await self.storage.delete(name)
                failure: Exception | None = Gone("the upload session expired; start a new upload")
            else:
                stored = await self.storage.stat(name)
                if stored is None:
                    raise Conflict("nothing was uploaded for this video yet")
                failure = _upload_problem(_announced(video), stored,
                                          int(await self.config("video.maxFileSize", actor.tenant_id)))
                if failure is not None:
                    await self._fail(session, video, str(failure))
                    await self.storage.delete(name)
        if failure is not None:
            raise failure
        try:
            probe = await self._probe(name, stored.size)
        except UnreadableVideo as error:
            async with tenant_transaction(self.sessions, actor.tenant_id) as session:
                video = await self._video(session, video_id, lock=True, deleted_ok=True)
                if video.status == "UPLOADING":
                    await self._fail(session, video, str(error))
            await self.storage.delete(name)
            raise Invalid(str(error)) from error
        async with tenant_transaction(self.sessions, actor.tenant_id) as session:
            video = await self._video(session, video_id, lock=True, deleted_ok=True)
            if video.status in ("UPLOADED", "READY"):
                return _completed(video)  # a concurrent complete won
            metadata = {"size": stored.size, "content_type": stored.content_type, "checksum": stored.crc32c,
                        "md5": stored.md5, **{k: v for k, v in probe.items() if k != "duration"}}
            await session.execute(update(orm.videos).where(orm.videos.c.id == video_id).values(
                status="READY" if probe else "UPLOADED", duration=probe.get("duration", video.duration),
                metadata=metadata,
                upload_expires_at=None, updated_at=_now()))
            await self._touch(session, video.lesson_id)
            video = await self._video(session, video_id, deleted_ok=True)
            await self.outbox.emit(session, events.VideoUploaded(
                video_id=video_id, lesson_id=video.lesson_id, video_group_id=video.video_group_id, title=video.title,
                position=video.position, storage_path=video.storage_path, content_type=stored.content_type or "",
                size_bytes=stored.size, checksum=stored.crc32c or "", duration_seconds=video.duration,
                width=probe.get("width"), height=probe.get("height")), tenant_id=actor.tenant_id, actor_id=actor.id)
            return _completed(video)

    async def replace_file(self, actor: CurrentUser, video_id: uuid.UUID, *, content_type: str, size_bytes: int,
                           duration: float | None = None, checksum: str | None = None) -> dict[str, Any]:
        """A resumable upload session for a new file of an existing video. The file goes to a new
        object; the video keeps its current one until ``complete`` verifies the new one (a published
        version keeps playing its own until the next publication)."""
        await self._refuse_unacceptable_file(actor, content_type, size_bytes)
        upload_id = uuid.uuid4()
        name = replacement_object_name(actor.tenant_id, video_id, upload_id)
        expires_at = _now() + timedelta(minutes=self.settings.upload_session_minutes)
        async with tenant_transaction(self.sessions, actor.tenant_id) as session:
            video = await self._video(session, video_id, lock=True)
            await self._editable(session, actor, video.lesson_id)
            if video.status not in PUBLISHABLE:
                raise Conflict("this video has no completed file to replace; complete its upload, or delete it "
                               "and start a new one")
            superseded = video.replacement
            await session.execute(update(orm.videos).where(orm.videos.c.id == video_id).values(replacement={
                "upload_id": str(upload_id), "storage_path": self.storage.gs_prefix + name,
                "content_type": content_type, "expected_size": size_bytes, "expected_checksum": checksum,
                "duration": duration, "expires_at": _json_value(expires_at)}, updated_at=_now()))
            upload_url = await self.storage.create_upload(name, content_type=content_type, size=size_bytes)
        if superseded is not None:  # a replacement started again: the earlier one is never completed
            await self.storage.delete(superseded["storage_path"].removeprefix(self.storage.gs_prefix))
        return {"video_id": video_id, "upload_url": upload_url, "method": "PUT", "content_type": content_type,
                "size_bytes": size_bytes, "expires_at": expires_at}

    async def _complete_replacement(self, actor: CurrentUser, video_id: uuid.UUID) -> dict[str, Any]:
        """Verifies the replacement like any upload and swaps it in for the draft. A replacement that
        fails or expired is dropped: the video keeps the file it had."""
        async with tenant_transaction(self.sessions, actor.tenant_id) as session:
            video = await self._video(session, video_id, lock=True)
            await self._editable(session, actor, video.lesson_id)
            pending = video.replacement
            if pending is None:
                return _completed(video)  # a concurrent complete won
            name = pending["storage_path"].removeprefix(self.storage.gs_prefix)
            if not name.startswith(tenant_prefix(actor.tenant_id)):
                raise Forbidden("the object is outside this organisation's storage")
            failure: Exception | None = None
            if datetime.fromisoformat(pending["expires_at"]) < _now():
                failure = Gone("the replacement's upload session expired; the video keeps its current file. "
                               "Start a new replacement")
            else:
                stored = await self.storage.stat(name)
                if stored is None:
                    raise Conflict("nothing was uploaded for this replacement yet")
                failure = _upload_problem(_announced_replacement(pending), stored,
                                          int(await self.config("video.maxFileSize", actor.tenant_id)))
            if failure is not None:
                await self._drop_replacement(session, video_id, pending)
                await self.storage.delete(name)
        if failure is not None:
            raise failure
        try:
            probe = await self._probe(name, stored.size)
        except UnreadableVideo as error:
            async with tenant_transaction(self.sessions, actor.tenant_id) as session:
                await self._drop_replacement(session, video_id, pending)
            await self.storage.delete(name)
            raise Invalid(f"{error}; the video keeps its current file") from error
        async with tenant_transaction(self.sessions, actor.tenant_id) as session:
            video = await self._video(session, video_id, lock=True, deleted_ok=True)
            if (video.replacement or {}).get("upload_id") != pending["upload_id"]:
                return _completed(video)  # completed concurrently, or superseded by a newer replacement
            previous_path = video.storage_path
            metadata = {"size": stored.size, "content_type": stored.content_type, "checksum": stored.crc32c,
                        "md5": stored.md5, **{k: v for k, v in probe.items() if k != "duration"}}
            if pending.get("expected_checksum"):
                metadata["expected_checksum"] = pending["expected_checksum"]
            # The old file's duration says nothing about the new one: unknown unless ffprobe or the browser says.
            duration = probe.get("duration", pending.get("duration"))
            await session.execute(update(orm.videos).where(orm.videos.c.id == video_id).values(
                status="READY" if probe else "UPLOADED", storage_path=pending["storage_path"], duration=duration,
                content_type=pending["content_type"], expected_size=pending["expected_size"], metadata=metadata,
                replacement=None, upload_expires_at=None, updated_at=_now()))
            await self._touch(session, video.lesson_id)
            video = await self._video(session, video_id, deleted_ok=True)
            past_end = [] if duration is None else (await session.execute(select(orm.milestones).where(
                orm.milestones.c.video_id == video_id, orm.milestones.c.timestamp > duration)
                .order_by(orm.milestones.c.timestamp))).all()
            # A published version names the file it was published with and keeps playing it.
            still_played = (await session.execute(select(func.count()).select_from(orm.lesson_versions).where(
                orm.lesson_versions.c.lesson_id == video.lesson_id,
                orm.lesson_versions.c.snapshot["videos"].contains(
                    [{"id": str(video_id), "storage_path": previous_path}])))).scalar_one() > 0
            # The same event as a first upload: consumers read it as "this video's file is now this one".
            await self.outbox.emit(session, events.VideoUploaded(
                video_id=video_id, lesson_id=video.lesson_id, video_group_id=video.video_group_id, title=video.title,
                position=video.position, storage_path=video.storage_path, content_type=stored.content_type or "",
                size_bytes=stored.size, checksum=stored.crc32c or "", duration_seconds=video.duration,
                width=probe.get("width"), height=probe.get("height")), tenant_id=actor.tenant_id, actor_id=actor.id)
        if not still_played and previous_path != video.storage_path:
            await self.storage.delete(previous_path.removeprefix(self.storage.gs_prefix))
        warnings = [f"The milestone “{m.title}” at {m.timestamp:g} s is after the end of the new file "
                    f"({duration:.1f} s): it is kept, but playback never reaches it; move or delete it."
                    for m in past_end]
        return {**_completed(video), "milestones_past_end": [_milestone(m) for m in past_end], "warnings": warnings}

    async def _drop_replacement(self, session: AsyncSession, video_id: uuid.UUID, pending: dict[str, Any]) -> None:
        await session.execute(update(orm.videos).where(
            orm.videos.c.id == video_id, orm.videos.c.replacement["upload_id"].astext == pending["upload_id"])
            .values(replacement=None, updated_at=_now()))

    async def update_video(self, actor: CurrentUser, video_id: uuid.UUID, fields: dict[str, Any]) -> dict[str, Any]:
        async with tenant_transaction(self.sessions, actor.tenant_id) as session:
            video = await self._video(session, video_id, lock=True)
            await self._editable(session, actor, video.lesson_id)
            if fields.get("video_group_id") is not None:
                group = await self._group(session, fields["video_group_id"])
                if group.lesson_id != video.lesson_id:
                    raise Invalid("the chapter belongs to another lesson")
            if fields:
                await session.execute(update(orm.videos).where(orm.videos.c.id == video_id)
                                      .values(**fields, updated_at=_now()))
            video = await self._video(session, video_id)
            await self._touch(session, video.lesson_id)
            await self.outbox.emit(session, events.VideoUpdated(
                video_id=video_id, lesson_id=video.lesson_id, video_group_id=video.video_group_id, title=video.title,
                position=video.position), tenant_id=actor.tenant_id, actor_id=actor.id)
            return _video(video)

    async def delete_video(self, actor: CurrentUser, video_id: uuid.UUID) -> None:
        """Takes the video out of the draft. A published version keeps playing it (its snapshot is
        frozen), so its row and file stay while a version names it; otherwise the file goes too."""
        async with tenant_transaction(self.sessions, actor.tenant_id) as session:
            video = await self._video(session, video_id, lock=True)
            await self._editable(session, actor, video.lesson_id)
            await session.execute(update(orm.videos).where(orm.videos.c.id == video_id).values(
                deleted_at=_now(), updated_at=_now()))
            milestone_ids = (await session.execute(select(orm.milestones.c.id).where(
                orm.milestones.c.video_id == video_id).order_by(orm.milestones.c.timestamp))).scalars().all()
            published = (await session.execute(select(func.count()).select_from(orm.lesson_versions).where(
                orm.lesson_versions.c.lesson_id == video.lesson_id,
                orm.lesson_versions.c.snapshot["videos"].contains([{"id": str(video_id)}])))).scalar_one() > 0
            await self._touch(session, video.lesson_id)
            await self.outbox.emit(session, events.VideoDeleted(
                video_id=video_id, lesson_id=video.lesson_id, milestone_ids=list(milestone_ids),
                in_published_version=published), tenant_id=actor.tenant_id, actor_id=actor.id)
        if not published:
            await self.storage.delete(video.storage_path.removeprefix(self.storage.gs_prefix))
        if video.replacement is not None:
            await self.storage.delete(video.replacement["storage_path"].removeprefix(self.storage.gs_prefix))

    async def _fail(self, session: AsyncSession, video: Any, reason: str) -> None:
        await session.execute(update(orm.videos).where(orm.videos.c.id == video.id).values(
            status="FAILED", metadata={**(video.metadata or {}), "failure": reason}, updated_at=_now()))

    async def _probe(self, name: str, size: int) -> dict[str, Any]:
        """Duration and resolution from ffprobe, when it is installed; UnreadableVideo if it cannot
        read the file as one of the accepted containers.

        ffprobe reads a local copy only, with the file protocol alone and a fixed list of demuxers:
        given a URL, a playlist uploaded as video/mp4 would make it fetch whatever the playlist names."""
        if shutil.which("ffprobe") is None:
            return {}
        with tempfile.TemporaryDirectory(prefix="cuepoint-probe-") as directory:
            path = Path(directory) / "upload"
            await self.storage.download(name, path, max_bytes=size)
            process = await asyncio.create_subprocess_exec(
                "ffprobe", "-v", "error", "-protocol_whitelist", "file", "-format_whitelist", ",".join(PROBED_FORMATS),
                "-show_entries", "format=format_name,duration:stream=codec_type,codec_name,width,height",
                "-of", "json", f"file:{path}", stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.DEVNULL)
            try:
                output, _ = await asyncio.wait_for(process.communicate(), timeout=self.settings.probe_timeout_seconds)
            except TimeoutError:
                process.kill()
                await process.wait()
                raise UnreadableVideo(f"{UNREADABLE}: ffprobe did not finish reading it within "
                                      f"{self.settings.probe_timeout_seconds:g} s") from None
        return probe_result(process.returncode, output)

    async def playback(self, actor: CurrentUser, video_id: uuid.UUID) -> dict[str, Any]:
        """A short-lived read URL and the milestones where playback pauses."""
        async with tenant_transaction(self.sessions, actor.tenant_id) as session:
            video = await self._video(session, video_id, deleted_ok=True)
            milestones, played = await self._playback_milestones(session, actor, video)
            if video.status not in ("UPLOADED", "READY"):
                raise Conflict("this video has not been uploaded yet")
            languages = (await session.execute(select(orm.transcripts.c.language).where(
                orm.transcripts.c.video_id == video_id).order_by(orm.transcripts.c.language))).scalars().all()
        minutes = self.settings.playback_url_minutes
        url = await self.storage.read_url(played["storage_path"].removeprefix(self.storage.gs_prefix), minutes)
        captions = [{"language": language, "label": caption_label(language),
                     "path": f"/v1/videos/{video_id}/transcripts/{language}.vtt"} for language in languages]
        return {"video_id": video_id, "url": url, "expires_at": _now() + timedelta(minutes=minutes),
                "duration": played["duration"], "milestones": milestones, "captions": captions}

    async def milestones(self, actor: CurrentUser, video_id: uuid.UUID) -> list[dict[str, Any]]:
        """The playback lookup alone (no URL signing): it runs while a video plays, so authors
        get the seed's query on a plain connection; students read the published version."""
        author = actor.at_least(Role.TEACHER)
        lookup, exists = ((MILESTONE_LOOKUP_SQL, "SELECT 1 FROM videos WHERE id = %(video_id)s") if author
                          else (PUBLISHED_MILESTONE_LOOKUP_SQL, PUBLISHED_VIDEO_SQL))
        async with self.reads.tenant(actor.tenant_id) as connection:
            cursor = connection.cursor(row_factory=dict_row)
            rows = await (await cursor.execute(lookup, {"video_id": video_id})).fetchall()
            if not rows and await (await connection.execute(exists, {"video_id": video_id})).fetchone() is None:
                raise NotFound(f"no video {video_id}")
        return rows

    async def _playback_milestones(self, session: AsyncSession, actor: CurrentUser,
                                   video: Any) -> tuple[list[dict], dict[str, Any]]:
        """The milestones and the file to play: authors preview the working draft (the seed's lookup);
        students get the published version, whose file stays the one it was published with even
        after the draft's is replaced."""
        if actor.at_least(Role.TEACHER):
            milestones = [dict(row._mapping) for row in await session.execute(MILESTONE_LOOKUP, {"video_id": video.id})]
            return milestones, {"storage_path": video.storage_path, "duration": video.duration}
        snapshot = await self._published_snapshot(session, video.lesson_id)
        published = next((v for v in snapshot["videos"] if v["id"] == str(video.id)), None)
        if published is None:
            raise NotFound(f"no video {video.id}")
        return await self._with_question_counts(session, published["milestones"]), published

    async def _with_question_counts(self, session: AsyncSession, milestones: list[dict[str, Any]]) -> list[dict]:
        ids = [uuid.UUID(m["id"]) for m in milestones]
        counts = dict((await session.execute(
            select(orm.questions.c.milestone_id, func.count()).where(
                orm.questions.c.milestone_id.in_(ids), orm.questions.c.status == "APPROVED")
            .group_by(orm.questions.c.milestone_id))).all()) if ids else {}
        return [{"id": m["id"], "timestamp": m["timestamp"], "title": m["title"], "is_required": m["is_required"],
                 "question_count": counts.get(uuid.UUID(m["id"]), 0)} for m in milestones]

    # --- milestones -------------------------------------------------------------------------------------

    async def create_milestone(self, actor: CurrentUser, video_id: uuid.UUID, *, timestamp: float, title: str,
                               is_required: bool) -> dict[str, Any]:
        milestone_id = uuid.uuid4()
        async with tenant_transaction(self.sessions, actor.tenant_id) as session:
            video = await self._video(session, video_id)
            await self._editable(session, actor, video.lesson_id)
            if (problem := timestamp_problem(timestamp, video.duration)) is not None:
                raise Invalid(problem)
            try:
                async with session.begin_nested():
                    await session.execute(orm.milestones.insert().values(
                        id=milestone_id, tenant_id=actor.tenant_id, video_id=video_id, lesson_id=video.lesson_id,
                        timestamp=timestamp, title=title, is_required=is_required, created_at=_now(),
                        updated_at=_now()))
            except IntegrityError as error:
                raise Conflict(f"a milestone already stands at {timestamp} s in this video") from error
            await self._touch(session, video.lesson_id)
            await self.outbox.emit(session, events.MilestoneCreated(
                milestone_id=milestone_id, video_id=video_id, lesson_id=video.lesson_id, timestamp=timestamp,
                title=title, is_required=is_required), tenant_id=actor.tenant_id, actor_id=actor.id)
            return _milestone(await self._milestone(session, milestone_id))

    async def update_milestone(self, actor: CurrentUser, milestone_id: uuid.UUID, fields: dict[str, Any]) -> dict:
        async with tenant_transaction(self.sessions, actor.tenant_id) as session:
            milestone = await self._milestone(session, milestone_id)
            video = await self._video(session, milestone.video_id)
            await self._editable(session, actor, video.lesson_id)
            if "timestamp" in fields and (problem := timestamp_problem(fields["timestamp"], video.duration)):
                raise Invalid(problem)
            try:
                async with session.begin_nested():
                    await session.execute(update(orm.milestones).where(orm.milestones.c.id == milestone_id)
                                          .values(**fields, updated_at=_now()))
            except IntegrityError as error:
                raise Conflict(f"a milestone already stands at {fields.get('timestamp')} s in this video") from error
            milestone = await self._milestone(session, milestone_id)
            await self._touch(session, video.lesson_id)
            await self.outbox.emit(session, events.MilestoneUpdated(
                milestone_id=milestone_id, video_id=video.id, lesson_id=video.lesson_id,
                timestamp=milestone.timestamp, title=milestone.title, is_required=milestone.is_required),
                tenant_id=actor.tenant_id, actor_id=actor.id)
            return _milestone(milestone)

    async def delete_milestone(self, actor: CurrentUser, milestone_id: uuid.UUID) -> None:
        async with tenant_transaction(self.sessions, actor.tenant_id) as session:
            milestone = await self._milestone(session, milestone_id)
            await self._editable(session, actor, milestone.lesson_id)
            await session.execute(orm.milestones.delete().where(orm.milestones.c.id == milestone_id))
            await self._touch(session, milestone.lesson_id)
            await self.outbox.emit(session, events.MilestoneDeleted(
                milestone_id=milestone_id, video_id=milestone.video_id, lesson_id=milestone.lesson_id),
                tenant_id=actor.tenant_id, actor_id=actor.id)

    async def _milestone(self, session: AsyncSession, milestone_id: uuid.UUID) -> Any:
        return await self._one(session, orm.milestones, milestone_id, "milestone")

    # --- transcripts -----------------------------------------------------------------------------------

    async def upload_transcript(self, actor: CurrentUser, video_id: uuid.UUID, *, language: str, format: str,
                                content: str) -> dict[str, Any]:
        try:
            segments = parse(content, format)
        except TranscriptError as error:
            raise Invalid(f"the transcript is malformed at {error}", line=error.line) from error
        text_bytes = sum(len(s.text.encode()) for s in segments)
        if text_bytes > TRANSCRIPT_TEXT_LIMIT:
            raise Invalid(f"the transcript's text is {text_bytes} bytes, over the {TRANSCRIPT_TEXT_LIMIT}-byte limit "
                          "(about nine hours of speech); split the video")
        transcript_id = uuid.uuid4()
        document = [{"start": s.start, "end": s.end, "text": s.text} for s in segments]
        async with tenant_transaction(self.sessions, actor.tenant_id) as session:
            video = await self._video(session, video_id)
            await self._editable(session, actor, video.lesson_id)
            if video.duration is not None and segments[-1].start > video.duration:
                raise Invalid(f"the transcript runs past the end of the {video.duration:.3f} s video")
            await session.execute(orm.transcripts.delete().where(orm.transcripts.c.video_id == video_id,
                                                                 orm.transcripts.c.language == language))
            await session.execute(orm.transcripts.insert().values(
                id=transcript_id, tenant_id=actor.tenant_id, video_id=video_id, language=language, format=format,
                segments=document, segment_count=len(segments), created_at=_now()))
            await self.outbox.emit(session, events.TranscriptReady(
                transcript_id=transcript_id, video_id=video_id, lesson_id=video.lesson_id, language=language,
                segment_count=len(segments), segments_url=f"/v1/videos/{video_id}/transcripts/{language}",
                segments=document),
                tenant_id=actor.tenant_id, actor_id=actor.id)
        return {"id": transcript_id, "video_id": video_id, "language": language, "segment_count": len(segments)}

    async def transcript(self, actor: CurrentUser, video_id: uuid.UUID, language: str) -> dict[str, Any]:
        row = await self._readable_transcript(actor, video_id, language)
        return {"id": row.id, "video_id": video_id, "language": language, "format": row.format,
                "segments": row.segments}

    async def captions(self, actor: CurrentUser, video_id: uuid.UUID, language: str) -> str:
        """The transcript as a WebVTT caption track."""
        row = await self._readable_transcript(actor, video_id, language)
        return webvtt(Segment(s["start"], s["end"], s["text"]) for s in row.segments)

    async def _readable_transcript(self, actor: CurrentUser, video_id: uuid.UUID, language: str) -> Any:
        """Teachers and admins read any of their organisation's; students only a video of the published version."""
        async with tenant_transaction(self.sessions, actor.tenant_id) as session:
            video = await self._video(session, video_id, deleted_ok=True)
            if not actor.at_least(Role.TEACHER):
                snapshot = await self._published_snapshot(session, video.lesson_id)
                if not any(v["id"] == str(video_id) for v in snapshot["videos"]):
                    raise NotFound(f"no video {video_id}")
            row = (await session.execute(select(orm.transcripts).where(
                orm.transcripts.c.video_id == video_id, orm.transcripts.c.language == language))).first()
            if row is None:
                raise NotFound(f"no {language} transcript for this video")
            return row


def _json_value(value: Any) -> str:
    """How a published snapshot stores what JSON has no type for: RFC 3339 in UTC for times,
    as the API answers them (``str(datetime)`` would write ``2026-12-02 07:42:49+00:00``)."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(f"{type(value).__name__} has no place in a lesson snapshot")


def _announced(video: Any) -> dict[str, Any]:
    return {"expected_size": video.expected_size, "content_type": video.content_type,
            "expected_checksum": (video.metadata or {}).get("expected_checksum")}


def _announced_replacement(pending: dict[str, Any]) -> dict[str, Any]:
    return {key: pending.get(key) for key in ("expected_size", "content_type", "expected_checksum")}


def _upload_problem(announced: dict[str, Any], stored: Any, cap: int) -> Exception | None:
    if stored.size > cap:
        return Invalid(f"the uploaded file is {stored.size} bytes, over the {cap}-byte limit")
    if stored.size != announced["expected_size"]:
        return Invalid(f"the uploaded file is {stored.size} bytes, not the {announced['expected_size']} announced")
    if stored.content_type != announced["content_type"]:
        return Invalid(f"the uploaded file is {stored.content_type!r}, not the {announced['content_type']!r} "
                       "announced")
    expected = announced["expected_checksum"]
    if expected and stored.crc32c != expected:
        return Invalid(f"the uploaded file's CRC32C is {stored.crc32c}, not the {expected} announced: it was "
                       "corrupted or replaced in transit")
    return None


def _lesson_summary(lesson: Any) -> dict[str, Any]:
    return {"id": lesson.id, "title": lesson.title, "description": lesson.description, "thumbnail": lesson.thumbnail,
            "status": lesson.status, "version": lesson.version, "created_by_id": lesson.created_by_id,
            "tags": list(lesson.tags or []), "metadata": lesson.metadata or {}, "seek_policy": lesson.seek_policy,
            "auto_generate_questions": lesson.auto_generate_questions,
            "has_unpublished_changes": lesson.has_unpublished_changes, "published_at": lesson.published_at,
            "updated_at": lesson.updated_at}


def _summary_of_snapshot(snapshot: dict[str, Any]) -> dict[str, Any]:
    return {key: snapshot.get(key) for key in ("id", "title", "description", "thumbnail", "status", "version",
                                               "created_by_id", "tags", "metadata", "seek_policy",
                                               "auto_generate_questions", "published_at", "updated_at")}


def _status(video: Any) -> str:
    """EXPIRED: an upload not completed in time, which publishing leaves out (nothing is stored for it)."""
    if video.status == "UPLOADING" and video.upload_expires_at is not None and video.upload_expires_at < _now():
        return "EXPIRED"
    return video.status


def _exclusion(video: dict[str, Any]) -> str:
    if video["status"] == "EXPIRED":
        return (f"the upload expired at {_json_value(video['upload_expires_at'])} without being completed; "
                "publishing leaves it out: delete it or start a new upload")
    failure = (video["metadata"] or {}).get("failure") or "the upload failed"
    return f"{failure}; publishing leaves it out: delete it or start a new upload"


def _video(video: Any) -> dict[str, Any]:
    return {"id": video.id, "lesson_id": video.lesson_id, "video_group_id": video.video_group_id, "title": video.title,
            "position": video.position, "duration": video.duration, "status": _status(video),
            "upload_expires_at": video.upload_expires_at if video.status == "UPLOADING" else None,
            "storage_path": video.storage_path, "metadata": video.metadata or {}}


def _completed(video: Any) -> dict[str, Any]:
    """The answer of ``complete``; only a replacement's own completion has milestones to warn about."""
    return {**_video(video), "milestones_past_end": [], "warnings": []}


def _milestone(milestone: Any) -> dict[str, Any]:
    return {"id": milestone.id, "video_id": milestone.video_id, "timestamp": milestone.timestamp,
            "title": milestone.title, "is_required": milestone.is_required}

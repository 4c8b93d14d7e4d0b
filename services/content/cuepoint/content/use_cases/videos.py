"""Videos of a lesson's draft: uploads to object storage (a first file, or a replacement), and
renaming, moving and deleting.

Uploads go from the browser straight to storage; content hands out the session and then checks
what was stored. Reading the file (ffprobe over a local copy) and deleting objects run between units
of work, each step opening its own, so no transaction waits on them; an object is deleted only once
what used it is committed. Two short storage calls stay inside: creating the upload session (a
session storage refuses leaves no video behind) and reading the object's size and checksum (under
the video's lock, so two completes cannot both pass)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cuepoint.contracts import content as events
from cuepoint.runtime.auth import CurrentUser
from cuepoint.runtime.clock import utc_now
from cuepoint.runtime.errors import Conflict, Gone, Invalid

from .. import schemas
from ..domain import videos
from ..domain.lessons import json_value
from ..domain.milestones import milestone_view
from ..domain.probe import UnreadableVideo
from ..settings import ContentSettings
from ..storage import VideoStorage, object_name, replacement_object_name, tenant_prefix
from ..unit_of_work import ContentUnitOfWork, Units
from .lessons import editable_lesson
from .patches import UNSET, changed

ConfigLookup = Callable[[str, uuid.UUID], Awaitable[Any]]
"""A system config's value for a tenant (``config("video.maxFileSize", tenant_id)``)."""
Probe = Callable[[str, int], Awaitable[dict[str, Any]]]
"""What ffprobe reads of a stored object (ffprobe.Prober): duration, width, height, codec; or UnreadableVideo."""



async def _file_cap(config: ConfigLookup, tenant_id: uuid.UUID) -> int:
    return int(await config("video.maxFileSize", tenant_id))


async def _ensure_acceptable_file(content_type: str, size_bytes: int, *, settings: ContentSettings,
                                  config: ConfigLookup, tenant_id: uuid.UUID) -> None:
    videos.ensure_accepted_type(content_type, settings.allowed_video_types)
    videos.ensure_within_cap(size_bytes, await _file_cap(config, tenant_id))


def _completed(video: Any) -> schemas.CompletedVideo:
    return schemas.CompletedVideo.model_validate(videos.completed_view(video, now=utc_now()))


async def _fail(uow: ContentUnitOfWork, video: Any, reason: str) -> None:
    await uow.videos.update(video.id, status="FAILED", metadata={**(video.metadata or {}), "failure": reason},
                            updated_at=utc_now())


def _uploaded(video: Any, stored: Any, probe: dict[str, Any]) -> events.VideoUploaded:
    return events.VideoUploaded(
        video_id=video.id, lesson_id=video.lesson_id, video_group_id=video.video_group_id, title=video.title,
        position=video.position, storage_path=video.storage_path, content_type=stored.content_type or "",
        size_bytes=stored.size, checksum=stored.crc32c or "", duration_seconds=video.duration,
        width=probe.get("width"), height=probe.get("height"))


@dataclass(frozen=True)
class StartUpload:
    actor: CurrentUser
    lesson_id: uuid.UUID
    title: str
    content_type: str
    size_bytes: int
    video_group_id: uuid.UUID | None = None
    position: int | None = None
    """None: after the lesson's other videos."""
    duration: float | None = None
    """As the browser read it; ffprobe's wins on complete."""
    checksum: str | None = None
    """CRC32C, base64, checked on complete."""


async def start_upload(command: StartUpload, units: Units, *, storage: VideoStorage, settings: ContentSettings,
                       config: ConfigLookup) -> schemas.UploadSession:
    """A new video in the draft, UPLOADING, and a resumable upload session bound to its type and size."""
    actor, lesson_id = command.actor, command.lesson_id
    await _ensure_acceptable_file(command.content_type, command.size_bytes, settings=settings, config=config,
                                  tenant_id=actor.tenant_id)
    video_id, now = uuid.uuid4(), utc_now()
    name = object_name(actor.tenant_id, video_id)
    expires_at = now + timedelta(minutes=settings.upload_session_minutes)
    async with units(actor.tenant_id) as uow:
        await editable_lesson(uow, actor, lesson_id)
        if command.video_group_id is not None:
            group = await uow.groups.get(command.video_group_id)
            if group.lesson_id != lesson_id:
                raise Invalid("the chapter belongs to another lesson")
        position = command.position if command.position is not None else await uow.videos.count(lesson_id)
        await uow.videos.add(
            id=video_id, tenant_id=actor.tenant_id, lesson_id=lesson_id, video_group_id=command.video_group_id,
            title=command.title, position=position, duration=command.duration, storage_path=storage.gs_prefix + name,
            status="UPLOADING", content_type=command.content_type, expected_size=command.size_bytes,
            upload_expires_at=expires_at, metadata={"expected_checksum": command.checksum} if command.checksum else {},
            created_at=now, updated_at=now)
        await uow.lessons.touch(lesson_id)
        # Inside the transaction: a session storage refuses leaves no video behind.
        upload_url = await storage.create_upload(name, content_type=command.content_type, size=command.size_bytes)
    return schemas.UploadSession(video_id=video_id, upload_url=upload_url, method="PUT",
                                 content_type=command.content_type, size_bytes=command.size_bytes,
                                 expires_at=expires_at)


@dataclass(frozen=True)
class CompleteUpload:
    actor: CurrentUser
    video_id: uuid.UUID


async def complete_upload(command: CompleteUpload, units: Units, *, storage: VideoStorage, config: ConfigLookup,
                          probe: Probe) -> schemas.CompletedVideo:
    """Checks the stored object and, once, publishes VideoUploaded. A video with a pending
    replacement of its file completes that replacement instead."""
    actor, video_id = command.actor, command.video_id
    async with units(actor.tenant_id) as uow:
        video = await uow.videos.get(video_id, lock=True)
        await editable_lesson(uow, actor, video.lesson_id)
        replacing = videos.is_completed(video) and video.replacement is not None
        if videos.is_completed(video) and not replacing:
            return _completed(video)  # already completed: nothing happens twice
    if replacing:
        return await _complete_replacement(command, units, storage=storage, config=config, probe=probe)
    async with units(actor.tenant_id) as uow:
        video = await uow.videos.get(video_id, lock=True)
        await editable_lesson(uow, actor, video.lesson_id)
        if videos.is_completed(video):
            return _completed(video)  # a concurrent complete won
        if video.status == "FAILED":
            raise Conflict("this upload failed; start a new one")
        name = video.storage_path.removeprefix(storage.gs_prefix)
        videos.ensure_in_tenant(name, tenant_prefix(actor.tenant_id))
        if video.upload_expires_at < utc_now():
            await _fail(uow, video, "upload session expired")
            failure: Exception | None = Gone("the upload session expired; start a new upload")
        else:
            stored = await storage.stat(name)
            if stored is None:
                raise Conflict("nothing was uploaded for this video yet")
            failure = videos.upload_problem(videos.announced(video), stored, await _file_cap(config, actor.tenant_id))
            if failure is not None:
                await _fail(uow, video, str(failure))
    if failure is not None:  # the failure is committed first: the object goes once nothing can use it
        await storage.delete(name)
        raise failure
    try:
        probed = await probe(name, stored.size)
    except UnreadableVideo as error:
        async with units(actor.tenant_id) as uow:
            video = await uow.videos.get(video_id, lock=True, deleted_ok=True)
            if video.status == "UPLOADING":
                await _fail(uow, video, str(error))
        await storage.delete(name)
        raise Invalid(str(error)) from error
    async with units(actor.tenant_id) as uow:
        video = await uow.videos.get(video_id, lock=True, deleted_ok=True)
        if videos.is_completed(video):
            return _completed(video)  # a concurrent complete won
        await uow.videos.update(video_id, status="READY" if probed else "UPLOADED",
                                duration=probed.get("duration", video.duration),
                                metadata=videos.file_metadata(stored, probed), upload_expires_at=None,
                                updated_at=utc_now())
        await uow.lessons.touch(video.lesson_id)
        video = await uow.videos.get(video_id, deleted_ok=True)
        await uow.emit(_uploaded(video, stored, probed), actor_id=actor.id)
        return _completed(video)


@dataclass(frozen=True)
class ReplaceFile:
    actor: CurrentUser
    video_id: uuid.UUID
    content_type: str
    size_bytes: int
    duration: float | None = None
    checksum: str | None = None


async def replace_file(command: ReplaceFile, units: Units, *, storage: VideoStorage, settings: ContentSettings,
                       config: ConfigLookup) -> schemas.UploadSession:
    """A resumable upload session for a new file of an existing video. The file goes to a new
    object; the video keeps its current one until ``complete`` verifies the new one (a published
    version keeps playing its own until the next publication)."""
    actor, video_id = command.actor, command.video_id
    await _ensure_acceptable_file(command.content_type, command.size_bytes, settings=settings, config=config,
                                  tenant_id=actor.tenant_id)
    upload_id = uuid.uuid4()
    name = replacement_object_name(actor.tenant_id, video_id, upload_id)
    expires_at = utc_now() + timedelta(minutes=settings.upload_session_minutes)
    async with units(actor.tenant_id) as uow:
        video = await uow.videos.get(video_id, lock=True)
        await editable_lesson(uow, actor, video.lesson_id)
        videos.ensure_replaceable(video)
        superseded = video.replacement
        await uow.videos.update(video_id, replacement={
            "upload_id": str(upload_id), "storage_path": storage.gs_prefix + name,
            "content_type": command.content_type, "expected_size": command.size_bytes,
            "expected_checksum": command.checksum, "duration": command.duration,
            "expires_at": json_value(expires_at)}, updated_at=utc_now())
        upload_url = await storage.create_upload(name, content_type=command.content_type, size=command.size_bytes)
    if superseded is not None:  # a replacement started again: the earlier one is never completed
        await storage.delete(superseded["storage_path"].removeprefix(storage.gs_prefix))
    return schemas.UploadSession(video_id=video_id, upload_url=upload_url, method="PUT",
                                 content_type=command.content_type, size_bytes=command.size_bytes,
                                 expires_at=expires_at)


async def _complete_replacement(command: CompleteUpload, units: Units, *, storage: VideoStorage,
                                config: ConfigLookup, probe: Probe) -> schemas.CompletedVideo:
    """Verifies the replacement like any upload and swaps it in for the draft. A replacement that
    fails or expired is dropped: the video keeps the file it had."""
    actor, video_id = command.actor, command.video_id
    async with units(actor.tenant_id) as uow:
        video = await uow.videos.get(video_id, lock=True)
        await editable_lesson(uow, actor, video.lesson_id)
        pending = video.replacement
        if pending is None:
            return _completed(video)  # a concurrent complete won
        name = pending["storage_path"].removeprefix(storage.gs_prefix)
        videos.ensure_in_tenant(name, tenant_prefix(actor.tenant_id))
        failure: Exception | None = None
        if datetime.fromisoformat(pending["expires_at"]) < utc_now():
            failure = Gone("the replacement's upload session expired; the video keeps its current file. "
                           "Start a new replacement")
        else:
            stored = await storage.stat(name)
            if stored is None:
                raise Conflict("nothing was uploaded for this replacement yet")
            failure = videos.upload_problem(videos.announced_replacement(pending), stored,
                                            await _file_cap(config, actor.tenant_id))
        if failure is not None:
            await uow.videos.drop_replacement(video_id, pending["upload_id"])
    if failure is not None:
        await storage.delete(name)
        raise failure
    try:
        probed = await probe(name, stored.size)
    except UnreadableVideo as error:
        async with units(actor.tenant_id) as uow:
            await uow.videos.drop_replacement(video_id, pending["upload_id"])
        await storage.delete(name)
        raise Invalid(f"{error}; the video keeps its current file") from error
    async with units(actor.tenant_id) as uow:
        video = await uow.videos.get(video_id, lock=True, deleted_ok=True)
        if (video.replacement or {}).get("upload_id") != pending["upload_id"]:
            return _completed(video)  # completed concurrently, or superseded by a newer replacement
        previous_path = video.storage_path
        metadata = videos.file_metadata(stored, probed)
        if pending.get("expected_checksum"):
            metadata["expected_checksum"] = pending["expected_checksum"]
        # The old file's duration says nothing about the new one: unknown unless ffprobe or the browser says.
        duration = probed.get("duration", pending.get("duration"))
        await uow.videos.update(video_id, status="READY" if probed else "UPLOADED",
                                storage_path=pending["storage_path"], duration=duration,
                                content_type=pending["content_type"], expected_size=pending["expected_size"],
                                metadata=metadata, replacement=None, upload_expires_at=None, updated_at=utc_now())
        await uow.lessons.touch(video.lesson_id)
        video = await uow.videos.get(video_id, deleted_ok=True)
        past_end = [] if duration is None else await uow.milestones.after(video_id, duration)
        # A published version names the file it was published with and keeps playing it.
        still_played = await uow.versions.name_video(video.lesson_id, video_id, previous_path)
        # The same event as a first upload: consumers read it as "this video's file is now this one".
        await uow.emit(_uploaded(video, stored, probed), actor_id=actor.id)
    if not still_played and previous_path != video.storage_path:
        await storage.delete(previous_path.removeprefix(storage.gs_prefix))
    return schemas.CompletedVideo.model_validate({
        **videos.completed_view(video, now=utc_now()), "milestones_past_end": [milestone_view(m) for m in past_end],
        "warnings": videos.past_end_warnings(past_end, duration) if past_end else []})


@dataclass(frozen=True)
class UpdateVideo:
    """A field left UNSET stays as it is; ``video_group_id=None`` takes it out of any chapter."""

    actor: CurrentUser
    video_id: uuid.UUID
    title: str = UNSET
    position: int = UNSET
    video_group_id: uuid.UUID | None = UNSET


async def update_video(command: UpdateVideo, uow: ContentUnitOfWork) -> schemas.Video:
    actor, video_id = command.actor, command.video_id
    video = await uow.videos.get(video_id, lock=True)
    await editable_lesson(uow, actor, video.lesson_id)
    fields = changed(command, "title", "position", "video_group_id")
    if fields.get("video_group_id") is not None:
        group = await uow.groups.get(fields["video_group_id"])
        if group.lesson_id != video.lesson_id:
            raise Invalid("the chapter belongs to another lesson")
    if fields:
        await uow.videos.update(video_id, **fields, updated_at=utc_now())
    video = await uow.videos.get(video_id)
    await uow.lessons.touch(video.lesson_id)
    await uow.emit(events.VideoUpdated(video_id=video_id, lesson_id=video.lesson_id,
                                       video_group_id=video.video_group_id, title=video.title,
                                       position=video.position), actor_id=actor.id)
    return schemas.Video.model_validate(videos.video_view(video, now=utc_now()))


@dataclass(frozen=True)
class DeleteVideo:
    actor: CurrentUser
    video_id: uuid.UUID


async def delete_video(command: DeleteVideo, units: Units, *, storage: VideoStorage) -> None:
    """Takes the video out of the draft. A published version keeps playing it (its snapshot is
    frozen), so its row and file stay while a version names it; otherwise the file goes too, once
    the deletion is committed."""
    actor, video_id = command.actor, command.video_id
    async with units(actor.tenant_id) as uow:
        video = await uow.videos.get(video_id, lock=True)
        await editable_lesson(uow, actor, video.lesson_id)
        now = utc_now()
        await uow.videos.update(video_id, deleted_at=now, updated_at=now)
        milestone_ids = await uow.milestones.ids_of_video(video_id)
        published = await uow.versions.name_video(video.lesson_id, video_id)
        await uow.lessons.touch(video.lesson_id)
        await uow.emit(events.VideoDeleted(video_id=video_id, lesson_id=video.lesson_id, milestone_ids=milestone_ids,
                                           in_published_version=published), actor_id=actor.id)
    if not published:
        await storage.delete(video.storage_path.removeprefix(storage.gs_prefix))
    if video.replacement is not None:
        await storage.delete(video.replacement["storage_path"].removeprefix(storage.gs_prefix))

"""Lessons: authoring the draft, its thumbnail, publishing it as a frozen version, archiving."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cuepoint.contracts import content as events
from cuepoint.runtime.auth import CurrentUser
from cuepoint.runtime.clock import utc_now

from .. import schemas
from ..domain import lessons
from ..domain.images import EXTENSION_TYPES, image_file_name
from ..settings import ContentSettings
from ..storage import VideoStorage, thumbnail_object_name
from ..unit_of_work import ContentUnitOfWork, Units
from .patches import UNSET, changed



async def editable_lesson(uow: ContentUnitOfWork, actor: CurrentUser, lesson_id: uuid.UUID) -> Any:
    """The lesson, locked, if the actor may change it (domain.lessons.ensure_editable)."""
    lesson = await uow.lessons.get(lesson_id, lock=True)
    lessons.ensure_editable(lesson, actor)
    return lesson


async def draft_of(uow: ContentUnitOfWork, lesson: Any) -> dict[str, Any]:
    groups, videos, milestones = await uow.lessons.contents(lesson.id)
    return lessons.draft(lesson, groups, videos, milestones, now=utc_now())


@dataclass(frozen=True)
class CreateLesson:
    actor: CurrentUser
    title: str
    description: str = ""
    thumbnail: str | None = None
    tags: list[str] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    seek_policy: str = "FREE"
    auto_generate_questions: bool = False


async def create_lesson(command: CreateLesson, uow: ContentUnitOfWork) -> schemas.Lesson:
    actor, lesson_id, now = command.actor, uuid.uuid4(), utc_now()
    await uow.lessons.add(
        id=lesson_id, tenant_id=actor.tenant_id, created_by_id=actor.id, status="DRAFT", version=0,
        has_unpublished_changes=True, created_at=now, updated_at=now, title=command.title,
        description=command.description, thumbnail=command.thumbnail, tags=command.tags, metadata=command.metadata,
        seek_policy=command.seek_policy, auto_generate_questions=command.auto_generate_questions)
    lesson = await uow.lessons.get(lesson_id)
    await uow.emit(events.LessonCreated(
        lesson_id=lesson_id, title=lesson.title, thumbnail=lesson.thumbnail, created_by_id=actor.id,
        seek_policy=lesson.seek_policy, auto_generate_questions=lesson.auto_generate_questions), actor_id=actor.id)
    return schemas.Lesson.model_validate(await draft_of(uow, lesson))


LESSON_FIELDS = ("title", "description", "thumbnail", "tags", "metadata", "seek_policy", "auto_generate_questions")


@dataclass(frozen=True)
class UpdateLesson:
    """A field left UNSET stays as it is."""

    actor: CurrentUser
    lesson_id: uuid.UUID
    title: str = UNSET
    description: str = UNSET
    thumbnail: str | None = UNSET
    tags: list[str] = UNSET
    metadata: dict[str, Any] = UNSET
    seek_policy: str = UNSET
    auto_generate_questions: bool = UNSET


async def update_lesson(command: UpdateLesson, uow: ContentUnitOfWork) -> schemas.Lesson:
    actor, lesson_id = command.actor, command.lesson_id
    await editable_lesson(uow, actor, lesson_id)
    if fields := changed(command, *LESSON_FIELDS):
        await uow.lessons.update(lesson_id, **fields, has_unpublished_changes=True, updated_at=utc_now())
    lesson = await uow.lessons.get(lesson_id)
    await uow.emit(events.LessonUpdated(
        lesson_id=lesson_id, title=lesson.title, thumbnail=lesson.thumbnail, seek_policy=lesson.seek_policy,
        auto_generate_questions=lesson.auto_generate_questions), actor_id=actor.id)
    return schemas.Lesson.model_validate(await draft_of(uow, lesson))


@dataclass(frozen=True)
class SetThumbnail:
    actor: CurrentUser
    lesson_id: uuid.UUID
    data: bytes
    content_type: str


async def set_thumbnail(command: SetThumbnail, units: Units, *, storage: VideoStorage,
                        settings: ContentSettings) -> schemas.Lesson:
    """Stores the image under its hash and makes it the lesson's thumbnail (a LessonUpdated). The
    upload to storage runs between two units of work, so no transaction waits on it."""
    actor = command.actor
    file_name = image_file_name(command.data, command.content_type, max_bytes=settings.thumbnail_max_bytes)
    async with units(actor.tenant_id) as uow:
        await editable_lesson(uow, actor, command.lesson_id)  # nothing is stored for who may not change it
    await storage.put(thumbnail_object_name(actor.tenant_id, file_name), command.data,
                      content_type=EXTENSION_TYPES[file_name.rsplit(".", 1)[1]])
    url = f"{settings.public_api_path.rstrip('/')}/v1/thumbnails/{actor.tenant_id}/{file_name}"
    async with units(actor.tenant_id) as uow:
        return await update_lesson(UpdateLesson(actor, command.lesson_id, thumbnail=url), uow)


@dataclass(frozen=True)
class PublishLesson:
    actor: CurrentUser
    lesson_id: uuid.UUID


async def publish_lesson(command: PublishLesson, uow: ContentUnitOfWork) -> schemas.Lesson:
    """Freezes the draft's uploaded videos and their milestones as the next version students see."""
    actor, lesson_id, now = command.actor, command.lesson_id, utc_now()
    lesson = await editable_lesson(uow, actor, lesson_id)
    view = await draft_of(uow, lesson)
    playable = lessons.playable_videos(view)
    required = lessons.required_milestones(playable)
    lessons.ensure_answerable(required, await uow.questions.answerable([m["id"] for m, _ in required]))
    version = lesson.version + 1
    snapshot, excluded = lessons.snapshot(view, playable, version=version, now=now)
    await uow.versions.add(lesson_id=lesson_id, version=version, tenant_id=actor.tenant_id, snapshot=snapshot,
                           published_by_id=actor.id, published_at=now)
    await uow.lessons.update(lesson_id, status="PUBLISHED", version=version, has_unpublished_changes=False,
                             published_at=now, updated_at=now)
    await uow.emit(events.LessonPublished(
        lesson_id=lesson_id, version=version, title=lesson.title, thumbnail=lesson.thumbnail,
        created_by_id=lesson.created_by_id, video_ids=[v["id"] for v in playable]), actor_id=actor.id)
    # The author's view: draft and version agree, but for what publishing left out.
    return schemas.Lesson.model_validate({**snapshot, "has_unpublished_changes": False, "excluded_videos": excluded})


@dataclass(frozen=True)
class ArchiveLesson:
    actor: CurrentUser
    lesson_id: uuid.UUID


async def archive_lesson(command: ArchiveLesson, uow: ContentUnitOfWork) -> schemas.Lesson:
    """Hides the lesson from new students; its versions are kept."""
    actor, lesson_id, now = command.actor, command.lesson_id, utc_now()
    await editable_lesson(uow, actor, lesson_id)
    await uow.lessons.update(lesson_id, status="ARCHIVED", archived_at=now, updated_at=now)
    await uow.emit(events.LessonArchived(lesson_id=lesson_id), actor_id=actor.id)
    return schemas.Lesson.model_validate(await draft_of(uow, await uow.lessons.get(lesson_id)))

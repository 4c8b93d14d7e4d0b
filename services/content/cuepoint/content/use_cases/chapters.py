"""Chapters (video groups) of a lesson's draft."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from cuepoint.contracts import content as events
from cuepoint.runtime.auth import CurrentUser
from cuepoint.runtime.clock import utc_now

from .. import schemas
from ..unit_of_work import ContentUnitOfWork
from .lessons import editable_lesson
from .patches import UNSET, changed



@dataclass(frozen=True)
class CreateChapter:
    actor: CurrentUser
    lesson_id: uuid.UUID
    title: str
    position: int | None = None
    """None: after the lesson's other chapters."""


async def create_chapter(command: CreateChapter, uow: ContentUnitOfWork) -> schemas.VideoGroup:
    actor, lesson_id, group_id, now = command.actor, command.lesson_id, uuid.uuid4(), utc_now()
    await editable_lesson(uow, actor, lesson_id)
    position = command.position if command.position is not None else await uow.groups.count(lesson_id)
    await uow.groups.add(id=group_id, tenant_id=actor.tenant_id, lesson_id=lesson_id, title=command.title,
                         position=position, created_at=now, updated_at=now)
    await uow.lessons.touch(lesson_id)
    await uow.emit(events.VideoGroupCreated(video_group_id=group_id, lesson_id=lesson_id, title=command.title,
                                            position=position), actor_id=actor.id)
    return schemas.VideoGroup(id=group_id, lesson_id=lesson_id, title=command.title, position=position)


@dataclass(frozen=True)
class UpdateChapter:
    """A field left UNSET stays as it is."""

    actor: CurrentUser
    group_id: uuid.UUID
    title: str = UNSET
    position: int = UNSET


async def update_chapter(command: UpdateChapter, uow: ContentUnitOfWork) -> schemas.VideoGroup:
    actor, group_id = command.actor, command.group_id
    group = await uow.groups.get(group_id)
    await editable_lesson(uow, actor, group.lesson_id)
    if fields := changed(command, "title", "position"):
        await uow.groups.update(group_id, **fields, updated_at=utc_now())
    group = await uow.groups.get(group_id)
    await uow.lessons.touch(group.lesson_id)
    await uow.emit(events.VideoGroupUpdated(video_group_id=group_id, lesson_id=group.lesson_id, title=group.title,
                                            position=group.position), actor_id=actor.id)
    return schemas.VideoGroup(id=group.id, lesson_id=group.lesson_id, title=group.title, position=group.position)


@dataclass(frozen=True)
class DeleteChapter:
    actor: CurrentUser
    group_id: uuid.UUID


async def delete_chapter(command: DeleteChapter, uow: ContentUnitOfWork) -> None:
    actor, group_id = command.actor, command.group_id
    group = await uow.groups.get(group_id)
    await editable_lesson(uow, actor, group.lesson_id)
    await uow.groups.delete(group_id)
    await uow.lessons.touch(group.lesson_id)
    await uow.emit(events.VideoGroupDeleted(video_group_id=group_id, lesson_id=group.lesson_id), actor_id=actor.id)

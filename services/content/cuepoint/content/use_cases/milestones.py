"""Milestones: the points of a draft's video where playback pauses for questions."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from cuepoint.contracts import content as events
from cuepoint.runtime.auth import CurrentUser
from cuepoint.runtime.clock import utc_now
from cuepoint.runtime.errors import Conflict

from .. import schemas
from ..domain.milestones import ensure_within, milestone_view
from ..unit_of_work import ContentUnitOfWork
from .lessons import editable_lesson
from .patches import UNSET, changed



@dataclass(frozen=True)
class CreateMilestone:
    actor: CurrentUser
    video_id: uuid.UUID
    timestamp: float
    title: str
    is_required: bool = True


async def create_milestone(command: CreateMilestone, uow: ContentUnitOfWork) -> schemas.Milestone:
    actor, video_id, milestone_id, now = command.actor, command.video_id, uuid.uuid4(), utc_now()
    video = await uow.videos.get(video_id)
    await editable_lesson(uow, actor, video.lesson_id)
    ensure_within(command.timestamp, video.duration)
    if not await uow.milestones.add(
            id=milestone_id, tenant_id=actor.tenant_id, video_id=video_id, lesson_id=video.lesson_id,
            timestamp=command.timestamp, title=command.title, is_required=command.is_required, created_at=now,
            updated_at=now):
        raise Conflict(f"a milestone already stands at {command.timestamp} s in this video")
    await uow.lessons.touch(video.lesson_id)
    await uow.emit(events.MilestoneCreated(
        milestone_id=milestone_id, video_id=video_id, lesson_id=video.lesson_id, timestamp=command.timestamp,
        title=command.title, is_required=command.is_required), actor_id=actor.id)
    return schemas.Milestone.model_validate(milestone_view(await uow.milestones.get(milestone_id)))


@dataclass(frozen=True)
class UpdateMilestone:
    """A field left UNSET stays as it is."""

    actor: CurrentUser
    milestone_id: uuid.UUID
    timestamp: float = UNSET
    title: str = UNSET
    is_required: bool = UNSET


async def update_milestone(command: UpdateMilestone, uow: ContentUnitOfWork) -> schemas.Milestone:
    actor, milestone_id = command.actor, command.milestone_id
    milestone = await uow.milestones.get(milestone_id)
    video = await uow.videos.get(milestone.video_id)
    await editable_lesson(uow, actor, video.lesson_id)
    fields = changed(command, "timestamp", "title", "is_required")
    if "timestamp" in fields:
        ensure_within(fields["timestamp"], video.duration)
    if not await uow.milestones.update(milestone_id, **fields, updated_at=utc_now()):
        raise Conflict(f"a milestone already stands at {fields.get('timestamp')} s in this video")
    milestone = await uow.milestones.get(milestone_id)
    await uow.lessons.touch(video.lesson_id)
    await uow.emit(events.MilestoneUpdated(
        milestone_id=milestone_id, video_id=video.id, lesson_id=video.lesson_id, timestamp=milestone.timestamp,
        title=milestone.title, is_required=milestone.is_required), actor_id=actor.id)
    return schemas.Milestone.model_validate(milestone_view(milestone))


@dataclass(frozen=True)
class DeleteMilestone:
    actor: CurrentUser
    milestone_id: uuid.UUID


async def delete_milestone(command: DeleteMilestone, uow: ContentUnitOfWork) -> None:
    actor, milestone_id = command.actor, command.milestone_id
    milestone = await uow.milestones.get(milestone_id)
    await editable_lesson(uow, actor, milestone.lesson_id)
    await uow.milestones.delete(milestone_id)
    await uow.lessons.touch(milestone.lesson_id)
    await uow.emit(events.MilestoneDeleted(milestone_id=milestone_id, video_id=milestone.video_id,
                                           lesson_id=milestone.lesson_id), actor_id=actor.id)

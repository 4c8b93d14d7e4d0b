"""The SQL that loads and saves what content's use cases work on, on the unit of work's session
(a tenant transaction: row-level security shows this tenant's rows only). Rows come back as
SQLAlchemy rows (attribute access); the fakes in tests/unit/fakes.py answer the same methods."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cuepoint.runtime.clock import utc_now
from cuepoint.runtime.db import one_or_404
from cuepoint.runtime.errors import NotFound

from . import orm

# A row of one of the tables (orm.py), read by attribute.
Row = Any



class Lessons:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, lesson_id: uuid.UUID, *, lock: bool = False) -> Row:
        return await one_or_404(self.session, orm.lessons, lesson_id, "lesson", lock=lock)

    async def add(self, **values: Any) -> None:
        await self.session.execute(orm.lessons.insert().values(**values))

    async def update(self, lesson_id: uuid.UUID, **values: Any) -> None:
        await self.session.execute(update(orm.lessons).where(orm.lessons.c.id == lesson_id).values(**values))

    async def touch(self, lesson_id: uuid.UUID) -> None:
        """The draft changed: it differs from the published version until the next publication."""
        await self.update(lesson_id, has_unpublished_changes=True, updated_at=utc_now())

    async def contents(self, lesson_id: uuid.UUID) -> tuple[list[Row], list[Row], list[Row]]:
        """The draft's chapters, videos (not deleted ones) and milestones, in their order."""
        groups = (await self.session.execute(select(orm.video_groups).where(orm.video_groups.c.lesson_id == lesson_id)
                                             .order_by(orm.video_groups.c.position, orm.video_groups.c.created_at))
                  ).all()
        videos = (await self.session.execute(select(orm.videos).where(orm.videos.c.lesson_id == lesson_id,
                                                                      orm.videos.c.deleted_at.is_(None))
                                             .order_by(orm.videos.c.position, orm.videos.c.created_at))).all()
        milestones = (await self.session.execute(select(orm.milestones).where(orm.milestones.c.lesson_id == lesson_id)
                                                 .order_by(orm.milestones.c.timestamp))).all()
        return list(groups), list(videos), list(milestones)


class Versions:
    """The published versions: frozen snapshots, never changed once written."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, **values: Any) -> None:
        await self.session.execute(orm.lesson_versions.insert().values(**values))

    async def name_video(self, lesson_id: uuid.UUID, video_id: uuid.UUID, storage_path: str | None = None) -> bool:
        """Whether a version of the lesson plays this video (with this file, if given): it keeps
        playing it after the draft deletes or replaces it."""
        named: dict[str, str] = {"id": str(video_id)}
        if storage_path is not None:
            named["storage_path"] = storage_path
        return (await self.session.execute(select(func.count()).select_from(orm.lesson_versions).where(
            orm.lesson_versions.c.lesson_id == lesson_id,
            orm.lesson_versions.c.snapshot["videos"].contains([named])))).scalar_one() > 0


class Groups:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, group_id: uuid.UUID) -> Row:
        return await one_or_404(self.session, orm.video_groups, group_id, "chapter")

    async def count(self, lesson_id: uuid.UUID) -> int:
        return (await self.session.execute(select(func.count()).select_from(orm.video_groups).where(
            orm.video_groups.c.lesson_id == lesson_id))).scalar_one()

    async def add(self, **values: Any) -> None:
        await self.session.execute(orm.video_groups.insert().values(**values))

    async def update(self, group_id: uuid.UUID, **values: Any) -> None:
        await self.session.execute(update(orm.video_groups).where(orm.video_groups.c.id == group_id).values(**values))

    async def delete(self, group_id: uuid.UUID) -> None:
        await self.session.execute(orm.video_groups.delete().where(orm.video_groups.c.id == group_id))


class Videos:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, video_id: uuid.UUID, *, lock: bool = False, deleted_ok: bool = False) -> Row:
        """A video of the draft; ``deleted_ok`` also finds one deleted from it (a published version may play it)."""
        video = await one_or_404(self.session, orm.videos, video_id, "video", lock=lock)
        if video.deleted_at is not None and not deleted_ok:
            raise NotFound(f"no video {video_id}")
        return video

    async def count(self, lesson_id: uuid.UUID) -> int:
        """The lesson's videos, deleted ones too (a new video's default position)."""
        return (await self.session.execute(select(func.count()).select_from(orm.videos).where(
            orm.videos.c.lesson_id == lesson_id))).scalar_one()

    async def add(self, **values: Any) -> None:
        await self.session.execute(orm.videos.insert().values(**values))

    async def update(self, video_id: uuid.UUID, **values: Any) -> None:
        await self.session.execute(update(orm.videos).where(orm.videos.c.id == video_id).values(**values))

    async def drop_replacement(self, video_id: uuid.UUID, upload_id: str) -> None:
        """Forgets this pending replacement, unless a newer one took its place."""
        await self.session.execute(update(orm.videos).where(
            orm.videos.c.id == video_id, orm.videos.c.replacement["upload_id"].astext == upload_id)
            .values(replacement=None, updated_at=utc_now()))


class Milestones:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, milestone_id: uuid.UUID) -> Row:
        return await one_or_404(self.session, orm.milestones, milestone_id, "milestone")

    async def add(self, **values: Any) -> bool:
        """False if a milestone already stands at that timestamp of the video (a unique index keeps it)."""
        try:
            async with self.session.begin_nested():
                await self.session.execute(orm.milestones.insert().values(**values))
        except IntegrityError:
            return False
        return True

    async def update(self, milestone_id: uuid.UUID, **values: Any) -> bool:
        """False if it would stand where another milestone of the video stands."""
        try:
            async with self.session.begin_nested():
                await self.session.execute(update(orm.milestones).where(orm.milestones.c.id == milestone_id)
                                           .values(**values))
        except IntegrityError:
            return False
        return True

    async def delete(self, milestone_id: uuid.UUID) -> None:
        await self.session.execute(orm.milestones.delete().where(orm.milestones.c.id == milestone_id))

    async def ids_of_video(self, video_id: uuid.UUID) -> list[uuid.UUID]:
        return list((await self.session.execute(select(orm.milestones.c.id).where(
            orm.milestones.c.video_id == video_id).order_by(orm.milestones.c.timestamp))).scalars().all())

    async def after(self, video_id: uuid.UUID, timestamp: float) -> list[Row]:
        """The video's milestones later than ``timestamp``, in order."""
        return list((await self.session.execute(select(orm.milestones).where(
            orm.milestones.c.video_id == video_id, orm.milestones.c.timestamp > timestamp)
            .order_by(orm.milestones.c.timestamp))).all())


class Transcripts:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def replace(self, *, video_id: uuid.UUID, language: str, **values: Any) -> None:
        """The video's transcript in this language, instead of the one it had."""
        await self.session.execute(orm.transcripts.delete().where(orm.transcripts.c.video_id == video_id,
                                                                  orm.transcripts.c.language == language))
        await self.session.execute(orm.transcripts.insert().values(video_id=video_id, language=language, **values))


class Questions:
    """The projection of assessment's questions (projections.py keeps it)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def answerable(self, milestone_ids: list[Any]) -> set[Any]:
        """Which of these milestones have an approved question."""
        if not milestone_ids:
            return set()
        return set((await self.session.execute(select(orm.questions.c.milestone_id).where(
            orm.questions.c.milestone_id.in_(milestone_ids), orm.questions.c.status == "APPROVED"))).scalars())


class PersonalData:
    """What content keeps about one person, for their data export (issue 16): what they authored as a
    teacher (their lessons with their chapters, videos' metadata and milestones, and the versions they
    published); nothing for a student, who authors nothing here."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def _rows(self, table: Any, condition: Any, order: Any, *, leave_out: tuple[str, ...] = ()
                    ) -> list[dict[str, Any]]:
        rows = (await self.session.execute(select(table).where(condition).order_by(order))).all()
        return [{k: v for k, v in row._mapping.items() if k not in ("tenant_id", *leave_out)} for row in rows]

    async def of(self, user_id: uuid.UUID) -> dict[str, list[dict[str, Any]]]:
        lessons, groups, videos, milestones = orm.lessons, orm.video_groups, orm.videos, orm.milestones
        authored = select(lessons.c.id).where(lessons.c.created_by_id == user_id).scalar_subquery()
        return {
            "lessons": await self._rows(lessons, lessons.c.created_by_id == user_id, lessons.c.created_at),
            "chapters": await self._rows(groups, groups.c.lesson_id.in_(authored), groups.c.created_at),
            "videos": await self._rows(videos, videos.c.lesson_id.in_(authored), videos.c.created_at,
                                       leave_out=("replacement",)),
            "milestones": await self._rows(milestones, milestones.c.lesson_id.in_(authored), milestones.c.created_at),
            "versions_published": await self._rows(orm.lesson_versions, orm.lesson_versions.c.published_by_id == user_id,
                                                   orm.lesson_versions.c.published_at, leave_out=("snapshot",)),
        }

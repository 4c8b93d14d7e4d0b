"""What only SQL keeps, in content's repositories on the real PostgreSQL: one milestone per timestamp
of a video (the unique index, inside a savepoint so the transaction goes on), which versions still
play a video's file, a replacement dropped only while it is the pending one. The fakes in
tests/unit/fakes.py keep the same."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from cuepoint.content.unit_of_work import ContentUnitOfWork
from cuepoint.runtime.unit_of_work import UnitsOfWork

pytestmark = pytest.mark.integration


async def test_what_the_repositories_keep(content_context) -> None:
    units = UnitsOfWork(content_context.sessions, content_context.outbox, ContentUnitOfWork)
    tenant, author, now = uuid.uuid4(), uuid.uuid4(), datetime.now(UTC)
    lesson_id, video_id, first, second = uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    path = f"gs://bucket/tenants/{tenant}/videos/{video_id}/original"
    async with units(tenant) as uow:
        await uow.lessons.add(id=lesson_id, tenant_id=tenant, title="Repositories", created_by_id=author,
                              created_at=now, updated_at=now)
        await uow.videos.add(id=video_id, tenant_id=tenant, lesson_id=lesson_id, title="Clip", storage_path=path,
                             status="READY", content_type="video/mp4", expected_size=10)
        milestone = {"tenant_id": tenant, "video_id": video_id, "lesson_id": lesson_id, "title": "m",
                     "is_required": True}
        assert await uow.milestones.add(id=first, timestamp=10.0, **milestone)
        assert not await uow.milestones.add(id=uuid.uuid4(), timestamp=10.0, **milestone)
        assert await uow.milestones.add(id=second, timestamp=20.0, **milestone)
        assert not await uow.milestones.update(second, timestamp=10.0)
        assert await uow.milestones.update(second, timestamp=15.0)
        assert await uow.milestones.ids_of_video(video_id) == [first, second]
        assert [m.id for m in await uow.milestones.after(video_id, 12.0)] == [second]

        assert not await uow.versions.name_video(lesson_id, video_id)
        await uow.versions.add(lesson_id=lesson_id, version=1, tenant_id=tenant, published_by_id=author,
                               snapshot={"videos": [{"id": str(video_id), "storage_path": path, "milestones": []}]})
        assert await uow.versions.name_video(lesson_id, video_id)
        assert await uow.versions.name_video(lesson_id, video_id, path)
        assert not await uow.versions.name_video(lesson_id, video_id, path + "-replaced")

        await uow.videos.update(video_id, replacement={"upload_id": "newer"})
        await uow.videos.drop_replacement(video_id, "older")
        assert (await uow.videos.get(video_id)).replacement == {"upload_id": "newer"}
        await uow.videos.drop_replacement(video_id, "newer")
        assert (await uow.videos.get(video_id)).replacement is None

        assert await uow.questions.answerable([first, second]) == set()
        assert await uow.groups.count(lesson_id) == 0 and await uow.videos.count(lesson_id) == 1
        groups, videos, milestones = await uow.lessons.contents(lesson_id)
        assert (groups, [v.id for v in videos], [m.id for m in milestones]) == ([], [video_id], [first, second])
    assert uow.committed, "a refused insert rolled back its savepoint only"
    async with units(uuid.uuid4()) as elsewhere:
        assert await elsewhere.versions.name_video(lesson_id, video_id) is False, "another tenant sees nothing"

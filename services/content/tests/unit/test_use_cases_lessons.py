"""Lessons' use cases on the fake unit of work: who may change a lesson, what publishing freezes
and refuses, and that nothing is announced when a command is refused."""

from __future__ import annotations

import pytest

from cuepoint.content.settings import ContentSettings
from cuepoint.content.use_cases import lessons as cases
from cuepoint.content.use_cases.lessons import (ArchiveLesson, CreateLesson, PublishLesson, SetThumbnail,
                                                UpdateLesson)
from cuepoint.contracts import content as events
from cuepoint.runtime.errors import Conflict, Forbidden, NotFound, UnsupportedType

from .fakes import (ADMIN, AUTHOR, OTHER_TEACHER, STUDENT, TENANT, FakeStorage, approved_question, expired,
                    fake_units, later, lesson, milestone, video)

pytestmark = pytest.mark.unit

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 32
SETTINGS = ContentSettings.model_construct(thumbnail_max_bytes=1024 * 1024, public_api_path="/api/content")


async def run(units, case, command):
    async with units(TENANT) as uow:
        return await case(command, uow)


async def test_a_teacher_creates_a_draft_and_announces_it() -> None:
    units = fake_units()
    created = await run(units, cases.create_lesson, CreateLesson(AUTHOR, "Photosynthesis", tags=["biology"]))
    assert (created.status, created.version, created.created_by_id, created.tags) == ("DRAFT", 0, AUTHOR.id,
                                                                                     ["biology"])
    assert created.has_unpublished_changes and created.videos == []
    [announced] = [e.event for e in units.emitted]
    assert isinstance(announced, events.LessonCreated) and announced.lesson_id == created.id
    assert units.emitted[0].actor_id == AUTHOR.id


@pytest.mark.parametrize("editor", [AUTHOR, ADMIN])
async def test_the_author_or_an_admin_may_change_a_lesson_and_unsent_fields_stay(editor) -> None:
    draft = lesson(has_unpublished_changes=False, description="kept")
    units = fake_units(draft)
    updated = await run(units, cases.update_lesson, UpdateLesson(editor, draft.id, title="Light"))
    assert (updated.title, updated.description, updated.has_unpublished_changes) == ("Light", "kept", True)
    assert [type(e.event) for e in units.emitted] == [events.LessonUpdated]
    assert units.emitted[0].event.title == "Light" and units.emitted[0].actor_id == editor.id


@pytest.mark.parametrize(("actor", "refusal"), [(OTHER_TEACHER, Forbidden), (STUDENT, NotFound)])
async def test_no_one_else_may_change_a_lesson(actor, refusal) -> None:
    draft = lesson()
    units = fake_units(draft)
    with pytest.raises(refusal):
        await run(units, cases.update_lesson, UpdateLesson(actor, draft.id, title="Mine now"))
    assert units.emitted == [] and units.store.lessons[draft.id].title == "Photosynthesis"


async def test_an_archived_lesson_is_frozen() -> None:
    archived = lesson(status="ARCHIVED")
    units = fake_units(archived)
    with pytest.raises(Conflict, match="archived"):
        await run(units, cases.update_lesson, UpdateLesson(ADMIN, archived.id, title="New"))
    with pytest.raises(Conflict):
        await run(units, cases.archive_lesson, ArchiveLesson(AUTHOR, archived.id))
    assert units.emitted == []


async def test_a_missing_lesson_is_not_found() -> None:
    with pytest.raises(NotFound):
        await run(fake_units(), cases.update_lesson, UpdateLesson(AUTHOR, lesson().id, title="x"))


async def test_archiving_hides_the_lesson_and_announces_it() -> None:
    draft = lesson(status="PUBLISHED", version=2)
    units = fake_units(draft)
    archived = await run(units, cases.archive_lesson, ArchiveLesson(AUTHOR, draft.id))
    assert archived.status == "ARCHIVED" and archived.version == 2
    assert units.store.lessons[draft.id].archived_at is not None
    assert [e.event for e in units.emitted] == [events.LessonArchived(lesson_id=draft.id)]


async def test_a_thumbnail_is_stored_under_its_hash_and_becomes_the_lessons() -> None:
    draft = lesson()
    units, storage = fake_units(draft), FakeStorage()
    settings = SETTINGS
    updated = await cases.set_thumbnail(SetThumbnail(AUTHOR, draft.id, PNG, "image/png"), units, storage=storage,
                                        settings=settings)
    [name] = storage.put_objects
    assert name.startswith(f"tenants/{TENANT}/thumbnails/") and name.endswith(".png")
    assert updated.thumbnail == f"/api/content/v1/thumbnails/{TENANT}/{name.rsplit('/', 1)[1]}"
    assert units.emitted[-1].event.thumbnail == updated.thumbnail
    assert len(units.opened) == 2, "the upload to storage runs between two units of work"
    assert not units.opened[0].emitted


async def test_nothing_is_stored_for_who_may_not_change_the_lesson_or_for_what_is_no_image() -> None:
    draft = lesson()
    units, storage = fake_units(draft), FakeStorage()
    settings = SETTINGS
    with pytest.raises(Forbidden):
        await cases.set_thumbnail(SetThumbnail(OTHER_TEACHER, draft.id, PNG, "image/png"), units, storage=storage,
                                  settings=settings)
    with pytest.raises(UnsupportedType):
        await cases.set_thumbnail(SetThumbnail(AUTHOR, draft.id, b"<svg/>", "image/svg+xml"), units,
                                  storage=storage, settings=settings)
    assert storage.put_objects == {} and units.emitted == []


# --- publishing ------------------------------------------------------------------------------------

async def test_publishing_freezes_the_uploaded_videos_as_the_next_version() -> None:
    draft = lesson(version=1, status="PUBLISHED")
    ready = video(draft, title="Intro")
    required = milestone(ready, timestamp=12.0)
    optional = milestone(ready, timestamp=40.0, is_required=False)
    failed = video(draft, title="Broken", position=1, status="FAILED", metadata={"failure": "too big"})
    units = fake_units(draft, ready, required, optional, failed, questions=(approved_question(required),))
    published = await run(units, cases.publish_lesson, PublishLesson(AUTHOR, draft.id))
    assert (published.status, published.version, published.has_unpublished_changes) == ("PUBLISHED", 2, False)
    assert [v.id for v in published.videos] == [ready.id]
    assert [m.id for m in published.videos[0].milestones] == [required.id, optional.id]
    assert [(e.video_id, e.status) for e in published.excluded_videos] == [(failed.id, "FAILED")]
    assert published.excluded_videos[0].reason.startswith("too big; publishing leaves it out")
    [version] = units.store.versions
    assert (version.version, version.published_by_id) == (2, AUTHOR.id)
    assert version.snapshot["videos"][0]["id"] == str(ready.id), "the snapshot is JSON"
    assert "excluded_videos" not in version.snapshot and "has_unpublished_changes" not in version.snapshot
    stored = units.store.lessons[draft.id]
    assert (stored.status, stored.version, stored.has_unpublished_changes) == ("PUBLISHED", 2, False)
    [announced] = [e.event for e in units.emitted]
    assert isinstance(announced, events.LessonPublished)
    assert (announced.version, announced.video_ids) == (2, [ready.id])


async def test_an_expired_upload_is_left_out_of_the_version() -> None:
    draft = lesson()
    ready, stale = video(draft), video(draft, position=1, status="UPLOADING", upload_expires_at=expired())
    published = await run(fake_units(draft, ready, stale), cases.publish_lesson, PublishLesson(AUTHOR, draft.id))
    assert [v.id for v in published.videos] == [ready.id]
    assert published.excluded_videos[0].status == "EXPIRED"
    assert "expired at" in published.excluded_videos[0].reason


@pytest.mark.parametrize("why", ["uploading", "no video", "unanswerable"])
async def test_publishing_refuses_and_changes_nothing(why: str) -> None:
    draft = lesson()
    rows = [draft]
    if why == "uploading":
        rows.append(video(draft, title="Still coming", status="UPLOADING", upload_expires_at=later()))
    elif why == "unanswerable":
        ready = video(draft)
        rows += [ready, milestone(ready, title="Quiz", timestamp=5.0)]
    units = fake_units(*rows)
    with pytest.raises(Conflict) as refused:
        await run(units, cases.publish_lesson, PublishLesson(AUTHOR, draft.id))
    message = {"uploading": "still uploading: Still coming", "no video": "at least one uploaded video",
               "unanswerable": "'Quiz' at 5 s in 'Chapter 1'"}[why]
    assert message in str(refused.value)
    if why == "unanswerable":
        assert refused.value.extensions["milestones"][0]["title"] == "Quiz"
    assert units.emitted == [] and units.store.versions == []
    assert units.store.lessons[draft.id].status == "DRAFT"


async def test_only_the_author_or_an_admin_publishes() -> None:
    draft = lesson()
    units = fake_units(draft, video(draft))
    with pytest.raises(Forbidden):
        await run(units, cases.publish_lesson, PublishLesson(OTHER_TEACHER, draft.id))
    assert (await run(units, cases.publish_lesson, PublishLesson(ADMIN, draft.id))).version == 1

"""Videos' use cases on the fake unit of work and a fake object storage: what an upload must be,
what completing it checks and announces (once), replacing a file while published versions keep
theirs, and deleting."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from cuepoint.content.domain.probe import UnreadableVideo
from cuepoint.content.settings import ContentSettings
from cuepoint.content.use_cases import videos as cases
from cuepoint.content.use_cases.videos import (CompleteUpload, DeleteVideo, ReplaceFile, StartUpload,
                                               UpdateVideo)
from cuepoint.contracts import content as events
from cuepoint.runtime.errors import Conflict, Forbidden, Gone, Invalid, NotFound

from .fakes import (AUTHOR, BUCKET, OTHER_TEACHER, TENANT, FakeStorage, config, expired, fake_units, group, later,
                    lesson, milestone, now, video)

pytestmark = pytest.mark.unit

SETTINGS = ContentSettings.model_construct(allowed_video_types=("video/mp4", "video/webm"), upload_session_minutes=60)


def probe_saying(**found):
    async def probe(name: str, size: int) -> dict:
        return found
    return probe


async def unreadable(name: str, size: int) -> dict:
    raise UnreadableVideo("this file is not a video ffprobe can read")


async def complete(units, storage, video_id, *, probe=probe_saying(duration=61.5, width=64, height=48, codec="h264"),
                   actor=AUTHOR, cap=10_000_000):
    return await cases.complete_upload(CompleteUpload(actor, video_id), units, storage=storage,
                                       config=config({"video.maxFileSize": cap}), probe=probe)


def uploading(of, **values):
    return video(of, status="UPLOADING", upload_expires_at=later(), duration=None, **values)


# --- starting an upload ----------------------------------------------------------------------------

async def test_an_upload_starts_a_video_in_the_draft_and_a_session_bound_to_type_and_size() -> None:
    draft = lesson(has_unpublished_changes=False)
    units, storage = fake_units(draft, video(draft)), FakeStorage()
    session = await cases.start_upload(StartUpload(AUTHOR, draft.id, "Intro", "video/mp4", 5000, checksum="AAAAAA=="),
                                       units, storage=storage, settings=SETTINGS, config=config())
    stored = units.store.videos[session.video_id]
    assert (stored.status, stored.position, stored.expected_size, stored.metadata) == (
        "UPLOADING", 1, 5000, {"expected_checksum": "AAAAAA=="})
    assert stored.storage_path == f"{BUCKET}tenants/{TENANT}/videos/{session.video_id}/original"
    assert storage.sessions == [stored.storage_path.removeprefix(BUCKET)]
    assert timedelta(minutes=59) < session.expires_at - now() <= timedelta(minutes=60)
    assert units.store.lessons[draft.id].has_unpublished_changes
    assert units.emitted == [], "VideoUploaded comes with complete, not before"


@pytest.mark.parametrize(("content_type", "size", "why"), [
    ("application/x-msdownload", 10, "is not accepted"), ("video/mp4", 10_000_001, "at most 10000000 bytes")])
async def test_an_unacceptable_file_is_refused_before_anything_is_stored(content_type, size, why) -> None:
    draft = lesson()
    units, storage = fake_units(draft), FakeStorage()
    with pytest.raises(Invalid, match=why):
        await cases.start_upload(StartUpload(AUTHOR, draft.id, "x", content_type, size), units, storage=storage,
                                 settings=SETTINGS, config=config())
    assert units.opened == [] and storage.sessions == []


async def test_an_upload_into_a_chapter_of_another_lesson_is_refused() -> None:
    draft, elsewhere = lesson(), lesson()
    part = group(elsewhere)
    units, storage = fake_units(draft, elsewhere, part), FakeStorage()
    with pytest.raises(Invalid, match="another lesson"):
        await cases.start_upload(StartUpload(AUTHOR, draft.id, "x", "video/mp4", 10, video_group_id=part.id), units,
                                 storage=storage, settings=SETTINGS, config=config())
    assert units.store.videos == {} and storage.sessions == []


async def test_only_who_may_change_the_lesson_starts_an_upload() -> None:
    draft = lesson()
    units, storage = fake_units(draft), FakeStorage()
    with pytest.raises(Forbidden):
        await cases.start_upload(StartUpload(OTHER_TEACHER, draft.id, "x", "video/mp4", 10), units, storage=storage,
                                 settings=SETTINGS, config=config())
    assert storage.sessions == []


# --- completing it ---------------------------------------------------------------------------------

async def test_completing_checks_the_object_and_announces_the_video_once() -> None:
    draft = lesson()
    clip = uploading(draft, expected_size=1000)
    units, storage = fake_units(draft, clip), FakeStorage()
    storage.uploaded(clip.storage_path, size=1000)
    done = await complete(units, storage, clip.id)
    assert (done.status, done.duration, done.upload_expires_at) == ("READY", 61.5, None)
    assert (done.metadata.width, done.metadata.codec, done.metadata.size) == (64, "h264", 1000)
    [uploaded] = [e.event for e in units.emitted]
    assert isinstance(uploaded, events.VideoUploaded)
    assert (uploaded.video_id, uploaded.size_bytes, uploaded.duration_seconds, uploaded.width) == (clip.id, 1000,
                                                                                                   61.5, 64)
    again = await complete(units, storage, clip.id)
    assert again.status == "READY" and len(units.emitted) == 1, "nothing happens twice"


async def test_without_ffprobe_a_verified_upload_is_uploaded_not_ready() -> None:
    draft = lesson()
    clip = uploading(draft)
    units, storage = fake_units(draft, clip), FakeStorage()
    storage.uploaded(clip.storage_path)
    assert (await complete(units, storage, clip.id, probe=probe_saying())).status == "UPLOADED"


async def test_nothing_uploaded_yet_is_a_conflict_that_changes_nothing() -> None:
    draft = lesson()
    clip = uploading(draft)
    units, storage = fake_units(draft, clip), FakeStorage()
    with pytest.raises(Conflict, match="nothing was uploaded"):
        await complete(units, storage, clip.id)
    assert units.store.videos[clip.id].status == "UPLOADING" and units.emitted == []


@pytest.mark.parametrize(("uploaded", "why"), [
    ({"size": 999}, "not the 1000 announced"), ({"content_type": "video/webm"}, "not the 'video/mp4' announced"),
    ({"crc32c": "BBBBBB=="}, "corrupted or replaced in transit"), ({"size": 20_000_000}, "over the")])
async def test_a_file_unlike_the_one_announced_fails_and_is_deleted(uploaded, why) -> None:
    draft = lesson()
    clip = uploading(draft, expected_size=1000, metadata={"expected_checksum": "AAAAAA=="})
    units, storage = fake_units(draft, clip), FakeStorage()
    storage.uploaded(clip.storage_path, **uploaded)
    with pytest.raises(Invalid, match=why):
        await complete(units, storage, clip.id)
    failed = units.store.videos[clip.id]
    assert failed.status == "FAILED" and why in failed.metadata["failure"]
    assert failed.metadata["expected_checksum"] == "AAAAAA==", "what was announced is kept"
    assert storage.deleted == [clip.storage_path.removeprefix(BUCKET)] and units.emitted == []
    with pytest.raises(Conflict, match="failed; start a new one"):
        await complete(units, storage, clip.id)


async def test_an_expired_session_fails_the_upload() -> None:
    draft = lesson()
    clip = video(draft, status="UPLOADING", upload_expires_at=expired())
    units, storage = fake_units(draft, clip), FakeStorage()
    storage.uploaded(clip.storage_path)
    with pytest.raises(Gone):
        await complete(units, storage, clip.id)
    assert units.store.videos[clip.id].status == "FAILED" and storage.objects == {} and units.emitted == []


async def test_a_file_ffprobe_cannot_read_fails_and_is_deleted() -> None:
    draft = lesson()
    clip = uploading(draft)
    units, storage = fake_units(draft, clip), FakeStorage()
    storage.uploaded(clip.storage_path)
    with pytest.raises(Invalid, match="not a video ffprobe can read"):
        await complete(units, storage, clip.id, probe=unreadable)
    assert units.store.videos[clip.id].status == "FAILED" and storage.objects == {} and units.emitted == []


async def test_an_object_outside_the_organisations_storage_is_never_completed() -> None:
    draft = lesson()
    clip = uploading(draft, storage_path=f"{BUCKET}tenants/{uuid.uuid4()}/videos/x/original")
    units, storage = fake_units(draft, clip), FakeStorage()
    storage.uploaded(clip.storage_path)
    with pytest.raises(Forbidden, match="outside this organisation"):
        await complete(units, storage, clip.id)
    assert storage.deleted == [] and units.emitted == []


# --- replacing the file ----------------------------------------------------------------------------

async def replace(units, storage, video_id, *, size=2000):
    return await cases.replace_file(ReplaceFile(AUTHOR, video_id, "video/mp4", size, duration=30.0), units,
                                    storage=storage, settings=SETTINGS, config=config())


async def test_only_a_completed_video_has_a_file_to_replace() -> None:
    draft = lesson()
    clip = uploading(draft)
    units, storage = fake_units(draft, clip), FakeStorage()
    with pytest.raises(Conflict, match="no completed file to replace"):
        await replace(units, storage, clip.id)
    assert storage.sessions == []


async def test_a_replacement_swaps_the_file_in_and_warns_of_milestones_past_the_new_end() -> None:
    draft = lesson()
    clip = video(draft, duration=120.0)
    early, late = milestone(clip, timestamp=10.0), milestone(clip, timestamp=90.0, title="Late")
    units, storage = fake_units(draft, clip, early, late), FakeStorage()
    first = await replace(units, storage, clip.id)
    second = await replace(units, storage, clip.id)
    superseded, pending = storage.sessions
    assert storage.deleted == [superseded], "a replacement started again drops the earlier one"
    assert units.store.videos[clip.id].storage_path == clip.storage_path, "the video keeps its file until complete"
    assert first.video_id == second.video_id == clip.id
    storage.uploaded(pending, size=2000)
    done = await complete(units, storage, clip.id, probe=probe_saying(duration=60.0))
    assert done.storage_path == BUCKET + pending and done.duration == 60.0
    assert [m.id for m in done.milestones_past_end] == [late.id]
    assert done.warnings == ["The milestone “Late” at 90 s is after the end of the new file (60.0 s): it is kept, "
                             "but playback never reaches it; move or delete it."]
    assert units.store.videos[clip.id].replacement is None
    assert storage.deleted[-1] == clip.storage_path.removeprefix(BUCKET), "no version plays the old file"
    [uploaded] = [e.event for e in units.emitted]
    assert uploaded.storage_path == BUCKET + pending


async def test_a_published_version_keeps_the_file_it_was_published_with() -> None:
    draft = lesson(status="PUBLISHED", version=1)
    clip = video(draft)
    units, storage = fake_units(draft, clip), FakeStorage()
    await units.repositories["versions"].add(lesson_id=draft.id, version=1, tenant_id=TENANT, snapshot={
        "videos": [{"id": str(clip.id), "storage_path": clip.storage_path}]})
    await replace(units, storage, clip.id)
    storage.uploaded(storage.sessions[0], size=2000)
    await complete(units, storage, clip.id)
    assert clip.storage_path.removeprefix(BUCKET) not in storage.deleted


async def test_an_expired_replacement_is_dropped_and_the_video_keeps_its_file() -> None:
    draft = lesson()
    clip = video(draft, replacement={
        "upload_id": "u1", "storage_path": f"{BUCKET}tenants/{TENANT}/videos/v/replacements/u1",
        "content_type": "video/mp4", "expected_size": 10, "expected_checksum": None, "duration": None,
        "expires_at": (now() - timedelta(minutes=1)).isoformat()})
    units, storage = fake_units(draft, clip), FakeStorage()
    with pytest.raises(Gone, match="keeps its current file"):
        await complete(units, storage, clip.id)
    kept = units.store.videos[clip.id]
    assert kept.replacement is None and kept.storage_path == clip.storage_path and kept.status == "READY"
    assert units.emitted == []


# --- renaming, moving, deleting --------------------------------------------------------------------

async def test_a_video_moves_into_a_chapter_of_its_lesson_and_out_of_any() -> None:
    draft = lesson()
    part, foreign = group(draft), group(lesson())
    clip = video(draft, title="Intro")
    units = fake_units(draft, part, foreign, clip)

    async def update(**changes):
        async with units(TENANT) as uow:
            return await cases.update_video(UpdateVideo(AUTHOR, clip.id, **changes), uow)

    assert (await update(video_group_id=part.id)).video_group_id == part.id
    moved_out = await update(video_group_id=None)
    assert (moved_out.video_group_id, moved_out.title) == (None, "Intro")
    with pytest.raises(Invalid, match="another lesson"):
        await update(video_group_id=foreign.id)
    assert [e.event.video_group_id for e in units.emitted] == [part.id, None]


async def test_deleting_a_video_keeps_its_file_while_a_version_plays_it() -> None:
    draft = lesson()
    played, unplayed = video(draft), video(draft, position=1)
    point = milestone(unplayed)
    units, storage = fake_units(draft, played, unplayed, point), FakeStorage()
    await units.repositories["versions"].add(lesson_id=draft.id, version=1, tenant_id=TENANT,
                                             snapshot={"videos": [{"id": str(played.id)}]})
    for clip in (played, unplayed):
        await cases.delete_video(DeleteVideo(AUTHOR, clip.id), units, storage=storage)
    assert storage.deleted == [unplayed.storage_path.removeprefix(BUCKET)]
    assert [(e.event.video_id, e.event.in_published_version, e.event.milestone_ids) for e in units.emitted] == [
        (played.id, True, []), (unplayed.id, False, [point.id])]
    with pytest.raises(NotFound):
        await cases.delete_video(DeleteVideo(AUTHOR, played.id), units, storage=storage)


async def test_who_may_not_change_the_lesson_deletes_nothing() -> None:
    draft = lesson()
    clip = video(draft)
    units, storage = fake_units(draft, clip), FakeStorage()
    with pytest.raises(Forbidden):
        await cases.delete_video(DeleteVideo(OTHER_TEACHER, clip.id), units, storage=storage)
    assert storage.deleted == [] and units.store.videos[clip.id].deleted_at is None and units.emitted == []


async def test_objects_are_deleted_only_once_what_they_held_is_committed() -> None:
    draft = lesson()
    mismatched, unreadable_clip, published = uploading(draft, expected_size=1000), uploading(draft), video(draft)
    units = fake_units(draft, mismatched, unreadable_clip, published)
    storage = FakeStorage(units=units)
    storage.uploaded(mismatched.storage_path, size=5)
    storage.uploaded(unreadable_clip.storage_path)
    with pytest.raises(Invalid):
        await complete(units, storage, mismatched.id)
    with pytest.raises(Invalid):
        await complete(units, storage, unreadable_clip.id, probe=unreadable)
    await replace(units, storage, published.id)
    await replace(units, storage, published.id)
    await cases.delete_video(DeleteVideo(AUTHOR, published.id), units, storage=storage)
    assert len(storage.deleted) == 5
    # Still inside, as before the unit of work: a session storage refuses leaves no row behind, and the
    # stored object's size and checksum are read under the video's lock.
    assert set(storage.in_transaction) == {"create_upload", "stat"}

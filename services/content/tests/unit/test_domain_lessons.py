"""domain.lessons and domain.videos alone: who may change or look into a lesson, what publishing
freezes and refuses, and what state an upload is in."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cuepoint.content.domain import lessons, videos
from cuepoint.content.storage import StoredObject
from cuepoint.runtime.auth import CurrentUser, Role
from cuepoint.runtime.errors import Conflict, Forbidden, Invalid, NotFound

pytestmark = pytest.mark.unit

AUTHOR_ID = uuid.uuid4()
NOW = datetime(2026, 12, 2, 7, 42, 49, 295562, tzinfo=UTC)


@given(role=st.sampled_from(list(Role)), authored=st.booleans(),
       status=st.sampled_from(["DRAFT", "PUBLISHED", "ARCHIVED"]))
def test_only_its_author_or_an_admin_changes_a_lesson_and_never_an_archived_one(role, authored, status) -> None:
    actor = CurrentUser(AUTHOR_ID if authored else uuid.uuid4(), uuid.uuid4(), role)
    lesson = SimpleNamespace(id=uuid.uuid4(), created_by_id=AUTHOR_ID, status=status)
    if role < Role.TEACHER:
        expected: type[Exception] | None = NotFound  # a student does not learn that a draft exists
    elif not authored and role < Role.ADMIN:
        expected = Forbidden
    elif status == "ARCHIVED":
        expected = Conflict
    else:
        expected = None
    if expected is None:
        lessons.ensure_editable(lesson, actor)
    else:
        with pytest.raises(expected):
            lessons.ensure_editable(lesson, actor)
    # Looking into its versions is the same rule, an archived lesson included.
    if expected in (None, Conflict):
        lessons.ensure_authored(lesson, actor)
    else:
        with pytest.raises(expected):
            lessons.ensure_authored(lesson, actor)


def _video(status: str, **values) -> dict:
    return {"id": uuid.uuid4(), "title": status.title(), "status": status, "milestones": [], "metadata": {},
            "upload_expires_at": None, **values}


def test_publishing_takes_the_uploaded_videos_and_leaves_out_expired_and_failed_ones() -> None:
    draft = {"videos": [_video("READY"), _video("UPLOADED"), _video("EXPIRED"), _video("FAILED")]}
    assert [v["status"] for v in lessons.playable_videos(draft)] == ["READY", "UPLOADED"]


@pytest.mark.parametrize(("statuses", "why"), [
    (["READY", "UPLOADING"], "still uploading: Uploading"), (["FAILED", "EXPIRED"], "at least one uploaded video"),
    ([], "at least one uploaded video")])
def test_publishing_refuses(statuses, why) -> None:
    with pytest.raises(Conflict, match=why):
        lessons.playable_videos({"videos": [_video(s) for s in statuses]})


def test_a_required_milestone_needs_an_approved_question_an_optional_one_does_not() -> None:
    required = {"id": uuid.uuid4(), "title": "Quiz", "timestamp": 12.5, "is_required": True}
    optional = {"id": uuid.uuid4(), "title": "Aside", "timestamp": 20.0, "is_required": False}
    clip = _video("READY", milestones=[required, optional])
    asked = lessons.required_milestones([clip])
    assert asked == [(required, clip)]
    lessons.ensure_answerable(asked, {required["id"]})
    with pytest.raises(Conflict, match="'Quiz' at 12.5 s in 'Ready'") as refused:
        lessons.ensure_answerable(asked, set())
    assert refused.value.extensions["milestones"] == [{"milestone_id": str(required["id"]), "title": "Quiz",
                                                       "video_id": str(clip["id"]), "video_title": "Ready"}]


def test_a_snapshot_is_json_with_times_in_utc_as_the_api_writes_them() -> None:
    lesson_id = uuid.uuid4()
    draft = {"id": lesson_id, "updated_at": NOW.astimezone(timezone(timedelta(hours=1))), "videos": [],
             "excluded_videos": [{"video_id": lesson_id}], "has_unpublished_changes": True}
    frozen, excluded = lessons.snapshot(draft, [], version=3, now=NOW)
    assert frozen == {"id": str(lesson_id), "updated_at": "2026-12-02T07:42:49.295562Z", "videos": [],
                      "status": "PUBLISHED", "version": 3, "published_at": "2026-12-02T07:42:49.295562Z"}
    assert excluded == [{"video_id": str(lesson_id)}]
    with pytest.raises(TypeError):
        lessons.json_value(object())


def test_an_upload_not_completed_in_time_reads_as_expired() -> None:
    def row(status, expires):
        return SimpleNamespace(status=status, upload_expires_at=expires)
    assert videos.status(row("UPLOADING", NOW - timedelta(seconds=1)), now=NOW) == "EXPIRED"
    assert videos.status(row("UPLOADING", NOW + timedelta(seconds=1)), now=NOW) == "UPLOADING"
    assert videos.status(row("READY", NOW - timedelta(days=1)), now=NOW) == "READY"
    expired = {"status": "EXPIRED", "upload_expires_at": NOW, "metadata": {}}
    assert lessons.exclusion(expired).startswith("the upload expired at 2026-12-02T07:42:49.295562Z")
    assert lessons.exclusion({"status": "FAILED", "metadata": {}}).startswith("the upload failed;")


@pytest.mark.parametrize(("stored", "why"), [
    (dict(size=11), "over the 10-byte limit"), (dict(size=9), "not the 10 announced"),
    (dict(content_type="video/webm"), "not the 'video/mp4' announced"), (dict(crc32c="BBBBBB=="), "CRC32C")])
def test_what_an_upload_must_match(stored, why) -> None:
    announced = {"expected_size": 10, "content_type": "video/mp4", "expected_checksum": "AAAAAA=="}
    found = StoredObject(**({"name": "n", "size": 10, "content_type": "video/mp4", "crc32c": "AAAAAA==", "md5": None}
                            | stored))
    assert why in str(videos.upload_problem(announced, found, cap=10))
    match = StoredObject(name="n", size=10, content_type="video/mp4", crc32c="AAAAAA==", md5=None)
    assert videos.upload_problem(announced, match, cap=10) is None
    assert videos.upload_problem({**announced, "expected_checksum": None}, StoredObject(
        name="n", size=10, content_type="video/mp4", crc32c="other", md5=None), cap=10) is None


def test_accepted_files() -> None:
    videos.ensure_accepted_type("video/mp4", ("video/mp4",))
    with pytest.raises(Invalid, match="not accepted; use one of video/mp4"):
        videos.ensure_accepted_type("video/avi", ("video/mp4",))
    videos.ensure_within_cap(10, 10)
    with pytest.raises(Invalid, match="at most 10 bytes"):
        videos.ensure_within_cap(11, 10)
    with pytest.raises(Conflict, match="no completed file"):
        videos.ensure_replaceable(SimpleNamespace(status="UPLOADING"))
    with pytest.raises(Forbidden):
        videos.ensure_in_tenant("tenants/b/videos/x", "tenants/a/")

"""In-memory repositories for content's use cases: the same methods as repositories.py, the rows
in dicts (read by attribute, with every column of orm.py). What SQL keeps there (one milestone per
timestamp of a video, not-found as a 404, a replacement dropped only if still the pending one) the
fakes keep too; object storage is a dict of objects."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from cuepoint.content import orm
from cuepoint.content.storage import StoredObject
from cuepoint.runtime.auth import CurrentUser, Role
from cuepoint.runtime.errors import NotFound
from cuepoint.runtime.unit_of_work import FakeUnitsOfWork

TENANT = uuid.UUID("00000000-0000-7000-8000-000000000001")
AUTHOR = CurrentUser(uuid.uuid4(), TENANT, Role.TEACHER)
OTHER_TEACHER = CurrentUser(uuid.uuid4(), TENANT, Role.TEACHER)
ADMIN = CurrentUser(uuid.uuid4(), TENANT, Role.ADMIN)
STUDENT = CurrentUser(uuid.uuid4(), TENANT, Role.STUDENT)
BUCKET = "gs://cuepoint-test/"


def now() -> datetime:
    return datetime.now(UTC)


def row(table: Any, **values: Any) -> SimpleNamespace:
    unknown = set(values) - {c.name for c in table.c}
    assert not unknown, f"{table.name} has no {unknown}"
    return SimpleNamespace(**({c.name: None for c in table.c} | values))


def lesson(author: CurrentUser = AUTHOR, **values: Any) -> SimpleNamespace:
    return row(orm.lessons, **({
        "id": uuid.uuid4(), "tenant_id": TENANT, "title": "Photosynthesis", "description": "How plants eat light",
        "thumbnail": None, "status": "DRAFT", "created_by_id": author.id, "version": 0,
        "has_unpublished_changes": True, "tags": [], "metadata": {}, "seek_policy": "FREE",
        "auto_generate_questions": False, "created_at": now(), "updated_at": now()} | values))


def video(of: SimpleNamespace, **values: Any) -> SimpleNamespace:
    video_id = values.pop("id", uuid.uuid4())
    return row(orm.videos, **({
        "id": video_id, "tenant_id": TENANT, "lesson_id": of.id, "title": "Chapter 1", "position": 0,
        "duration": 120.0, "storage_path": f"{BUCKET}tenants/{TENANT}/videos/{video_id}/original",
        "status": "READY", "content_type": "video/mp4", "expected_size": 1000, "metadata": {},
        "created_at": now(), "updated_at": now()} | values))


def milestone(of: SimpleNamespace, **values: Any) -> SimpleNamespace:
    return row(orm.milestones, **({
        "id": uuid.uuid4(), "tenant_id": TENANT, "video_id": of.id, "lesson_id": of.lesson_id, "timestamp": 30.0,
        "title": "Check", "is_required": True, "created_at": now(), "updated_at": now()} | values))


def group(of: SimpleNamespace, **values: Any) -> SimpleNamespace:
    return row(orm.video_groups, **({
        "id": uuid.uuid4(), "tenant_id": TENANT, "lesson_id": of.id, "title": "Part 1", "position": 0,
        "created_at": now(), "updated_at": now()} | values))


@dataclass
class Store:
    lessons: dict[uuid.UUID, SimpleNamespace] = field(default_factory=dict)
    versions: list[SimpleNamespace] = field(default_factory=list)
    groups: dict[uuid.UUID, SimpleNamespace] = field(default_factory=dict)
    videos: dict[uuid.UUID, SimpleNamespace] = field(default_factory=dict)
    milestones: dict[uuid.UUID, SimpleNamespace] = field(default_factory=dict)
    transcripts: dict[tuple[uuid.UUID, str], SimpleNamespace] = field(default_factory=dict)
    questions: dict[uuid.UUID, SimpleNamespace] = field(default_factory=dict)


def _found(rows: dict[Any, SimpleNamespace], key: Any, noun: str) -> SimpleNamespace:
    if key not in rows:
        raise NotFound(f"no {noun} {key}")
    return SimpleNamespace(**vars(rows[key]))  # a copy: a row read earlier does not change under the reader


def _update(rows: dict[Any, SimpleNamespace], key: Any, values: dict[str, Any]) -> None:
    if key in rows:
        rows[key] = SimpleNamespace(**(vars(rows[key]) | values))


class FakeLessons:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def get(self, lesson_id: uuid.UUID, *, lock: bool = False) -> Any:
        return _found(self.store.lessons, lesson_id, "lesson")

    async def add(self, **values: Any) -> None:
        self.store.lessons[values["id"]] = row(orm.lessons, **values)

    async def update(self, lesson_id: uuid.UUID, **values: Any) -> None:
        _update(self.store.lessons, lesson_id, values)

    async def touch(self, lesson_id: uuid.UUID) -> None:
        await self.update(lesson_id, has_unpublished_changes=True, updated_at=now())

    async def contents(self, lesson_id: uuid.UUID) -> tuple[list[Any], list[Any], list[Any]]:
        groups = sorted((g for g in self.store.groups.values() if g.lesson_id == lesson_id),
                        key=lambda g: (g.position, g.created_at))
        videos = sorted((v for v in self.store.videos.values() if v.lesson_id == lesson_id and v.deleted_at is None),
                        key=lambda v: (v.position, v.created_at))
        milestones = sorted((m for m in self.store.milestones.values() if m.lesson_id == lesson_id),
                            key=lambda m: m.timestamp)
        return groups, videos, milestones


class FakeVersions:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def add(self, **values: Any) -> None:
        self.store.versions.append(row(orm.lesson_versions, **values))

    async def name_video(self, lesson_id: uuid.UUID, video_id: uuid.UUID, storage_path: str | None = None) -> bool:
        return any(v["id"] == str(video_id) and (storage_path is None or v.get("storage_path") == storage_path)
                   for version in self.store.versions if version.lesson_id == lesson_id
                   for v in version.snapshot["videos"])


class FakeGroups:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def get(self, group_id: uuid.UUID) -> Any:
        return _found(self.store.groups, group_id, "chapter")

    async def count(self, lesson_id: uuid.UUID) -> int:
        return sum(1 for g in self.store.groups.values() if g.lesson_id == lesson_id)

    async def add(self, **values: Any) -> None:
        self.store.groups[values["id"]] = row(orm.video_groups, **values)

    async def update(self, group_id: uuid.UUID, **values: Any) -> None:
        _update(self.store.groups, group_id, values)

    async def delete(self, group_id: uuid.UUID) -> None:
        self.store.groups.pop(group_id, None)


class FakeVideos:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def get(self, video_id: uuid.UUID, *, lock: bool = False, deleted_ok: bool = False) -> Any:
        found = _found(self.store.videos, video_id, "video")
        if found.deleted_at is not None and not deleted_ok:
            raise NotFound(f"no video {video_id}")
        return found

    async def count(self, lesson_id: uuid.UUID) -> int:
        return sum(1 for v in self.store.videos.values() if v.lesson_id == lesson_id)

    async def add(self, **values: Any) -> None:
        self.store.videos[values["id"]] = row(orm.videos, **values)

    async def update(self, video_id: uuid.UUID, **values: Any) -> None:
        _update(self.store.videos, video_id, values)

    async def drop_replacement(self, video_id: uuid.UUID, upload_id: str) -> None:
        current = self.store.videos.get(video_id)
        if current is not None and (current.replacement or {}).get("upload_id") == upload_id:
            _update(self.store.videos, video_id, {"replacement": None, "updated_at": now()})


class FakeMilestones:
    def __init__(self, store: Store) -> None:
        self.store = store

    def _taken(self, video_id: uuid.UUID, timestamp: float, but: uuid.UUID) -> bool:
        return any(m.video_id == video_id and m.timestamp == timestamp and m.id != but
                   for m in self.store.milestones.values())

    async def get(self, milestone_id: uuid.UUID) -> Any:
        return _found(self.store.milestones, milestone_id, "milestone")

    async def add(self, **values: Any) -> bool:
        if self._taken(values["video_id"], values["timestamp"], values["id"]):
            return False
        self.store.milestones[values["id"]] = row(orm.milestones, **values)
        return True

    async def update(self, milestone_id: uuid.UUID, **values: Any) -> bool:
        current = self.store.milestones.get(milestone_id)
        if current is not None and "timestamp" in values and self._taken(current.video_id, values["timestamp"],
                                                                           milestone_id):
            return False
        _update(self.store.milestones, milestone_id, values)
        return True

    async def delete(self, milestone_id: uuid.UUID) -> None:
        self.store.milestones.pop(milestone_id, None)

    async def ids_of_video(self, video_id: uuid.UUID) -> list[uuid.UUID]:
        return [m.id for m in sorted(self.store.milestones.values(), key=lambda m: m.timestamp)
                if m.video_id == video_id]

    async def after(self, video_id: uuid.UUID, timestamp: float) -> list[Any]:
        return sorted((m for m in self.store.milestones.values() if m.video_id == video_id and m.timestamp > timestamp),
                      key=lambda m: m.timestamp)


class FakeTranscripts:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def replace(self, *, video_id: uuid.UUID, language: str, **values: Any) -> None:
        self.store.transcripts[(video_id, language)] = row(orm.transcripts, video_id=video_id, language=language,
                                                           **values)


class FakeQuestions:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def answerable(self, milestone_ids: list[Any]) -> set[Any]:
        return {q.milestone_id for q in self.store.questions.values()
                if q.status == "APPROVED" and q.milestone_id in milestone_ids}


def approved_question(at: SimpleNamespace) -> SimpleNamespace:
    return row(orm.questions, id=uuid.uuid4(), tenant_id=TENANT, milestone_id=at.id, status="APPROVED")


def fake_units(*rows: SimpleNamespace, questions: tuple[SimpleNamespace, ...] = ()) -> FakeUnitsOfWork:
    """Units of work over one Store holding ``rows`` (lessons, chapters, videos, milestones), kept as
    ``units.store``."""
    store = Store()
    for given in rows:  # told apart by their columns
        names = set(vars(given))
        kind = next(name for name, table in (("lessons", orm.lessons), ("videos", orm.videos),
                                             ("milestones", orm.milestones), ("groups", orm.video_groups))
                    if names == {c.name for c in table.c})
        getattr(store, kind)[given.id] = given
    for question in questions:
        store.questions[question.id] = question
    units = FakeUnitsOfWork(lessons=FakeLessons(store), versions=FakeVersions(store), groups=FakeGroups(store),
                            videos=FakeVideos(store), milestones=FakeMilestones(store),
                            transcripts=FakeTranscripts(store), questions=FakeQuestions(store))
    units.store = store  # type: ignore[attr-defined]
    return units


@dataclass
class FakeStorage:
    """Object storage: objects by name; ``stat`` answers what was "uploaded" with ``uploaded``."""

    objects: dict[str, StoredObject] = field(default_factory=dict)
    put_objects: dict[str, bytes] = field(default_factory=dict)
    deleted: list[str] = field(default_factory=list)
    sessions: list[str] = field(default_factory=list)
    gs_prefix: str = BUCKET
    units: FakeUnitsOfWork | None = None
    """Given, each call made while one of its units of work is open is kept in ``in_transaction``."""
    in_transaction: list[str] = field(default_factory=list)

    def _called(self, call: str) -> None:
        if self.units is not None and any(not (u.committed or u.rolled_back) for u in self.units.opened):
            self.in_transaction.append(call)

    def uploaded(self, name_or_path: str, *, size: int = 1000, content_type: str = "video/mp4",
                 crc32c: str | None = "AAAAAA==") -> None:
        name = name_or_path.removeprefix(self.gs_prefix)
        self.objects[name] = StoredObject(name=name, size=size, content_type=content_type, crc32c=crc32c, md5="md5")

    async def create_upload(self, name: str, *, content_type: str, size: int) -> str:
        self._called("create_upload")
        self.sessions.append(name)
        return f"https://storage.test/upload/{name}"

    async def stat(self, name: str) -> StoredObject | None:
        self._called("stat")
        return self.objects.get(name)

    async def put(self, name: str, data: bytes, *, content_type: str) -> None:
        self._called("put")
        self.put_objects[name] = data

    async def delete(self, name: str) -> None:
        self._called("delete")
        self.deleted.append(name)
        self.objects.pop(name, None)


def config(values: dict[str, Any] | None = None) -> Any:
    """The system config lookup: video.maxFileSize 10 MB unless told otherwise."""
    found = {"video.maxFileSize": 10_000_000, **(values or {})}

    async def lookup(key: str, tenant_id: uuid.UUID) -> Any:
        return found[key]
    return lookup


def expired() -> datetime:
    return now() - timedelta(minutes=1)


def later() -> datetime:
    return now() + timedelta(hours=1)

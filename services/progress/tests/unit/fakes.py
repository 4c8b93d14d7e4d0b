"""In-memory repositories for progress's use cases: the same methods as repositories.py, the
rows in dicts. What SQL keeps there ("upsert if newer", a settled question stays settled, the
best score is kept) the fakes keep too, so the use cases' tests hold against either."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from cuepoint.contracts import assessment
from cuepoint.progress.domain.announcements import Announced
from cuepoint.progress.domain.catalogue import LessonPlan, World
from cuepoint.progress.domain.inputs import ProgressInputs
from cuepoint.progress.domain.playback import VideoState
from cuepoint.progress.domain.progress import LessonProgress
from cuepoint.progress.domain.sessions import StudentSession
from cuepoint.runtime.unit_of_work import FakeUnitsOfWork

Pair = tuple[uuid.UUID, uuid.UUID]


@dataclass
class LessonRow:
    id: uuid.UUID
    created_by_id: uuid.UUID
    seek_policy: str = "FREE"
    video_ids: list[uuid.UUID] = field(default_factory=list)  # the published version's


@dataclass
class VideoRow:
    id: uuid.UUID
    lesson_id: uuid.UUID
    duration: float | None = 60.0
    deleted: bool = False


@dataclass
class MilestoneRow:
    id: uuid.UUID
    video_id: uuid.UUID
    lesson_id: uuid.UUID
    timestamp: float
    is_required: bool = True
    deleted: bool = False


@dataclass
class Required:  # a required milestone as the catalogue loads it
    id: uuid.UUID
    video_id: uuid.UUID
    timestamp: float
    questions: int


@dataclass
class Result:
    milestone_id: uuid.UUID
    lesson_id: uuid.UUID
    settled: bool
    best_score: Decimal
    time_spent_ms: int
    updated_at: datetime


@dataclass
class Store:
    """The projection's tables, shared by the fake repositories."""

    lessons: dict[uuid.UUID, LessonRow] = field(default_factory=dict)
    videos: dict[uuid.UUID, VideoRow] = field(default_factory=dict)
    milestones: dict[uuid.UUID, MilestoneRow] = field(default_factory=dict)
    approved: dict[uuid.UUID, uuid.UUID] = field(default_factory=dict)  # question → milestone
    results: dict[Pair, Result] = field(default_factory=dict)  # (student, question)
    grades: dict[Pair, tuple[Decimal, datetime]] = field(default_factory=dict)  # (student, lesson) → percent, at
    video_progress: dict[Pair, tuple[VideoState, str | None, datetime]] = field(default_factory=dict)
    sessions: dict[uuid.UUID, StudentSession] = field(default_factory=dict)
    progress: dict[Pair, LessonProgress] = field(default_factory=dict)
    announced: dict[Pair, Announced] = field(default_factory=dict)
    notices: list[tuple[uuid.UUID, uuid.UUID, uuid.UUID]] = field(default_factory=list)
    urgent_notices: list[tuple[uuid.UUID, uuid.UUID, uuid.UUID]] = field(default_factory=list)


class FakeCatalogue:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def world(self, *, video_ids: Iterable[uuid.UUID] = (), lesson_ids: Iterable[uuid.UUID] = (),
                    students: Iterable[uuid.UUID]) -> World:
        store, world, lesson_ids = self.store, World(), set(lesson_ids)
        for video_id in video_ids:
            if video_id in store.videos:
                world.videos[video_id] = store.videos[video_id]
                lesson_ids.add(store.videos[video_id].lesson_id)
        for video in store.videos.values():
            if video.lesson_id in lesson_ids:
                world.videos[video.id] = video
        required: dict[uuid.UUID, list[Required]] = {}
        for m in store.milestones.values():
            questions = sum(1 for milestone in store.approved.values() if milestone == m.id)
            if m.lesson_id in lesson_ids and m.is_required and not m.deleted and questions:
                required.setdefault(m.video_id, []).append(Required(m.id, m.video_id, m.timestamp, questions))
        for lesson_id in lesson_ids & set(store.lessons):
            row = store.lessons[lesson_id]
            videos = [world.videos[v] for v in row.video_ids if v in world.videos] or sorted(
                (v for v in store.videos.values() if v.lesson_id == lesson_id and not v.deleted), key=lambda v: str(v.id))
            world.lessons[lesson_id] = LessonPlan(row, videos, {v.id: required.get(v.id, []) for v in videos})
        students = set(students)
        for (student, question), result in store.results.items():
            if student in students and result.settled and question in store.approved:
                key = (student, result.milestone_id)
                world.settled[key] = world.settled.get(key, 0) + 1
        return world


class FakeVideoProgress:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def states(self, keys: set[Pair]) -> dict[Pair, tuple[VideoState, Any]]:
        return {key: (self.store.video_progress[key][0], None) for key in keys if key in self.store.video_progress}

    async def write(self, tenant_id: uuid.UUID, states: Mapping[Pair, tuple[VideoState, Any]]) -> None:
        for key, (state, (device, at, _lesson)) in states.items():
            kept = self.store.video_progress.get(key)
            if kept is not None and kept[0].completed_at is not None:  # completed_at once set is kept
                state = replace(state, completed_at=kept[0].completed_at)
            self.store.video_progress[key] = (state, device, at)

    async def mark_completed(self, student_id: uuid.UUID, video_id: uuid.UUID, at: datetime) -> None:
        key = (student_id, video_id)
        if key in self.store.video_progress:
            state, device, updated = self.store.video_progress[key]
            self.store.video_progress[key] = (replace(state, completed_at=at), device, updated)


class FakeSessions:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def write(self, rows: list[dict[str, Any]]) -> None:
        for row in rows:
            kept = self.store.sessions.get(row["id"])
            if kept is not None and kept.last_seen_at > row["last_seen_at"]:
                continue
            started = row["started_at"] if kept is None or kept.ended_at is not None else kept.started_at
            self.store.sessions[row["id"]] = StudentSession(
                id=row["id"], student_id=row["student_id"], device_id=row["device_id"],
                user_agent=row["user_agent"] or (kept.user_agent if kept else None), started_at=started,
                last_seen_at=row["last_seen_at"], current_lesson_id=row["current_lesson_id"],
                current_video_id=row["current_video_id"], position=row["position"], ended_at=None)

    async def get(self, session_id: uuid.UUID, *, student_id: uuid.UUID, lock: bool = False) -> StudentSession | None:
        found = self.store.sessions.get(session_id)
        return found if found is not None and found.student_id == student_id else None

    async def end(self, session_id: uuid.UUID, at: datetime) -> None:
        self.store.sessions[session_id] = replace(self.store.sessions[session_id], ended_at=at)


class FakeResults:
    def __init__(self, store: Store) -> None:
        self.store = store

    def attempt(self, tenant_id: uuid.UUID, data: assessment.AttemptGraded) -> Callable[[], None]:
        """As the real one: a write made when the reads are (FakeLessonProgresses.inputs calls it)."""
        return lambda: self._record_attempt(data)

    def _record_attempt(self, data: assessment.AttemptGraded) -> None:
        key, spent = (data.student_id, data.question_id), data.time_taken_ms or 0
        kept = self.store.results.get(key)
        if kept is None:
            self.store.results[key] = Result(data.milestone_id, data.lesson_id, data.milestone_answered,
                                             Decimal(str(data.score)), spent, data.answered_at)
        else:
            self.store.results[key] = replace(kept, settled=kept.settled or data.milestone_answered,
                                              best_score=max(kept.best_score, Decimal(str(data.score))),
                                              time_spent_ms=kept.time_spent_ms + spent,
                                              updated_at=max(kept.updated_at, data.answered_at))

    async def record_override(self, tenant_id: uuid.UUID, data: assessment.AttemptScoreOverridden) -> None:
        key = (data.student_id, data.question_id)
        kept = self.store.results.get(key)
        if kept is None:
            self.store.results[key] = Result(data.milestone_id, data.lesson_id, False, Decimal(str(data.best_score)),
                                             0, data.overridden_at)
        else:
            self.store.results[key] = replace(kept, best_score=Decimal(str(data.best_score)),
                                              updated_at=max(kept.updated_at, data.overridden_at))

    async def record_lesson_grade(self, tenant_id: uuid.UUID, data: assessment.LessonGraded) -> None:
        key = (data.student_id, data.lesson_id)
        kept = self.store.grades.get(key)
        if kept is None or kept[1] <= data.graded_at:
            self.store.grades[key] = (Decimal(str(data.percent)), data.graded_at)

class FakeLessonProgresses:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def inputs(self, students: set[uuid.UUID], lesson_ids: set[uuid.UUID], *, world: World | None,
                     announce: bool, first: Sequence[Callable[[], None]] = ()) -> ProgressInputs:
        for write in first:
            write()
        store = self.store
        pick = lambda rows: {key: row for key, row in rows.items() if key[0] in students and key[1] in lesson_ids}  # noqa: E731
        videos = {v.id for v in store.videos.values() if v.lesson_id in lesson_ids}
        spent: dict[Pair, int] = {}
        for (student, question), result in store.results.items():
            if student in students and result.lesson_id in lesson_ids and question in store.approved:
                key = (student, result.lesson_id)
                spent[key] = spent.get(key, 0) + result.time_spent_ms
        return ProgressInputs(
            world=world or await FakeCatalogue(store).world(lesson_ids=lesson_ids, students=students),
            videos={key: state for key, (state, _, _) in store.video_progress.items()
                    if key[0] in students and key[1] in videos},
            answering_ms=spent, grades={key: percent for key, (percent, _) in pick(store.grades).items()},
            existing=pick(store.progress), announced=pick(store.announced) if announce else {})

    async def save(self, tenant_id: uuid.UUID, rows: list[LessonProgress], announced: Mapping[Pair, Announced],
                   notices: list[Pair], *, urgent: bool = False) -> None:
        for row in rows:
            self.store.progress[(row.student_id, row.lesson_id)] = row
        self.store.announced.update(announced)
        (self.store.urgent_notices if urgent else self.store.notices).extend(
            (tenant_id, student, lesson) for student, lesson in notices)


def fake_units(store: Store) -> FakeUnitsOfWork:
    """``units(tenant)`` over ``store``, with the repositories ProgressUnitOfWork has."""
    return FakeUnitsOfWork(catalogue=FakeCatalogue(store), videos=FakeVideoProgress(store),
                           sessions=FakeSessions(store), results=FakeResults(store),
                           progress=FakeLessonProgresses(store))


@dataclass
class OneVideoLesson:
    lesson_id: uuid.UUID
    video_id: uuid.UUID
    milestone_id: uuid.UUID
    question_id: uuid.UUID
    teacher_id: uuid.UUID


def one_video_lesson(store: Store, *, seek_policy: str = "FREE", required_at: float | None = 30.0,
                     duration: float = 60.0) -> OneVideoLesson:
    """A published lesson with one video and, unless ``required_at`` is None, a required milestone
    there with one approved question (as integration/test_progress.py's ``_lesson``)."""
    lesson = OneVideoLesson(*(uuid.uuid4() for _ in range(5)))
    store.lessons[lesson.lesson_id] = LessonRow(lesson.lesson_id, lesson.teacher_id, seek_policy, [lesson.video_id])
    store.videos[lesson.video_id] = VideoRow(lesson.video_id, lesson.lesson_id, duration)
    if required_at is not None:
        store.milestones[lesson.milestone_id] = MilestoneRow(lesson.milestone_id, lesson.video_id, lesson.lesson_id,
                                                             required_at)
        store.approved[lesson.question_id] = lesson.milestone_id
    return lesson

"""The SQL progress's use cases work through: the catalogue they project against, students'
video and lesson progress, sessions, graded answers, and the announcements' throttle state.

The playback path writes a whole batch per statement (arrays unnested server-side, no per-row SQL
to build): see docs/decisions/0003. Its fakes are in tests/unit/fakes.py.
"""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, select, text, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from cuepoint.contracts import assessment

from . import orm
from .domain.announcements import Announced
from .domain.catalogue import LessonPlan, World
from .domain.intervals import measure
from .domain.playback import VideoState
from .domain.progress import LessonProgress
from .domain.sessions import StudentSession
from .live import NOTIFY_CHANNEL

NAMESPACE = uuid.UUID("9a4e1f0c-5b7d-4c1e-9f3a-2d6b8e0c4a17")
Pair = tuple[uuid.UUID, uuid.UUID]
# (student, video) → the state, and for a state to write: (device, time, lesson)
VideoStates = dict[Pair, tuple[VideoState, Any]]


WRITE_VIDEOS = text("""
INSERT INTO video_progress (student_id, video_id, tenant_id, lesson_id, watched, watched_seconds, last_position,
                            last_device_id, last_heartbeat_at, time_spent, flags, completed_at, updated_at)
SELECT s, v, CAST(:tenant_id AS uuid), l, CAST(w AS jsonb), ws, lp, d, hb, ts, f, c, u
FROM unnest(CAST(:student_id AS uuid[]), CAST(:video_id AS uuid[]), CAST(:lesson_id AS uuid[]),
            CAST(:watched AS text[]), CAST(:watched_seconds AS float8[]), CAST(:last_position AS float8[]),
            CAST(:last_device_id AS text[]), CAST(:last_heartbeat_at AS timestamptz[]),
            CAST(:time_spent AS float8[]), CAST(:flags AS integer[]), CAST(:completed_at AS timestamptz[]),
            CAST(:updated_at AS timestamptz[])) AS rows(s, v, l, w, ws, lp, d, hb, ts, f, c, u)
ON CONFLICT (student_id, video_id) DO UPDATE SET
    watched = excluded.watched, watched_seconds = excluded.watched_seconds, last_position = excluded.last_position,
    last_device_id = excluded.last_device_id, last_heartbeat_at = excluded.last_heartbeat_at,
    time_spent = excluded.time_spent, flags = excluded.flags,
    completed_at = COALESCE(video_progress.completed_at, excluded.completed_at), updated_at = excluded.updated_at
""")


WRITE_PROGRESS = text("""
INSERT INTO student_progress (id, tenant_id, student_id, lesson_id, completion_percent, average_score,
                              total_time_spent, status, started_at, completed_at, updated_at)
SELECT i, CAST(:tenant_id AS uuid), s, l, c, a, t, st, sa, ca, u
FROM unnest(CAST(:id AS uuid[]), CAST(:student_id AS uuid[]), CAST(:lesson_id AS uuid[]),
            CAST(:completion_percent AS numeric[]), CAST(:average_score AS numeric[]),
            CAST(:total_time_spent AS integer[]), CAST(:status AS text[]), CAST(:started_at AS timestamptz[]),
            CAST(:completed_at AS timestamptz[]), CAST(:updated_at AS timestamptz[])) AS rows(i, s, l, c, a, t, st, sa, ca, u)
ON CONFLICT (student_id, lesson_id) DO UPDATE SET
    completion_percent = excluded.completion_percent, average_score = excluded.average_score,
    total_time_spent = excluded.total_time_spent, status = excluded.status, started_at = excluded.started_at,
    completed_at = excluded.completed_at, updated_at = excluded.updated_at
""")
WRITE_ANNOUNCEMENTS = text("""
INSERT INTO lesson_announcements (student_id, lesson_id, tenant_id, completion_percent, status, announced_at)
SELECT s, l, CAST(:tenant_id AS uuid), c, st, a
FROM unnest(CAST(:student_id AS uuid[]), CAST(:lesson_id AS uuid[]), CAST(:completion_percent AS numeric[]),
            CAST(:status AS text[]), CAST(:announced_at AS timestamptz[])) AS rows(s, l, c, st, a)
ON CONFLICT (student_id, lesson_id) DO UPDATE SET
    completion_percent = excluded.completion_percent, status = excluded.status, announced_at = excluded.announced_at
""")


def _columns(rows: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """Rows as one array per column, for an ``unnest`` insert."""
    return {key: [row[key] for row in rows] for key in rows[0]}


def session_id(student_id: uuid.UUID, device_id: str) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"session:{student_id}:{device_id}")


def progress_id(student_id: uuid.UUID, lesson_id: uuid.UUID) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"progress:{student_id}:{lesson_id}")


def state_of(row: Any) -> VideoState:
    return VideoState(watched=tuple((float(s), float(e)) for s, e in row.watched or []),
                      last_position=row.last_position, last_heartbeat_at=row.last_heartbeat_at,
                      time_spent=row.time_spent, flags=row.flags, completed_at=row.completed_at)


async def load_world(session: AsyncSession, *, video_ids: Iterable[uuid.UUID] = (),
                     lesson_ids: Iterable[uuid.UUID] = (), students: Iterable[uuid.UUID]) -> World:
    """The lessons of the given videos and lessons, with what the given students settled in them."""
    world = World()
    vids = orm.videos
    lesson_ids = set(lesson_ids)
    if video_ids:
        for row in (await session.execute(select(vids).where(vids.c.id.in_(set(video_ids))))).all():
            world.videos[row.id] = row
            lesson_ids.add(row.lesson_id)
    if not lesson_ids:
        return world
    lessons = {row.id: row for row in (await session.execute(
        select(orm.lessons).where(orm.lessons.c.id.in_(lesson_ids)))).all()}
    all_videos = (await session.execute(select(vids).where(vids.c.lesson_id.in_(lesson_ids)))).all()
    for row in all_videos:
        world.videos[row.id] = row
    m, q = orm.milestones, orm.questions
    required = (await session.execute(
        select(m.c.id, m.c.video_id, m.c.timestamp, func.count(q.c.id).label("questions"))
        .join(q, and_(q.c.milestone_id == m.c.id, q.c.approved))
        .where(m.c.lesson_id.in_(lesson_ids), m.c.is_required, ~m.c.deleted)
        .group_by(m.c.id))).all()
    by_video: dict[uuid.UUID, list[Any]] = defaultdict(list)
    for row in required:
        by_video[row.video_id].append(row)
    for lesson_id in lesson_ids:
        row = lessons.get(lesson_id)
        if row is None:
            continue
        order = list(row.video_ids or [])
        # A published version's videos count even when deleted from the draft since (students still
        # play them); without one, the draft's videos are all there is.
        videos = [world.videos[v] for v in order if v in world.videos] or sorted(
            (v for v in all_videos if v.lesson_id == lesson_id and not v.deleted), key=lambda v: str(v.id))
        world.lessons[lesson_id] = LessonPlan(row, videos, {v.id: by_video.get(v.id, []) for v in videos})
    if required:
        r = orm.question_results
        settled = (await session.execute(
            select(r.c.student_id, r.c.milestone_id, func.count().label("settled"))
            .join(q, and_(q.c.id == r.c.question_id, q.c.approved))
            .where(r.c.student_id.in_(set(students)), r.c.milestone_id.in_([row.id for row in required]),
                   r.c.settled)
            .group_by(r.c.student_id, r.c.milestone_id))).all()
        world.settled = {(row.student_id, row.milestone_id): row.settled for row in settled}
    return world


class Catalogue:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def world(self, *, video_ids: Iterable[uuid.UUID] = (), lesson_ids: Iterable[uuid.UUID] = (),
                    students: Iterable[uuid.UUID]) -> World:
        return await load_world(self.session, video_ids=video_ids, lesson_ids=lesson_ids, students=students)


class VideoProgress:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def states(self, keys: set[Pair]) -> VideoStates:
        """(student, video) → its state, of the keys that have one."""
        v = orm.video_progress
        rows = (await self.session.execute(select(v).where(tuple_(v.c.student_id, v.c.video_id).in_(list(keys))))).all()
        return {(row.student_id, row.video_id): (state_of(row), None) for row in rows}

    async def of(self, students: Iterable[uuid.UUID], video_ids: Iterable[uuid.UUID]) -> dict[Pair, VideoState]:
        vp = orm.video_progress
        return {(row.student_id, row.video_id): state_of(row) for row in (await self.session.execute(
            select(vp).where(vp.c.student_id.in_(set(students)), vp.c.video_id.in_(list(video_ids))))).all()}

    async def write(self, tenant_id: uuid.UUID, states: VideoStates) -> None:
        """One statement for the batch; ``completed_at`` once set is kept."""
        if not states:
            return
        columns: dict[str, list[Any]] = defaultdict(list)
        for (student, video), (state, (device, at, lesson_id)) in states.items():
            columns["student_id"].append(student)
            columns["video_id"].append(video)
            columns["lesson_id"].append(lesson_id)
            columns["watched"].append(json.dumps([list(r) for r in state.watched]))
            columns["watched_seconds"].append(measure(state.watched))
            columns["last_position"].append(state.last_position)
            columns["last_device_id"].append(device)
            columns["last_heartbeat_at"].append(state.last_heartbeat_at)
            columns["time_spent"].append(state.time_spent)
            columns["flags"].append(state.flags)
            columns["completed_at"].append(state.completed_at)
            columns["updated_at"].append(at)
        await self.session.execute(WRITE_VIDEOS, {"tenant_id": tenant_id, **columns})

    async def mark_completed(self, student_id: uuid.UUID, video_id: uuid.UUID, at: datetime) -> None:
        vp = orm.video_progress
        await self.session.execute(vp.update().where(vp.c.student_id == student_id, vp.c.video_id == video_id)
                                   .values(completed_at=at))


class Sessions:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def write(self, rows: list[dict[str, Any]]) -> None:
        """Upserts each device's session if newer; activity after the session was ended opens it again."""
        if not rows:
            return
        s = orm.student_sessions
        statement = insert(s).values(rows)
        new = statement.excluded
        await self.session.execute(statement.on_conflict_do_update(
            index_elements=[s.c.student_id, s.c.device_id],
            set_={"user_agent": func.coalesce(new.user_agent, s.c.user_agent), "last_seen_at": new.last_seen_at,
                  "current_lesson_id": new.current_lesson_id, "current_video_id": new.current_video_id,
                  "position": new.position,
                  # activity after the session was ended opens it again
                  "started_at": text("CASE WHEN progress.student_sessions.ended_at IS NOT NULL "
                                     "THEN excluded.started_at ELSE progress.student_sessions.started_at END"),
                  "ended_at": None},
            where=s.c.last_seen_at <= new.last_seen_at))

    async def get(self, session_id: uuid.UUID, *, student_id: uuid.UUID, lock: bool = False) -> StudentSession | None:
        s = orm.student_sessions
        query = select(s).where(s.c.id == session_id, s.c.student_id == student_id)
        row = (await self.session.execute(query.with_for_update() if lock else query)).first()
        return None if row is None else session_of(row)

    async def end(self, session_id: uuid.UUID, at: datetime) -> None:
        s = orm.student_sessions
        await self.session.execute(s.update().where(s.c.id == session_id).values(ended_at=at))


def session_of(row: Any) -> StudentSession:
    return StudentSession(id=row.id, student_id=row.student_id, device_id=row.device_id, user_agent=row.user_agent,
                          started_at=row.started_at, last_seen_at=row.last_seen_at,
                          current_lesson_id=row.current_lesson_id, current_video_id=row.current_video_id,
                          position=row.position, ended_at=row.ended_at)


class Results:
    """Graded answers and lesson grades, as assessment announced them."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def record_attempt(self, tenant_id: uuid.UUID, data: assessment.AttemptGraded) -> None:
        """A question once settled stays settled; the best score is kept; time spent adds up."""
        r = orm.question_results
        spent = data.time_taken_ms or 0
        statement = insert(r).values(
            student_id=data.student_id, question_id=data.question_id, tenant_id=tenant_id,
            milestone_id=data.milestone_id, lesson_id=data.lesson_id, settled=data.milestone_answered,
            best_score=data.score, max_score=data.max_score, time_spent_ms=spent, updated_at=data.answered_at)
        await self.session.execute(statement.on_conflict_do_update(
            index_elements=[r.c.student_id, r.c.question_id],
            set_={"settled": r.c.settled | statement.excluded.settled,
                  "best_score": func.greatest(r.c.best_score, statement.excluded.best_score),
                  "time_spent_ms": r.c.time_spent_ms + spent,
                  "updated_at": func.greatest(r.c.updated_at, statement.excluded.updated_at)}))

    async def record_override(self, tenant_id: uuid.UUID, data: assessment.AttemptScoreOverridden) -> None:
        # The event's best_score is assessment's best over all the student's attempts with the new
        # score in place, so it replaces ours (an override may lower it, which GREATEST could not
        # follow); settled and time spent are the grading's and do not change.
        r = orm.question_results
        statement = insert(r).values(
            student_id=data.student_id, question_id=data.question_id, tenant_id=tenant_id,
            milestone_id=data.milestone_id, lesson_id=data.lesson_id, settled=False,
            best_score=data.best_score, max_score=data.max_score, time_spent_ms=0, updated_at=data.overridden_at)
        await self.session.execute(statement.on_conflict_do_update(
            index_elements=[r.c.student_id, r.c.question_id],
            set_={"best_score": statement.excluded.best_score, "max_score": statement.excluded.max_score,
                  "updated_at": func.greatest(r.c.updated_at, statement.excluded.updated_at)}))

    async def record_lesson_grade(self, tenant_id: uuid.UUID, data: assessment.LessonGraded) -> None:
        """The newest grade of a student's lesson (an older one arriving late changes nothing)."""
        # The lesson score is assessment's (its one definition): taken as it is, never recomputed here.
        s = orm.lesson_scores
        statement = insert(s).values(student_id=data.student_id, lesson_id=data.lesson_id,
                                     tenant_id=tenant_id, percent=data.percent, passed=data.passed,
                                     updated_at=data.graded_at)
        await self.session.execute(statement.on_conflict_do_update(
            index_elements=[s.c.student_id, s.c.lesson_id],
            set_={"percent": statement.excluded.percent, "passed": statement.excluded.passed,
                  "updated_at": statement.excluded.updated_at},
            where=s.c.updated_at <= statement.excluded.updated_at))

    async def answering_ms(self, students: set[uuid.UUID], lesson_ids: set[uuid.UUID]) -> dict[Pair, int]:
        """(student, lesson) → milliseconds spent answering its approved questions."""
        r, q = orm.question_results, orm.questions
        return {(row.student_id, row.lesson_id): row.answering_ms or 0 for row in (await self.session.execute(
            select(r.c.student_id, r.c.lesson_id, func.sum(r.c.time_spent_ms).label("answering_ms"))
            .join(q, and_(q.c.id == r.c.question_id, q.c.approved))
            .where(r.c.student_id.in_(students), r.c.lesson_id.in_(lesson_ids))
            .group_by(r.c.student_id, r.c.lesson_id))).all()}

    async def lesson_grades(self, students: set[uuid.UUID], lesson_ids: set[uuid.UUID]) -> dict[Pair, Any]:
        """(student, lesson) → the lesson grade's percent."""
        ls = orm.lesson_scores
        return {(row.student_id, row.lesson_id): row.percent for row in (await self.session.execute(
            select(ls.c.student_id, ls.c.lesson_id, ls.c.percent)
            .where(ls.c.student_id.in_(students), ls.c.lesson_id.in_(lesson_ids)))).all()}


class LessonProgresses:
    """Students' progress in lessons, and what was last announced of it."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def locked(self, students: set[uuid.UUID], lesson_ids: set[uuid.UUID]) -> dict[Pair, LessonProgress]:
        sp = orm.student_progress
        return {(row.student_id, row.lesson_id): LessonProgress(
            row.student_id, row.lesson_id, row.completion_percent, row.average_score, row.total_time_spent,
            row.status, row.started_at, row.completed_at, row.updated_at) for row in (await self.session.execute(
                select(sp).where(sp.c.student_id.in_(students), sp.c.lesson_id.in_(lesson_ids))
                .with_for_update())).all()}

    async def announced(self, students: set[uuid.UUID], lesson_ids: set[uuid.UUID]) -> dict[Pair, Announced]:
        a = orm.lesson_announcements
        return {(row.student_id, row.lesson_id): Announced(row.completion_percent, row.status, row.announced_at)
                for row in (await self.session.execute(
                    select(a).where(a.c.student_id.in_(students), a.c.lesson_id.in_(lesson_ids))
                    .with_for_update())).all()}

    async def write(self, tenant_id: uuid.UUID, rows: list[LessonProgress]) -> None:
        if not rows:
            return
        await self.session.execute(WRITE_PROGRESS, {"tenant_id": tenant_id, **_columns([
            {"id": progress_id(p.student_id, p.lesson_id), "student_id": p.student_id, "lesson_id": p.lesson_id,
             "completion_percent": p.completion_percent, "average_score": p.average_score,
             "total_time_spent": p.total_time_spent, "status": p.status, "updated_at": p.updated_at,
             "started_at": p.started_at, "completed_at": p.completed_at} for p in rows])})

    async def write_announced(self, tenant_id: uuid.UUID, announced: Mapping[Pair, Announced]) -> None:
        if not announced:
            return
        await self.session.execute(WRITE_ANNOUNCEMENTS, {"tenant_id": tenant_id, **_columns([
            {"student_id": student, "lesson_id": lesson, "completion_percent": a.completion_percent,
             "status": a.status, "announced_at": a.announced_at} for (student, lesson), a in announced.items()])})

    async def notify(self, tenant_id: uuid.UUID, pairs: list[Pair], *, urgent: bool = False) -> None:
        """Tells the live streams (live.py) which students' lessons changed; sent on commit. ``urgent``:
        read at once, not coalesced (a person's act, not playback)."""
        if not pairs:
            return
        notices = [json.dumps({"tenant_id": str(tenant_id), "student_id": str(student), "lesson_id": str(lesson),
                               **({"urgent": True} if urgent else {})})
                   for student, lesson in pairs]
        await self.session.execute(text("SELECT pg_notify(:channel, n) FROM unnest(CAST(:notices AS text[])) n"),
                                   {"channel": NOTIFY_CHANNEL, "notices": notices})


class PersonalData:
    """Everything progress keeps about one person, for their data export (issue 16): their viewing
    sessions (devices, user agents, where each stood), their progress per video (watched ranges, last
    position and device: where it resumes) and per lesson, their graded results and lesson scores, and
    the name progress shows for them."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def of(self, user_id: uuid.UUID) -> dict[str, list[dict[str, Any]]]:
        tables = {
            "sessions": (orm.student_sessions, orm.student_sessions.c.student_id, orm.student_sessions.c.started_at),
            "video_progress": (orm.video_progress, orm.video_progress.c.student_id, orm.video_progress.c.updated_at),
            "lesson_progress": (orm.student_progress, orm.student_progress.c.student_id,
                                orm.student_progress.c.updated_at),
            "question_results": (orm.question_results, orm.question_results.c.student_id,
                                 orm.question_results.c.updated_at),
            "lesson_scores": (orm.lesson_scores, orm.lesson_scores.c.student_id, orm.lesson_scores.c.updated_at),
            "display_names": (orm.display_names, orm.display_names.c.user_id, orm.display_names.c.updated_at),
        }
        found: dict[str, list[dict[str, Any]]] = {}
        for name, (table, person, order) in tables.items():
            rows = (await self.session.execute(select(table).where(person == user_id).order_by(order))).all()
            found[name] = [{k: v for k, v in row._mapping.items() if k != "tenant_id"} for row in rows]
        return found

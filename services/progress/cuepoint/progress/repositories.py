"""The SQL progress's use cases work through: the catalogue they project against, students'
video and lesson progress, sessions, graded answers, and the announcements' throttle state.

The playback path writes a whole batch per statement (arrays unnested server-side, no per-row SQL
to build): see docs/decisions/0003. Its fakes are in tests/unit/fakes.py.
"""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, text, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from cuepoint.contracts import assessment
from cuepoint.runtime.db import pipelined

from . import orm
from .domain.announcements import Announced
from .domain.catalogue import LessonPlan, World
from .domain.inputs import ProgressInputs
from .domain.intervals import measure
from .domain.playback import VideoState
from .domain.progress import LessonProgress
from .domain.sessions import StudentSession
from .live import NOTIFY_CHANNEL

NAMESPACE = uuid.UUID("9a4e1f0c-5b7d-4c1e-9f3a-2d6b8e0c4a17")
Pair = tuple[uuid.UUID, uuid.UUID]
Write = tuple[str, Mapping[str, Any]]
"""A statement and its parameters (psycopg's ``%(name)s``), sent in a round trip with others (db.pipelined)."""
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


WRITE_PROGRESS = """
INSERT INTO progress.student_progress (id, tenant_id, student_id, lesson_id, completion_percent, average_score,
                              total_time_spent, status, started_at, completed_at, updated_at)
SELECT i, CAST(%(tenant_id)s AS uuid), s, l, c, a, t, st, sa, ca, u
FROM unnest(CAST(%(id)s AS uuid[]), CAST(%(student_id)s AS uuid[]), CAST(%(lesson_id)s AS uuid[]),
            CAST(%(completion_percent)s AS numeric[]), CAST(%(average_score)s AS numeric[]),
            CAST(%(total_time_spent)s AS integer[]), CAST(%(status)s AS text[]), CAST(%(started_at)s AS timestamptz[]),
            CAST(%(completed_at)s AS timestamptz[]), CAST(%(updated_at)s AS timestamptz[])) AS rows(i, s, l, c, a, t, st, sa, ca, u)
ON CONFLICT (student_id, lesson_id) DO UPDATE SET
    completion_percent = excluded.completion_percent, average_score = excluded.average_score,
    total_time_spent = excluded.total_time_spent, status = excluded.status, started_at = excluded.started_at,
    completed_at = excluded.completed_at, updated_at = excluded.updated_at
"""
WRITE_ANNOUNCEMENTS = """
INSERT INTO progress.lesson_announcements (student_id, lesson_id, tenant_id, completion_percent, status, announced_at)
SELECT s, l, CAST(%(tenant_id)s AS uuid), c, st, a
FROM unnest(CAST(%(student_id)s AS uuid[]), CAST(%(lesson_id)s AS uuid[]), CAST(%(completion_percent)s AS numeric[]),
            CAST(%(status)s AS text[]), CAST(%(announced_at)s AS timestamptz[])) AS rows(s, l, c, st, a)
ON CONFLICT (student_id, lesson_id) DO UPDATE SET
    completion_percent = excluded.completion_percent, status = excluded.status, announced_at = excluded.announced_at
"""


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


# The catalogue's reads, by lesson (%(lessons)s) and student (%(students)s), sent together (pipelined).
WORLD_READS = {
    "lessons": "SELECT * FROM progress.lessons WHERE id = ANY(%(lessons)s)",
    "videos": "SELECT * FROM progress.videos WHERE lesson_id = ANY(%(lessons)s)",
    # required milestones that count: those with approved questions
    "required": """SELECT m.id, m.video_id, m.timestamp, count(q.id) AS questions FROM progress.milestones m
                   JOIN progress.questions q ON q.milestone_id = m.id AND q.approved
                   WHERE m.lesson_id = ANY(%(lessons)s) AND m.is_required AND NOT m.deleted GROUP BY m.id""",
    # of those, the approved questions each student settled
    "settled": """SELECT r.student_id, r.milestone_id, count(*) AS settled FROM progress.question_results r
                  JOIN progress.questions q ON q.id = r.question_id AND q.approved
                  JOIN progress.milestones m ON m.id = r.milestone_id
                  WHERE r.student_id = ANY(%(students)s) AND r.settled
                    AND m.lesson_id = ANY(%(lessons)s) AND m.is_required AND NOT m.deleted
                  GROUP BY r.student_id, r.milestone_id""",
}
# What refreshing students' lesson progress reads besides the catalogue; the rows it rewrites are locked.
RECORD_ATTEMPT = """
INSERT INTO progress.question_results AS r (student_id, question_id, tenant_id, milestone_id, lesson_id, settled,
                                            best_score, max_score, time_spent_ms, updated_at)
VALUES (%(student_id)s, %(question_id)s, %(tenant_id)s, %(milestone_id)s, %(lesson_id)s, %(settled)s,
        %(best_score)s, %(max_score)s, %(time_spent_ms)s, %(updated_at)s)
ON CONFLICT (student_id, question_id) DO UPDATE SET
    settled = r.settled OR EXCLUDED.settled, best_score = GREATEST(r.best_score, EXCLUDED.best_score),
    time_spent_ms = r.time_spent_ms + EXCLUDED.time_spent_ms, updated_at = GREATEST(r.updated_at, EXCLUDED.updated_at)
"""

PROGRESS_READS = {
    "video_states": """SELECT * FROM progress.video_progress WHERE student_id = ANY(%(students)s)
                 AND video_id IN (SELECT id FROM progress.videos WHERE lesson_id = ANY(%(lessons)s))""",
    "answering": """SELECT r.student_id, r.lesson_id, sum(r.time_spent_ms) AS answering_ms FROM progress.question_results r
                    JOIN progress.questions q ON q.id = r.question_id AND q.approved
                    WHERE r.student_id = ANY(%(students)s) AND r.lesson_id = ANY(%(lessons)s)
                    GROUP BY r.student_id, r.lesson_id""",
    "grades": """SELECT student_id, lesson_id, percent FROM progress.lesson_scores
                 WHERE student_id = ANY(%(students)s) AND lesson_id = ANY(%(lessons)s)""",
    "existing": """SELECT * FROM progress.student_progress
                   WHERE student_id = ANY(%(students)s) AND lesson_id = ANY(%(lessons)s) FOR UPDATE""",
    "announced": """SELECT * FROM progress.lesson_announcements
                    WHERE student_id = ANY(%(students)s) AND lesson_id = ANY(%(lessons)s) FOR UPDATE""",
}


async def load_world(session: AsyncSession, *, video_ids: Iterable[uuid.UUID] = (),
                     lesson_ids: Iterable[uuid.UUID] = (), students: Iterable[uuid.UUID]) -> World:
    """The lessons of the given videos and lessons, with what the given students settled in them."""
    lesson_ids = set(lesson_ids)
    if video_ids:
        vids = orm.videos
        lesson_ids |= {row.lesson_id for row in (await session.execute(
            select(vids.c.lesson_id).where(vids.c.id.in_(set(video_ids))))).all()}
    if not lesson_ids:
        return World()
    reads = await pipelined(session, [(sql, {"lessons": list(lesson_ids), "students": list(set(students))})
                                      for sql in WORLD_READS.values()])
    return _world(lesson_ids, *reads)


def _world(lesson_ids: set[uuid.UUID], lessons: list[Any], all_videos: list[Any], required: list[Any],
           settled: list[Any]) -> World:
    world = World()
    by_id = {row.id: row for row in lessons}
    for row in all_videos:
        world.videos[row.id] = row
    by_video: dict[uuid.UUID, list[Any]] = defaultdict(list)
    for row in required:
        by_video[row.video_id].append(row)
    for lesson_id in lesson_ids:
        row = by_id.get(lesson_id)
        if row is None:
            continue
        order = list(row.video_ids or [])
        # A published version's videos count even when deleted from the draft since (students still
        # play them); without one, the draft's videos are all there is.
        videos = [world.videos[v] for v in order if v in world.videos] or sorted(
            (v for v in all_videos if v.lesson_id == lesson_id and not v.deleted), key=lambda v: str(v.id))
        world.lessons[lesson_id] = LessonPlan(row, videos, {v.id: by_video.get(v.id, []) for v in videos})
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

    def attempt(self, tenant_id: uuid.UUID, data: assessment.AttemptGraded) -> Write:
        """The write that records a graded answer, to go first in the round trip of the reads that must see
        it (``LessonProgresses.inputs(first=...)``). A question once settled stays settled; the best score
        is kept; time spent adds up."""
        return (RECORD_ATTEMPT, {
            "student_id": data.student_id, "question_id": data.question_id, "tenant_id": tenant_id,
            "milestone_id": data.milestone_id, "lesson_id": data.lesson_id, "settled": data.milestone_answered,
            "best_score": data.score, "max_score": data.max_score, "time_spent_ms": data.time_taken_ms or 0,
            "updated_at": data.answered_at})

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


class LessonProgresses:
    """Students' progress in lessons, and what was last announced of it."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def inputs(self, students: set[uuid.UUID], lesson_ids: set[uuid.UUID], *, world: World | None,
                     announce: bool, first: Sequence[Write] = ()) -> ProgressInputs:
        """Everything refreshing these students' progress in these lessons reads, in one round trip (the
        catalogue too, unless ``world`` is given); the progress rows and announcements are locked.
        ``first``: writes the reads must see (a graded answer being recorded), sent ahead of them in the
        same round trip."""
        params = {"lessons": list(lesson_ids), "students": list(students)}
        reads = {**({} if world else WORLD_READS), **PROGRESS_READS}
        if not announce:
            del reads["announced"]
        answers = await pipelined(self.session, [*first, *((sql, params) for sql in reads.values())])
        rows = dict(zip(reads, answers[len(first):]))
        if world is None:
            world = _world(lesson_ids, rows.pop("lessons"), rows.pop("videos"), rows.pop("required"),
                           rows.pop("settled"))
        return ProgressInputs(
            world=world,
            videos={(row.student_id, row.video_id): state_of(row) for row in rows["video_states"]},
            answering_ms={(row.student_id, row.lesson_id): row.answering_ms or 0 for row in rows["answering"]},
            grades={(row.student_id, row.lesson_id): row.percent for row in rows["grades"]},
            existing={(row.student_id, row.lesson_id): _lesson_progress(row) for row in rows["existing"]},
            announced={(row.student_id, row.lesson_id): Announced(row.completion_percent, row.status, row.announced_at)
                       for row in rows.get("announced", ())})

    async def save(self, tenant_id: uuid.UUID, rows: list[LessonProgress], announced: Mapping[Pair, Announced],
                   notices: list[Pair], *, urgent: bool = False) -> None:
        """Writes the rows and what was announced, and tells the live streams (live.py) which students'
        lessons changed (sent on commit; ``urgent``: read at once, not coalesced, a person's act rather than
        playback); in one round trip."""
        statements: list[tuple[str, Mapping[str, Any]]] = []
        if rows:
            statements.append((WRITE_PROGRESS, {"tenant_id": tenant_id, **_columns([
                {"id": progress_id(p.student_id, p.lesson_id), "student_id": p.student_id, "lesson_id": p.lesson_id,
                 "completion_percent": p.completion_percent, "average_score": p.average_score,
                 "total_time_spent": p.total_time_spent, "status": p.status, "updated_at": p.updated_at,
                 "started_at": p.started_at, "completed_at": p.completed_at} for p in rows])}))
        if announced:
            statements.append((WRITE_ANNOUNCEMENTS, {"tenant_id": tenant_id, **_columns([
                {"student_id": student, "lesson_id": lesson, "completion_percent": a.completion_percent,
                 "status": a.status, "announced_at": a.announced_at} for (student, lesson), a in announced.items()])}))
        if notices:
            statements.append(("SELECT pg_notify(%(channel)s, n) FROM unnest(CAST(%(notices)s AS text[])) n", {
                "channel": NOTIFY_CHANNEL,
                "notices": [json.dumps({"tenant_id": str(tenant_id), "student_id": str(student), "lesson_id": str(lesson),
                                        **({"urgent": True} if urgent else {})}) for student, lesson in notices]}))
        if statements:
            await pipelined(self.session, statements)


def _lesson_progress(row: Any) -> LessonProgress:
    return LessonProgress(row.student_id, row.lesson_id, row.completion_percent, row.average_score, row.total_time_spent,
                          row.status, row.started_at, row.completed_at, row.updated_at)


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

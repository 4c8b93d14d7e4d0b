"""progress as a projection: content's catalogue, assessment's results, client telemetry
and progress's own session events become sessions, per-video and per-lesson progress.

Times are taken from the events (``received_at``, ``occurred_at``), never from the clock,
so replaying the same events gives the same rows (``rebuild``). Events are emitted only
when live (``emit=True``): a rebuild must not announce old completions again.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import and_, func, select, text, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from cuepoint.contracts import progress as events
from cuepoint.contracts.envelope import Envelope
from cuepoint.runtime.consumer import Handler
from cuepoint.runtime.metrics import TELEMETRY_DROPPED as DROPPED
from cuepoint.runtime.metrics import TELEMETRY_FLAGGED as FLAGGED
from cuepoint.runtime.outbox import Outbox

from . import orm
from .domain.intervals import measure
from .domain.playback import Dropped, VideoRules, VideoState, apply_heartbeat, apply_position, video_completed

log = logging.getLogger(__name__)

PLAYBACK_TYPES = frozenset({"video.play", "video.pause", "video.seek", "video.heartbeat", "video.rate_change",
                            "video.ended"})
NOTIFY_CHANNEL = "cuepoint_progress"
NAMESPACE = uuid.UUID("9a4e1f0c-5b7d-4c1e-9f3a-2d6b8e0c4a17")
PROGRESS_STEP = Decimal(5)  # LessonProgressed when completion moved this much …
PROGRESS_INTERVAL = timedelta(seconds=60)  # … or changed at all after this long
Event = Envelope[Any]


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


def _percent(value: float | Decimal) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


async def _upsert(session: AsyncSession, table: Any, values: dict[str, Any], changes: dict[str, Any]) -> None:
    keys = [column for column in table.primary_key.columns]
    await session.execute(insert(table).values(**values).on_conflict_do_update(
        index_elements=keys, set_=changes, where=table.c.updated_at <= values["updated_at"]))


@dataclass
class _Lesson:
    row: Any
    videos: list[Any]  # rows of videos, in order
    required: dict[uuid.UUID, list[Any]]  # video id → required milestones that have approved questions


@dataclass
class _World:
    """What a batch needs to know, loaded once per batch."""

    lessons: dict[uuid.UUID, _Lesson] = field(default_factory=dict)
    videos: dict[uuid.UUID, Any] = field(default_factory=dict)
    settled: dict[tuple[uuid.UUID, uuid.UUID], int] = field(default_factory=dict)  # (student, milestone) → settled

    def rules(self, student_id: uuid.UUID, video_id: uuid.UUID) -> VideoRules:
        video = self.videos[video_id]
        lesson = self.lessons.get(video.lesson_id)
        gates = tuple(sorted(m.timestamp for m in (lesson.required.get(video_id, []) if lesson else [])
                             if self.settled.get((student_id, m.id), 0) < m.questions))
        return VideoRules(duration=video.duration, seek_policy=lesson.row.seek_policy if lesson else "FREE",
                          gates=gates)


class Projection:
    def __init__(self, outbox: Outbox, *, emit: bool = True) -> None:
        self.outbox = outbox
        self.emit = emit

    # --- content's catalogue ---------------------------------------------------------------------

    async def _lesson(self, session: AsyncSession, envelope: Event, **changes: Any) -> None:
        data = envelope.data
        values = {"id": data.lesson_id, "tenant_id": envelope.tenant_id, "title": "",
                  "created_by_id": getattr(data, "created_by_id", None) or envelope.actor_id,
                  "updated_at": envelope.occurred_at, **changes}
        await _upsert(session, orm.lessons, values, {**changes, "updated_at": envelope.occurred_at})

    def catalog_handlers(self) -> dict[str, Handler]:
        async def lesson_created(session: AsyncSession, envelope: Event) -> None:
            data = envelope.data
            await self._lesson(session, envelope, title=data.title, thumbnail=data.thumbnail,
                               created_by_id=data.created_by_id, seek_policy=data.seek_policy)

        async def lesson_updated(session: AsyncSession, envelope: Event) -> None:
            data = envelope.data
            await self._lesson(session, envelope, title=data.title, thumbnail=data.thumbnail,
                               seek_policy=data.seek_policy)

        async def lesson_published(session: AsyncSession, envelope: Event) -> None:
            data = envelope.data
            await self._lesson(session, envelope, title=data.title, thumbnail=data.thumbnail,
                               created_by_id=data.created_by_id, status="PUBLISHED", video_ids=list(data.video_ids))

        async def lesson_archived(session: AsyncSession, envelope: Event) -> None:
            await self._lesson(session, envelope, status="ARCHIVED")

        async def video_uploaded(session: AsyncSession, envelope: Event) -> None:
            data = envelope.data
            changes = {"lesson_id": data.lesson_id, "duration": data.duration_seconds}
            await _upsert(session, orm.videos, {"id": data.video_id, "tenant_id": envelope.tenant_id,
                                                "updated_at": envelope.occurred_at, **changes},
                          {**changes, "updated_at": envelope.occurred_at})

        async def video_updated(session: AsyncSession, envelope: Event) -> None:
            """Title, chapter and position are the draft's: progress keeps none of them, and students'
            playback order is the published version's (``LessonPublished.video_ids``). Handled (and so
            recorded in the inbox) rather than filtered out, to say that nothing is to be done."""

        async def video_deleted(session: AsyncSession, envelope: Event) -> None:
            # Only marked: a published version holding the video keeps playing it, with its milestones
            # (so those stay too), until a publication leaves it out of ``video_ids``. An update, not an
            # upsert: a cancelled upload that never reached VideoUploaded leaves nothing to mark.
            v = orm.videos
            await session.execute(v.update().where(v.c.id == envelope.data.video_id,
                                                   v.c.updated_at <= envelope.occurred_at)
                                  .values(deleted=True, updated_at=envelope.occurred_at))

        async def milestone_changed(session: AsyncSession, envelope: Event) -> None:
            data = envelope.data
            deleted = envelope.event_type == "content.milestone.deleted.v1"
            changes = {"video_id": data.video_id, "lesson_id": data.lesson_id, "deleted": deleted,
                       "updated_at": envelope.occurred_at}
            if not deleted:
                changes |= {"timestamp": data.timestamp, "is_required": data.is_required}
            await _upsert(session, orm.milestones, {"id": data.milestone_id, "tenant_id": envelope.tenant_id,
                                                    "timestamp": 0.0, "is_required": False, **changes}, changes)

        return {
            "content.lesson.created.v1": lesson_created,
            "content.lesson.updated.v1": lesson_updated,
            "content.lesson.published.v1": lesson_published,
            "content.lesson.archived.v1": lesson_archived,
            "content.video.uploaded.v1": video_uploaded,
            "content.video.updated.v1": video_updated,
            "content.video.deleted.v1": video_deleted,
            "content.milestone.created.v1": milestone_changed,
            "content.milestone.updated.v1": milestone_changed,
            "content.milestone.deleted.v1": milestone_changed,
        }

    # --- assessment's results ----------------------------------------------------------------------

    def assessment_handlers(self) -> dict[str, Handler]:
        async def reviewed(session: AsyncSession, envelope: Event) -> None:
            data = envelope.data
            changes = {"milestone_id": data.milestone_id, "lesson_id": data.lesson_id,
                       "approved": envelope.event_type == "assessment.question.approved.v1",
                       "updated_at": envelope.occurred_at}
            await _upsert(session, orm.questions, {"id": data.question_id, "tenant_id": envelope.tenant_id,
                                                   **changes}, changes)

        async def attempt_graded(session: AsyncSession, envelope: Event) -> None:
            data = envelope.data
            r = orm.question_results
            spent = data.time_taken_ms or 0
            statement = insert(r).values(
                student_id=data.student_id, question_id=data.question_id, tenant_id=envelope.tenant_id,
                milestone_id=data.milestone_id, lesson_id=data.lesson_id, settled=data.milestone_answered,
                best_score=data.score, max_score=data.max_score, time_spent_ms=spent, updated_at=data.answered_at)
            await session.execute(statement.on_conflict_do_update(
                index_elements=[r.c.student_id, r.c.question_id],
                set_={"settled": r.c.settled | statement.excluded.settled,
                      "best_score": func.greatest(r.c.best_score, statement.excluded.best_score),
                      "time_spent_ms": r.c.time_spent_ms + spent,
                      "updated_at": func.greatest(r.c.updated_at, statement.excluded.updated_at)}))
            await self.refresh(session, envelope.tenant_id,
                               {(data.student_id, data.lesson_id): (data.answered_at, data.answered_at)})

        async def score_overridden(session: AsyncSession, envelope: Event) -> None:
            # The event's best_score is assessment's best over all the student's attempts with the new
            # score in place, so it replaces ours (an override may lower it, which GREATEST could not
            # follow); settled and time spent are the grading's and do not change.
            data = envelope.data
            r = orm.question_results
            statement = insert(r).values(
                student_id=data.student_id, question_id=data.question_id, tenant_id=envelope.tenant_id,
                milestone_id=data.milestone_id, lesson_id=data.lesson_id, settled=False,
                best_score=data.best_score, max_score=data.max_score, time_spent_ms=0, updated_at=data.overridden_at)
            await session.execute(statement.on_conflict_do_update(
                index_elements=[r.c.student_id, r.c.question_id],
                set_={"best_score": statement.excluded.best_score, "max_score": statement.excluded.max_score,
                      "updated_at": func.greatest(r.c.updated_at, statement.excluded.updated_at)}))
            await self.refresh(session, envelope.tenant_id,
                               {(data.student_id, data.lesson_id): (data.overridden_at, data.overridden_at)})

        async def lesson_graded(session: AsyncSession, envelope: Event) -> None:
            # The lesson score is assessment's (its one definition): taken as it is, never recomputed here.
            data = envelope.data
            s = orm.lesson_scores
            statement = insert(s).values(student_id=data.student_id, lesson_id=data.lesson_id,
                                         tenant_id=envelope.tenant_id, percent=data.percent, passed=data.passed,
                                         updated_at=data.graded_at)
            await session.execute(statement.on_conflict_do_update(
                index_elements=[s.c.student_id, s.c.lesson_id],
                set_={"percent": statement.excluded.percent, "passed": statement.excluded.passed,
                      "updated_at": statement.excluded.updated_at},
                where=s.c.updated_at <= statement.excluded.updated_at))
            await self.refresh(session, envelope.tenant_id,
                               {(data.student_id, data.lesson_id): (data.graded_at, data.graded_at)})

        return {
            "assessment.lesson.graded.v1": lesson_graded,
            "assessment.question.approved.v1": reviewed,
            "assessment.question.rejected.v1": reviewed,
            "assessment.attempt.graded.v1": attempt_graded,
            "assessment.attempt.score_overridden.v1": score_overridden,
        }

    # --- progress's own events ----------------------------------------------------------------------

    def own_handlers(self) -> dict[str, Handler]:
        async def session_ended(session: AsyncSession, envelope: Event) -> None:
            data = envelope.data
            s = orm.student_sessions
            await session.execute(s.update().where(s.c.id == data.session_id, s.c.last_seen_at <= data.ended_at)
                                  .values(ended_at=data.ended_at))

        return {"progress.session.ended.v1": session_ended, "progress.session.ended.v2": session_ended}

    # --- playback telemetry (batched) ---------------------------------------------------------------

    async def playback(self, session: AsyncSession, envelopes: list[Event]) -> None:
        """One tenant's new client events of a polled batch, in partition order."""
        playback = [e for e in envelopes if e.data.event.type in PLAYBACK_TYPES]
        if not playback:
            return
        tenant_id = playback[0].tenant_id
        world = await self.load(session, video_ids={e.data.event.video_id for e in playback},
                                 students={e.data.user_id for e in playback})
        states = await self._video_states(session, {(e.data.user_id, e.data.event.video_id) for e in playback})
        sessions: dict[tuple[uuid.UUID, str], dict[str, Any]] = {}
        touched: dict[tuple[uuid.UUID, uuid.UUID], tuple[datetime, datetime]] = {}
        rules_by_key: dict[tuple[uuid.UUID, uuid.UUID], VideoRules] = {}
        for envelope in playback:
            record, event = envelope.data, envelope.data.event
            video = world.videos.get(event.video_id)
            if video is None:
                DROPPED.labels("unknown_video").inc()
                continue
            if video.lesson_id != event.lesson_id:
                DROPPED.labels("video_not_in_lesson").inc()
                continue
            key = (record.user_id, event.video_id)
            rules = rules_by_key.get(key) or rules_by_key.setdefault(key, world.rules(*key))  # fixed within a batch
            current = states.get(key, (VideoState(), None))[0]
            at = record.received_at
            try:
                if event.type == "video.heartbeat":
                    outcome = apply_heartbeat(current, rules, position=event.position,
                                              played=[(r.start, r.end) for r in event.played],
                                              rate=event.playback_rate, at=at)
                else:
                    outcome = apply_position(current, rules, position=event.position, at=at)
            except Dropped as dropped:
                DROPPED.labels(dropped.reason).inc()
                continue
            for reason in outcome.flagged:
                FLAGGED.labels(reason).inc()
            if current.completed_at is None and outcome.state.completed_at is not None:
                await self._publish(session, tenant_id, record.user_id, events.VideoCompleted(
                    student_id=record.user_id, video_id=event.video_id, lesson_id=video.lesson_id, completed_at=at))
            states[key] = (outcome.state, (record.device_id, at, video.lesson_id))
            device = (record.user_id, record.device_id)
            sessions[device] = {
                "id": session_id(*device), "tenant_id": tenant_id, "student_id": record.user_id,
                "device_id": record.device_id, "user_agent": record.user_agent,
                "started_at": sessions[device]["started_at"] if device in sessions else at, "last_seen_at": at,
                "current_lesson_id": event.lesson_id, "current_video_id": event.video_id,
                "position": outcome.state.last_position}
            pair = (record.user_id, video.lesson_id)
            touched[pair] = (touched[pair][0] if pair in touched else at, at)
        await self._write_videos(session, tenant_id, {k: v for k, v in states.items() if v[1] is not None})
        await self._write_sessions(session, list(sessions.values()))
        if touched:
            await self.refresh(session, tenant_id, touched, world=world)

    async def _video_states(self, session: AsyncSession, keys: set[tuple[uuid.UUID, uuid.UUID]]
                            ) -> dict[tuple[uuid.UUID, uuid.UUID], tuple[VideoState, Any]]:
        v = orm.video_progress
        rows = (await session.execute(select(v).where(tuple_(v.c.student_id, v.c.video_id).in_(list(keys))))).all()
        return {(row.student_id, row.video_id): (state_of(row), None) for row in rows}

    async def _write_videos(self, session: AsyncSession, tenant_id: uuid.UUID,
                            states: dict[tuple[uuid.UUID, uuid.UUID], tuple[VideoState, Any]]) -> None:
        """One statement for the batch (arrays unnested server-side: no per-row SQL to build)."""
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
        await session.execute(WRITE_VIDEOS, {"tenant_id": tenant_id, **columns})

    async def _write_sessions(self, session: AsyncSession, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        s = orm.student_sessions
        statement = insert(s).values(rows)
        new = statement.excluded
        await session.execute(statement.on_conflict_do_update(
            index_elements=[s.c.student_id, s.c.device_id],
            set_={"user_agent": func.coalesce(new.user_agent, s.c.user_agent), "last_seen_at": new.last_seen_at,
                  "current_lesson_id": new.current_lesson_id, "current_video_id": new.current_video_id,
                  "position": new.position,
                  # activity after the session was ended opens it again
                  "started_at": text("CASE WHEN progress.student_sessions.ended_at IS NOT NULL "
                                     "THEN excluded.started_at ELSE progress.student_sessions.started_at END"),
                  "ended_at": None},
            where=s.c.last_seen_at <= new.last_seen_at))

    # --- lesson progress -------------------------------------------------------------------------------

    async def load(self, session: AsyncSession, *, video_ids: Iterable[uuid.UUID] = (),
                    lesson_ids: Iterable[uuid.UUID] = (), students: Iterable[uuid.UUID]) -> _World:
        world = _World()
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
            world.lessons[lesson_id] = _Lesson(row, videos, {v.id: by_video.get(v.id, []) for v in videos})
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

    async def refresh(self, session: AsyncSession, tenant_id: uuid.UUID,
                      touched: dict[tuple[uuid.UUID, uuid.UUID], tuple[datetime, datetime]], *,
                      world: _World | None = None) -> None:
        """Recompute the touched students' lesson progress from the whole state (so the result does not
        depend on how events were batched); ``touched`` maps (student, lesson) to its first and last event time."""
        students = {student for student, _ in touched}
        lesson_ids = {lesson for _, lesson in touched}
        if world is None or not lesson_ids <= set(world.lessons):
            world = await self.load(session, lesson_ids=lesson_ids, students=students)
        video_ids = [v.id for lesson in world.lessons.values() for v in lesson.videos]
        vp = orm.video_progress
        videos = {(row.student_id, row.video_id): row for row in (await session.execute(
            select(vp).where(vp.c.student_id.in_(students), vp.c.video_id.in_(video_ids)))).all()}
        r = orm.question_results
        q = orm.questions
        scores = {(row.student_id, row.lesson_id): row for row in (await session.execute(
            select(r.c.student_id, r.c.lesson_id, func.sum(r.c.time_spent_ms).label("answering_ms"))
            .join(q, and_(q.c.id == r.c.question_id, q.c.approved))
            .where(r.c.student_id.in_(students), r.c.lesson_id.in_(lesson_ids))
            .group_by(r.c.student_id, r.c.lesson_id))).all()}
        ls = orm.lesson_scores
        graded = {(row.student_id, row.lesson_id): row.percent for row in (await session.execute(
            select(ls.c.student_id, ls.c.lesson_id, ls.c.percent)
            .where(ls.c.student_id.in_(students), ls.c.lesson_id.in_(lesson_ids)))).all()}
        sp = orm.student_progress
        existing = {(row.student_id, row.lesson_id): row for row in (await session.execute(
            select(sp).where(sp.c.student_id.in_(students), sp.c.lesson_id.in_(lesson_ids)).with_for_update())).all()}
        announced: dict[tuple[uuid.UUID, uuid.UUID], Any] = {}
        if self.emit:
            a = orm.lesson_announcements
            announced = {(row.student_id, row.lesson_id): row for row in (await session.execute(
                select(a).where(a.c.student_id.in_(students), a.c.lesson_id.in_(lesson_ids)).with_for_update())).all()}
        notices: list[str] = []
        rows: list[dict[str, Any]] = []
        announcements: list[dict[str, Any]] = []
        for (student, lesson_id), (first, last) in sorted(touched.items(), key=lambda i: (str(i[0][0]), str(i[0][1]))):
            lesson = world.lessons.get(lesson_id)
            if lesson is None:
                continue
            units, earned, watch_seconds, finished = 0, 0.0, 0.0, []
            for video in lesson.videos:
                row = videos.get((student, video.id))
                state = state_of(row) if row else VideoState()
                rules = world.rules(student, video.id)
                watch_seconds += state.time_spent
                required = lesson.required.get(video.id, [])
                units += 1 + len(required)
                earned += state.coverage(video.duration) + sum(
                    world.settled.get((student, m.id), 0) >= m.questions for m in required)
                if state.completed_at is None and video_completed(state, rules):
                    # Completed by an answer (the video was watched already): the answer's time.
                    state = replace(state, completed_at=last)
                    await session.execute(vp.update().where(vp.c.student_id == student, vp.c.video_id == video.id)
                                          .values(completed_at=last))
                    await self._publish(session, tenant_id, student, events.VideoCompleted(
                        student_id=student, video_id=video.id, lesson_id=lesson_id, completed_at=last))
                finished.append(state.completed_at)
            all_done = bool(finished) and None not in finished
            score = scores.get((student, lesson_id))
            completion = Decimal(100) if all_done else min(Decimal("99.00"), _percent(100 * earned / max(units, 1)))
            before = existing.get((student, lesson_id))
            # The lesson grade's percent (assessment's LessonGraded): the one score the student is shown. Without
            # one yet, the score stays what it was (progress made before grades were announced keeps its score).
            average = _percent(graded[(student, lesson_id)]) if (student, lesson_id) in graded else (
                before.average_score if before is not None else None)
            answering = float(score.answering_ms or 0) / 1000 if score is not None else 0.0
            spent = int(watch_seconds + answering)
            status = "COMPLETED" if all_done else ("IN_PROGRESS" if completion > 0 or spent > 0 else "NOT_STARTED")
            values = {"completion_percent": completion, "average_score": average, "total_time_spent": spent,
                      "status": status, "updated_at": last,
                      "started_at": min(first, before.started_at) if before and before.started_at else first,
                      "completed_at": max(finished) if all_done else None}
            if before is not None and before.status == "COMPLETED" and not all_done:
                # Completion is never taken back (e.g. a required milestone added after the fact).
                values.update(status="COMPLETED", completion_percent=Decimal(100), completed_at=before.completed_at)
            rows.append({"id": progress_id(student, lesson_id), "student_id": student, "lesson_id": lesson_id,
                         **values})
            if self.emit:
                await self._announce(session, tenant_id, student, lesson_id, values, before, last,
                                     announced.get((student, lesson_id)), announcements)
            notices.append(json.dumps({"tenant_id": str(tenant_id), "student_id": str(student),
                                       "lesson_id": str(lesson_id)}))
        if rows:
            await session.execute(WRITE_PROGRESS, {"tenant_id": tenant_id, **_columns(rows)})
        if announcements:
            await session.execute(WRITE_ANNOUNCEMENTS, {"tenant_id": tenant_id, **_columns(announcements)})
        if notices:
            await session.execute(text("SELECT pg_notify(:channel, n) FROM unnest(CAST(:notices AS text[])) n"),
                                  {"channel": NOTIFY_CHANNEL, "notices": notices})

    async def _announce(self, session: AsyncSession, tenant_id: uuid.UUID, student: uuid.UUID,
                        lesson_id: uuid.UUID, values: dict[str, Any], before: Any, at: datetime, last: Any,
                        announcements: list[dict[str, Any]]) -> None:
        """LessonProgressed, throttled: on a status change, a 5-point move, or any change after a minute;
        LessonCompleted once."""
        completion, status = values["completion_percent"], values["status"]
        # A new score is announced at once: the dashboards' average scores follow it.
        rescored = before is not None and before.average_score != values["average_score"]
        if last is None or status != last.status or abs(completion - last.completion_percent) >= PROGRESS_STEP or (
                completion != last.completion_percent and at - last.announced_at >= PROGRESS_INTERVAL) or rescored:
            await self._publish(session, tenant_id, student, events.LessonProgressed(
                student_id=student, lesson_id=lesson_id, completion_percent=completion,
                average_score=values["average_score"], total_time_spent=values["total_time_spent"], status=status))
            announcements.append({"student_id": student, "lesson_id": lesson_id, "completion_percent": completion,
                                  "status": status, "announced_at": at})
        if status == "COMPLETED" and (before is None or before.status != "COMPLETED"):
            await self._publish(session, tenant_id, student, events.LessonCompleted(
                student_id=student, lesson_id=lesson_id, completion_percent=completion,
                average_score=values["average_score"], total_time_spent=values["total_time_spent"],
                completed_at=values["completed_at"]))

    async def _publish(self, session: AsyncSession, tenant_id: uuid.UUID, student_id: uuid.UUID, event: Any) -> None:
        if self.emit:
            await self.outbox.emit(session, event, tenant_id=tenant_id, actor_id=student_id)


def state_of(row: Any) -> VideoState:
    return VideoState(watched=tuple((float(s), float(e)) for s, e in row.watched or []),
                      last_position=row.last_position, last_heartbeat_at=row.last_heartbeat_at,
                      time_spent=row.time_spent, flags=row.flags, completed_at=row.completed_at)

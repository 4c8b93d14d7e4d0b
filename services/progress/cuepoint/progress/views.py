"""progress's read side: sessions, resume, progress, the student dashboard, and who may follow a
lesson live, answered as response schemas. Views never write and never emit (ending a session is
use_cases/sessions.py)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import and_, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cuepoint.runtime.actor import CurrentUser
from cuepoint.runtime.db import ReadPool, tenant_transaction
from cuepoint.runtime.errors import Invalid, NotFound

from . import orm
from .domain import access
from .domain.playback import VideoState, video_completed
from .repositories import load_world, state_of
from .schemas import DashboardPage, LessonProgressOut, LessonProgressPage, ResumeOut, SessionPage

# The seed's "Student Dashboard Query", verbatim.
STUDENT_DASHBOARD_SQL = """
SELECT 
    l.title,
    l.thumbnail,
    sp.completion_percent,
    sp.average_score,
    sp.updated_at as last_activity
FROM student_progress sp
JOIN lessons l ON sp.lesson_id = l.id
WHERE sp.student_id = $1 
  AND sp.completion_percent > 0
ORDER BY sp.updated_at DESC;
"""
# The API answers the same rows with the lesson's id too, so that a client can link each to its lesson.
STUDENT_DASHBOARD = text(STUDENT_DASHBOARD_SQL.replace("SELECT \n    l.title,", "SELECT \n    sp.lesson_id,\n    l.title,", 1)
                         .replace("$1", ":student_id").rstrip().rstrip(";"))
assert "sp.lesson_id" in str(STUDENT_DASHBOARD), "the seed's dashboard query changed shape"


# A student's progress in a lesson with their display name (_with_name's join), for the live streams.
PROGRESS_OF_SQL = """
SELECT sp.student_id, n.display_name AS student_name, sp.lesson_id, sp.completion_percent, sp.average_score,
       sp.total_time_spent, sp.status, sp.started_at, sp.completed_at, sp.updated_at
FROM student_progress sp
LEFT JOIN display_names n ON n.tenant_id = sp.tenant_id AND n.user_id = sp.student_id
WHERE sp.student_id = %(student_id)s AND sp.lesson_id = %(lesson_id)s
"""


class Views:
    def __init__(self, *, sessions: async_sessionmaker[AsyncSession], reads: ReadPool) -> None:
        self.sessions = sessions
        self.reads = reads  # plain psycopg connections: a read in one round trip

    async def list_sessions(self, actor: CurrentUser, *, limit: int, offset: int) -> SessionPage:
        s = orm.student_sessions
        query = select(s).where(s.c.student_id == actor.id)
        async with tenant_transaction(self.sessions, actor.tenant_id) as session:
            total = (await session.execute(select(func.count()).select_from(query.subquery()))).scalar_one()
            rows = (await session.execute(query.order_by(s.c.last_seen_at.desc(), s.c.id)
                                          .limit(limit).offset(offset))).all()
            return SessionPage.model_validate({"items": [_session(row) for row in rows], "total": total,
                                               "limit": limit, "offset": offset})

    async def resume(self, actor: CurrentUser, *, lesson_id: uuid.UUID | None, video_id: uuid.UUID | None,
                     student_id: uuid.UUID | None = None) -> ResumeOut:
        """Where to pick up: the latest position on any device, what was watched, what must be answered."""
        if (lesson_id is None) == (video_id is None):
            raise Invalid("give exactly one of lesson_id and video_id")
        student = student_id or actor.id
        async with tenant_transaction(self.sessions, actor.tenant_id) as session:
            if video_id is not None:
                video = (await session.execute(select(orm.videos).where(orm.videos.c.id == video_id))).first()
                if video is None:
                    raise NotFound(f"no video {video_id}")
                lesson_id = video.lesson_id
            world = await load_world(session, lesson_ids={lesson_id}, students={student})
            lesson = world.lessons.get(lesson_id)
            if lesson is None or not lesson.videos:
                raise NotFound(f"no lesson {lesson_id} with videos")
            access.ensure_may_see(actor, student, lesson.row.created_by_id)
            vp = orm.video_progress
            rows = {row.video_id: row for row in (await session.execute(select(vp).where(
                vp.c.student_id == student, vp.c.video_id.in_([v.id for v in lesson.videos])))).all()}
            if video_id is None:  # the video last played, on any device; else the first
                latest = max(rows.values(), key=lambda r: r.updated_at, default=None)
                video_id = latest.video_id if latest else lesson.videos[0].id
            row = rows.get(video_id)
            state = state_of(row) if row else VideoState()
            rules = world.rules(student, video_id)
            m = orm.milestones
            milestones = (await session.execute(select(m).where(m.c.video_id == video_id, ~m.c.deleted)
                                                .order_by(m.c.timestamp))).all()
            required = {r.id: r for r in lesson.required.get(video_id, [])}
            marks = [{"id": ms.id, "timestamp": ms.timestamp, "is_required": ms.is_required,
                      "answered": ms.id in required and world.settled.get((student, ms.id), 0) >= required[ms.id].questions}
                     for ms in milestones]
            gate = next((mark for mark in marks if mark["id"] in required and not mark["answered"]), None)
            return ResumeOut.model_validate({
                "lesson_id": lesson_id, "video_id": video_id, "position": state.last_position,
                "device_id": row.last_device_id if row else None, "updated_at": row.updated_at if row else None,
                "watched": [list(r) for r in state.watched], "coverage": round(state.coverage(rules.duration), 4),
                "duration": rules.duration, "furthest_allowed": state.furthest_allowed(rules),
                "seek_policy": rules.seek_policy, "completed": video_completed(state, rules),
                "milestones": marks, "next_required_milestone": gate})

    async def lesson_progress(self, actor: CurrentUser, lesson_id: uuid.UUID, *, limit: int,
                              offset: int) -> LessonProgressPage:
        """A student's own progress in a lesson; for its teacher, every student's."""
        sp = orm.student_progress
        async with tenant_transaction(self.sessions, actor.tenant_id) as session:
            lesson = (await session.execute(select(orm.lessons).where(orm.lessons.c.id == lesson_id))).first()
            if lesson is None:
                raise NotFound(f"no lesson {lesson_id}")
            query = _with_name(select(sp)).where(sp.c.lesson_id == lesson_id)
            if not access.teaches(actor, lesson.created_by_id):
                query = query.where(sp.c.student_id == actor.id)
            total = (await session.execute(select(func.count()).select_from(query.subquery()))).scalar_one()
            rows = (await session.execute(query.order_by(sp.c.updated_at.desc(), sp.c.student_id)
                                          .limit(limit).offset(offset))).all()
            return LessonProgressPage.model_validate({"items": [_progress(row) for row in rows], "total": total,
                                                      "limit": limit, "offset": offset})

    async def progress_of(self, tenant_id: uuid.UUID, student_id: uuid.UUID, lesson_id: uuid.UUID
                          ) -> LessonProgressOut | None:
        """What a live stream sends for a notice: one round trip (ReadPool.rows), not the ORM's four
        (BEGIN, the tenant, the row, COMMIT), on the way from a graded answer to the teacher's view (R5)."""
        rows = await self.reads.rows(tenant_id, PROGRESS_OF_SQL, {"student_id": student_id, "lesson_id": lesson_id})
        return LessonProgressOut.model_validate(rows[0]) if rows else None

    async def lessons_of(self, tenant_id: uuid.UUID, student_id: uuid.UUID) -> list[uuid.UUID]:
        """The lessons a student has progress in, most recent first (a live stream's snapshot)."""
        sp = orm.student_progress
        async with tenant_transaction(self.sessions, tenant_id) as session:
            return list((await session.execute(select(sp.c.lesson_id).where(sp.c.student_id == student_id)
                                               .order_by(sp.c.updated_at.desc(), sp.c.lesson_id))).scalars())

    async def students_of(self, tenant_id: uuid.UUID, lesson_id: uuid.UUID) -> list[uuid.UUID]:
        """The students with progress in a lesson, most recent first (the class view's snapshot)."""
        sp = orm.student_progress
        async with tenant_transaction(self.sessions, tenant_id) as session:
            return list((await session.execute(select(sp.c.student_id).where(sp.c.lesson_id == lesson_id)
                                               .order_by(sp.c.updated_at.desc(), sp.c.student_id))).scalars())

    async def dashboard(self, actor: CurrentUser, *, limit: int, offset: int) -> DashboardPage:
        async with tenant_transaction(self.sessions, actor.tenant_id) as session:
            rows = (await session.execute(STUDENT_DASHBOARD, {"student_id": actor.id})).mappings().all()
        # Paged here rather than in SQL so that the seed's query stays verbatim; one student's lessons are few.
        return DashboardPage.model_validate({"items": [dict(row) for row in rows[offset:offset + limit]],
                                             "total": len(rows), "limit": limit, "offset": offset})

    async def lesson_author(self, actor: CurrentUser, lesson_id: uuid.UUID) -> None:
        async with tenant_transaction(self.sessions, actor.tenant_id) as session:
            lesson = (await session.execute(select(orm.lessons).where(orm.lessons.c.id == lesson_id))).first()
        access.ensure_may_follow(actor, lesson_id, lesson.created_by_id if lesson else None, found=lesson is not None)


def _session(row: Any) -> dict[str, Any]:
    return {"id": row.id, "device_id": row.device_id, "user_agent": row.user_agent, "started_at": row.started_at,
            "last_seen_at": row.last_seen_at, "current_lesson_id": row.current_lesson_id,
            "current_video_id": row.current_video_id, "position": row.position, "ended_at": row.ended_at,
            "active": row.ended_at is None}


def _with_name(query: Any) -> Any:
    """``student_progress`` rows with the student's display name, null until identity's profile arrived
    (or after an erasure)."""
    sp, n = orm.student_progress, orm.display_names
    return query.add_columns(n.c.display_name.label("student_name")).outerjoin(
        n, and_(n.c.tenant_id == sp.c.tenant_id, n.c.user_id == sp.c.student_id))


def _progress(row: Any) -> dict[str, Any]:
    return {"student_id": row.student_id, "student_name": row.student_name, "lesson_id": row.lesson_id, "completion_percent": row.completion_percent,
            "average_score": row.average_score, "total_time_spent": row.total_time_spent, "status": row.status,
            "started_at": row.started_at, "completed_at": row.completed_at, "updated_at": row.updated_at}

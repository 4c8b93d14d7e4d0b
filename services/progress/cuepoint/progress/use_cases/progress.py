"""Lesson progress: recomputed for the students and lessons an event touched, and announced.

Times are the events' (``first``/``last`` of what touched a lesson), never the clock's, so replaying
the same events gives the same rows. ``announce=False`` (a rebuild) emits nothing and leaves the
announcements' state alone: a rebuild must not announce old completions again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from cuepoint.contracts import progress as events

from ..domain import announcements
from ..domain.announcements import Announced
from ..domain.catalogue import World
from ..domain.playback import VideoState, mark_completion
from ..domain.progress import LessonProgress, VideoStanding, lesson_progress
from ..repositories import Pair, Write
from ..unit_of_work import ProgressUnitOfWork


@dataclass(frozen=True)
class RefreshProgress:
    """``touched`` maps (student, lesson) to the times of the first and last event that touched it.
    ``urgent``: a person's act touched them (an answer graded, a grade given or overridden), so the live
    streams show it at once rather than coalesced with playback (live.py)."""

    touched: Mapping[Pair, tuple[datetime, datetime]]
    urgent: bool = False


async def refresh_progress(command: RefreshProgress, uow: ProgressUnitOfWork, *, announce: bool,
                           world: World | None = None, first: Sequence[Write] = ()) -> list[LessonProgress]:
    """Recompute the touched students' lesson progress from the whole state (so the result does not
    depend on how events were batched). ``world``: the batch's, if it was loaded already. ``first``: a
    write the state must include (a result being recorded), made with the reads, ahead of them."""
    tenant_id = uow.tenant_id
    touched = command.touched
    students = {student for student, _ in touched}
    lesson_ids = {lesson for _, lesson in touched}
    covered = world is not None and lesson_ids <= set(world.lessons)
    inputs = await uow.progress.inputs(students, lesson_ids, world=world if covered else None, announce=announce,
                                       first=first)
    world, videos, answering, graded = inputs.world, inputs.videos, inputs.answering_ms, inputs.grades
    existing, announced = inputs.existing, inputs.announced
    rows: list[LessonProgress] = []
    notices: list[Pair] = []
    new_announced: dict[Pair, Announced] = {}
    for (student, lesson_id), (first, last) in sorted(touched.items(), key=lambda i: (str(i[0][0]), str(i[0][1]))):
        lesson = world.lessons.get(lesson_id)
        if lesson is None:
            continue
        standings, watch_seconds = [], 0.0
        for video in lesson.videos:
            state = videos.get((student, video.id)) or VideoState()
            watch_seconds += state.time_spent
            required = lesson.required.get(video.id, [])
            completed = mark_completion(state, world.rules(student, video.id), last)
            if completed is not state:
                # Completed by an answer (the video was watched already): the answer's time.
                await uow.videos.mark_completed(student, video.id, last)
                if announce:
                    await uow.emit(events.VideoCompleted(student_id=student, video_id=video.id, lesson_id=lesson_id,
                                                         completed_at=last), actor_id=student)
            standings.append(VideoStanding(state.coverage(video.duration), len(required),
                                           sum(world.answered(student, m) for m in required), completed.completed_at))
        before = existing.get((student, lesson_id))
        now = lesson_progress(student, lesson_id, standings, watch_seconds=watch_seconds,
                              answering_seconds=float(answering.get((student, lesson_id), 0)) / 1000,
                              graded=graded.get((student, lesson_id)), first=first, last=last, before=before)
        rows.append(now)
        if announce:
            await _announce(uow, now, before, last, announced.get((student, lesson_id)), new_announced)
        notices.append((student, lesson_id))
    await uow.progress.save(tenant_id, rows, new_announced, notices, urgent=command.urgent)
    return rows


async def _announce(uow: ProgressUnitOfWork, now: LessonProgress, before: LessonProgress | None, at: datetime,
                    last: Announced | None, announced: dict[Pair, Announced]) -> None:
    if announcements.progressed(now, before, last, at):
        await uow.emit(events.LessonProgressed(
            student_id=now.student_id, lesson_id=now.lesson_id, completion_percent=now.completion_percent,
            average_score=now.average_score, total_time_spent=now.total_time_spent, status=now.status),
            actor_id=now.student_id)
        announced[(now.student_id, now.lesson_id)] = Announced(now.completion_percent, now.status, at)
    if announcements.completed(now, before):
        await uow.emit(events.LessonCompleted(
            student_id=now.student_id, lesson_id=now.lesson_id, completion_percent=now.completion_percent,
            average_score=now.average_score, total_time_spent=now.total_time_spent,
            completed_at=now.completed_at), actor_id=now.student_id)

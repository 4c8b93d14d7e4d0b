"""progress's response bodies: what /openapi.json promises the web client, field for field."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import Field

from cuepoint.runtime.api_models import Out, Page, Percent, Score, Seconds

SeekPolicy = Literal["FREE", "NO_SKIP_AHEAD"]
ProgressStatus = Literal["NOT_STARTED", "IN_PROGRESS", "COMPLETED"]


class SessionOut(Out):
    """One device or browser a student watched on."""

    id: uuid.UUID
    device_id: str
    user_agent: str | None
    started_at: datetime
    last_seen_at: datetime
    current_lesson_id: uuid.UUID | None
    current_video_id: uuid.UUID | None
    position: Seconds | None = Field(description="The last position reported from this device, in seconds.")
    ended_at: datetime | None
    active: bool = Field(description="False once the session was ended.")


class MilestoneMark(Out):
    id: uuid.UUID
    timestamp: Seconds = Field(description="Where in the video it pauses, in seconds.")
    is_required: bool
    answered: bool = Field(description="Every approved question of this required milestone is settled "
                                       "(answered right or out of attempts); always false for optional ones.")


class ResumeOut(Out):
    """Where to continue a lesson or a video, on whatever device the student is now."""

    lesson_id: uuid.UUID
    video_id: uuid.UUID = Field(description="The video last played in the lesson (or the one asked for; or the first).")
    position: Seconds = Field(description="The latest position on any device, in seconds.")
    device_id: str | None = Field(description="The device that reported it; null before any playback.")
    updated_at: datetime | None
    watched: list[tuple[Seconds, Seconds]] = Field(
        description="Disjoint [start, end] segments that count as watched, in seconds, in order.")
    coverage: Score = Field(description="Share of the video watched, 0–1.")
    duration: Seconds | None = Field(description="The video's length in seconds; null if not known yet.")
    furthest_allowed: Seconds | None = Field(
        description="The furthest position playback may reach now (seek policy, unanswered required milestones); "
                    "null: no limit.")
    seek_policy: SeekPolicy
    completed: bool = Field(description="The server counts the video as completed.")
    milestones: list[MilestoneMark] = Field(description="The video's milestones in timestamp order.")
    next_required_milestone: MilestoneMark | None = Field(
        description="The first required milestone still to answer; playback stops there.")


class LessonProgressOut(Out):
    """A student's progress in a lesson (the seed's ``student_progress``)."""

    student_id: uuid.UUID
    student_name: str | None = Field(
        description="The student's display name, from identity's profiles (never the email); null until the "
                    "profile has arrived, and again once the student was erased.")
    lesson_id: uuid.UUID
    completion_percent: Percent = Field(description="0–100.")
    average_score: Percent | None = Field(description="0–100; null before any graded answer.")
    total_time_spent: int = Field(description="Seconds of watching and answering.")
    status: ProgressStatus
    started_at: datetime | None
    completed_at: datetime | None
    updated_at: datetime


class DashboardEntry(Out):
    """One row of the seed's Student Dashboard Query, with the lesson's id to link it."""

    lesson_id: uuid.UUID
    title: str
    thumbnail: str | None
    completion_percent: Percent = Field(description="0–100.")
    average_score: Percent | None = Field(description="0–100; null before any graded answer.")
    last_activity: datetime


class StudentStreamMessage(Out):
    """The data of a ``progress`` event on ``GET /v1/stream``: the lesson that changed, as the student now
    stands in it."""

    progress: LessonProgressOut | None
    resume: ResumeOut


SessionPage = Page[SessionOut]
LessonProgressPage = Page[LessonProgressOut]
DashboardPage = Page[DashboardEntry]

"""Events of the progress service (topic ``progress.events``), keyed by student."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Literal
from uuid import UUID

from pydantic import Field

from .envelope import Event
from .privacy import ExportPart
from .topics import EXPORT_PARTS

ProgressStatus = Literal["NOT_STARTED", "IN_PROGRESS", "COMPLETED"]


class VideoCompleted(Event):
    """A student watched enough of a video and answered its required milestones. Key: student_id."""

    event_type = "progress.video.completed.v1"
    key_field = "student_id"
    student_id: UUID = Field(description="The student.")
    video_id: UUID = Field(description="The completed video.")
    lesson_id: UUID = Field(description="The lesson of the video.")
    completed_at: datetime = Field(description="When completion was reached.")


class LessonProgressed(Event):
    """A student's lesson progress changed (throttled). Key: student_id."""

    event_type = "progress.lesson.progressed.v1"
    key_field = "student_id"
    student_id: UUID = Field(description="The student.")
    lesson_id: UUID = Field(description="The lesson.")
    completion_percent: Decimal = Field(ge=0, le=100, description="Watched coverage and required milestones, 0–100.")
    average_score: Decimal | None = Field(default=None, description="Average score over answered questions, 0–100.")
    total_time_spent: int = Field(ge=0, description="Seconds of playback and answering.")
    status: ProgressStatus = Field(description="The lesson status for the student.")


class LessonCompleted(Event):
    """A student completed a lesson. Key: student_id."""

    event_type = "progress.lesson.completed.v1"
    key_field = "student_id"
    student_id: UUID = Field(description="The student.")
    lesson_id: UUID = Field(description="The completed lesson.")
    completion_percent: Decimal = Field(ge=0, le=100, description="Completion at the time (100 unless rules allow less).")
    average_score: Decimal | None = Field(default=None, description="Average score, 0–100.")
    total_time_spent: int = Field(ge=0, description="Seconds spent on the lesson.")
    completed_at: datetime = Field(description="When the lesson was completed.")


class SessionEnded(Event):
    """A student ended one of their device sessions (signed a device out of resume). Key: student_id.

    Superseded by ``progress.session.ended.v2``: its device id, an identifier of the person, stayed
    on a topic kept forever after an erasure. Kept so that old events replay."""

    event_type = "progress.session.ended.v1"
    key_field = "student_id"
    student_id: UUID = Field(description="The student.")
    session_id: UUID = Field(description="The ended session.")
    device_id: str = Field(max_length=200, description="The device or browser of the session.")
    ended_at: datetime = Field(description="When it was ended.")


class SessionEndedV2(Event):
    """A student ended one of their device sessions (signed a device out of resume). Key: student_id.

    No device id: the session id names the session, and a device id would outlive the student's
    erasure on this topic (kept forever)."""

    event_type = "progress.session.ended.v2"
    key_field = "student_id"
    student_id: UUID = Field(description="The student.")
    session_id: UUID = Field(description="The ended session.")
    ended_at: datetime = Field(description="When it was ended.")


class ProgressExportPart(ExportPart):
    """progress's part of a person's data export, answering identity.user.export_requested.v1: one chunk of it.
    Topic: privacy.export-parts. Key: export_id."""

    event_type = "progress.user.export_part.v1"
    topic = EXPORT_PARTS.name

"""A student's session: one device or browser they watched on, from its first playback until
ended (by the student, e.g. for a lost device); playback after the end opens it again."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class StudentSession:
    id: uuid.UUID
    student_id: uuid.UUID
    device_id: str
    user_agent: str | None
    started_at: datetime
    last_seen_at: datetime
    current_lesson_id: uuid.UUID | None
    current_video_id: uuid.UUID | None
    position: float | None
    ended_at: datetime | None

    @property
    def active(self) -> bool:
        return self.ended_at is None

"""What progress knows of the catalogue when it projects: lessons in their published order, videos,
the required milestones that count (those with approved questions), and which of them each student
has settled. Loaded once per batch (repositories.Catalogue.world); rows are the projection's own.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from .playback import VideoRules


@dataclass
class LessonPlan:
    row: Any  # the lesson: seek_policy, created_by_id, video_ids
    videos: list[Any]  # rows of videos (id, lesson_id, duration), in order
    required: dict[uuid.UUID, list[Any]]  # video id → required milestones (id, timestamp, questions) that have approved questions


@dataclass
class World:
    """What a batch needs to know, loaded once per batch."""

    lessons: dict[uuid.UUID, LessonPlan] = field(default_factory=dict)
    videos: dict[uuid.UUID, Any] = field(default_factory=dict)
    settled: dict[tuple[uuid.UUID, uuid.UUID], int] = field(default_factory=dict)  # (student, milestone) → settled

    def answered(self, student_id: uuid.UUID, milestone: Any) -> bool:
        """A required milestone counts as answered once every approved question of it is settled."""
        return self.settled.get((student_id, milestone.id), 0) >= milestone.questions

    def rules(self, student_id: uuid.UUID, video_id: uuid.UUID) -> VideoRules:
        video = self.videos[video_id]
        lesson = self.lessons.get(video.lesson_id)
        gates = tuple(sorted(m.timestamp for m in (lesson.required.get(video_id, []) if lesson else [])
                             if self.settled.get((student_id, m.id), 0) < m.questions))
        return VideoRules(duration=video.duration, seek_policy=lesson.row.seek_policy if lesson else "FREE",
                          gates=gates)

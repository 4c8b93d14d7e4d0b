"""What recomputing some students' lesson progress reads, all at once (repositories.LessonProgresses.inputs
loads it in one round trip; a graded answer waits for it on its way to the teacher's view)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from decimal import Decimal

from .announcements import Announced
from .catalogue import World
from .playback import VideoState
from .progress import LessonProgress

Pair = tuple[uuid.UUID, uuid.UUID]


@dataclass
class ProgressInputs:
    world: World  # the lessons (the one given, when it covers them)
    videos: dict[Pair, VideoState] = field(default_factory=dict)  # (student, video) → where they stand
    answering_ms: dict[Pair, int] = field(default_factory=dict)  # (student, lesson) → time spent answering
    grades: dict[Pair, Decimal] = field(default_factory=dict)  # (student, lesson) → the lesson grade's percent
    existing: dict[Pair, LessonProgress] = field(default_factory=dict)  # the rows as they are, locked
    announced: dict[Pair, Announced] = field(default_factory=dict)  # what was last announced (when announcing)

"""What one student's playback of one video amounts to, as the server enforces it.

The client reports positions and the ranges it played; the server decides what counts:
- a report outside the video, or with a range that runs backwards, is dropped;
- a heartbeat cannot claim more playback than the time since the previous one allows
  (at its playback rate, with slack), so coverage cannot be forged in a burst;
- under the NO_SKIP_AHEAD seek policy, ranges that start beyond what was watched are
  dropped, and nothing counts past the first required milestone not yet answered;
  positions beyond the furthest allowed one are clamped.
Clamping and truncation are *flagged* (counted) but keep the rest of the report.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

from .intervals import Range, contiguous_end, measure, union

POSITION_SLACK = 1.0  # seconds past the end a player may report
AHEAD_SLACK = 2.0  # seconds past the watched edge a NO_SKIP_AHEAD range may start
FIRST_HEARTBEAT_SECONDS = 15.0  # playback a first heartbeat may claim
MAX_GAP_SECONDS = 300.0  # beyond this, the previous heartbeat is too old to size the next
RATE_SLACK = 1.1
COMPLETION_COVERAGE = 0.9  # share of a video to watch for it to count as watched


class Dropped(ValueError):
    """The report is not believable; ``reason`` is the metric label."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class VideoRules:
    duration: float | None
    seek_policy: str = "FREE"  # or NO_SKIP_AHEAD
    gates: tuple[float, ...] = ()  # timestamps of required milestones the student has not answered, sorted

    @property
    def gate(self) -> float | None:
        return self.gates[0] if self.gates else None


@dataclass(frozen=True)
class VideoState:
    watched: tuple[Range, ...] = ()
    last_position: float = 0.0
    last_heartbeat_at: datetime | None = None
    time_spent: float = 0.0  # seconds of real time
    flags: int = 0  # reports clamped or truncated
    completed_at: datetime | None = None  # when the video first counted as completed

    def coverage(self, duration: float | None) -> float:
        if not duration:
            return 0.0
        return min(1.0, measure(self.watched) / duration)

    def furthest_allowed(self, rules: VideoRules) -> float | None:
        """The furthest position playback may reach now (None: unknown duration, no limit)."""
        ceiling = rules.duration
        if rules.seek_policy == "NO_SKIP_AHEAD":
            edge = contiguous_end(list(self.watched)) + AHEAD_SLACK
            ceiling = edge if ceiling is None else min(ceiling, edge)
        if rules.gate is not None:
            ceiling = rules.gate if ceiling is None else min(ceiling, rules.gate)
        return ceiling


@dataclass
class Outcome:
    state: VideoState
    flagged: list[str] = field(default_factory=list)


def _check_position(position: float, rules: VideoRules) -> None:
    if rules.duration is not None and position > rules.duration + POSITION_SLACK:
        raise Dropped("position_outside_video")


def apply_heartbeat(state: VideoState, rules: VideoRules, *, position: float, played: list[Range], rate: float,
                    at: datetime) -> Outcome:
    _check_position(position, rules)
    for start, end in played:
        if end < start:
            raise Dropped("range_backwards")
        _check_position(end, rules)
    flagged: list[str] = []
    accepted = _within_budget(state, played, rate, at, flagged)
    watched = list(state.watched)
    counted = 0.0
    for start, end in sorted(accepted):
        # A range is continuous playback: it may start no further than playback is allowed to
        # reach, and then runs on until the next unanswered required milestone.
        ceiling = VideoState(watched=tuple(union(watched))).furthest_allowed(rules)
        if ceiling is not None and start > ceiling:
            flagged.append("range_beyond_allowed")
            continue
        if rules.gate is not None and end > rules.gate:
            flagged.append("range_clamped")
            end = rules.gate
        if end > start:
            watched.append((start, end))
            counted += end - start
    merged = tuple(union(watched))
    outcome_state = replace(state, watched=merged, last_heartbeat_at=at, time_spent=state.time_spent + counted / rate)
    return Outcome(mark_completion(_moved(outcome_state, rules, position, flagged), rules, at), flagged)


def apply_position(state: VideoState, rules: VideoRules, *, position: float, at: datetime) -> Outcome:
    """play / pause / seek / ended: only the position moves."""
    _check_position(position, rules)
    flagged: list[str] = []
    return Outcome(mark_completion(_moved(state, rules, position, flagged), rules, at), flagged)


def mark_completion(state: VideoState, rules: VideoRules, at: datetime) -> VideoState:
    """Records the moment the video first counts as completed (it is never taken back)."""
    if state.completed_at is None and video_completed(state, rules):
        return replace(state, completed_at=at)
    return state


def _moved(state: VideoState, rules: VideoRules, position: float, flagged: list[str]) -> VideoState:
    ceiling = state.furthest_allowed(rules)
    if ceiling is not None and position > ceiling + POSITION_SLACK:
        flagged.append("position_clamped")
        position = ceiling
    return replace(state, last_position=position, flags=state.flags + len(flagged))


def _within_budget(state: VideoState, played: list[Range], rate: float, at: datetime, flagged: list[str]
                   ) -> list[Range]:
    """The played ranges, cut to what the time since the previous heartbeat allows."""
    elapsed = FIRST_HEARTBEAT_SECONDS
    if state.last_heartbeat_at is not None:
        since = (at - state.last_heartbeat_at).total_seconds()
        if 0 <= since <= MAX_GAP_SECONDS:
            elapsed = since
    budget = elapsed * max(rate, 1.0) * RATE_SLACK + AHEAD_SLACK
    kept: list[Range] = []
    for start, end in played:
        if budget <= 0:
            flagged.append("range_over_budget")
            break
        if end - start > budget:
            flagged.append("range_over_budget")
            end = start + budget
        kept.append((start, end))
        budget -= end - start
    return kept


def video_completed(state: VideoState, rules: VideoRules) -> bool:
    """Watched enough, and every required milestone answered."""
    return rules.duration is not None and state.coverage(rules.duration) >= COMPLETION_COVERAGE and not rules.gates

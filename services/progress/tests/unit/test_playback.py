"""Watched-segment unions (properties) and the server's playback rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cuepoint.progress.domain.intervals import contiguous_end, measure, union
from cuepoint.progress.domain.playback import (
    Dropped,
    VideoRules,
    VideoState,
    apply_heartbeat,
    apply_position,
    video_completed,
)

pytestmark = pytest.mark.unit

ranges = st.lists(st.tuples(st.floats(0, 1000), st.floats(0, 60)).map(lambda t: (t[0], t[0] + t[1])), max_size=30)
T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def _covers(merged, point: float) -> bool:
    return any(s <= point <= e for s, e in merged)


@given(ranges)
def test_union_is_sorted_disjoint_and_covers_every_input(values) -> None:
    merged = union(values)
    assert all(a[1] < b[0] for a, b in zip(merged, merged[1:], strict=False))
    for start, end in values:
        if end > start:
            assert _covers(merged, start) and _covers(merged, end) and _covers(merged, (start + end) / 2)
    assert measure(merged) <= sum(e - s for s, e in values if e > s) + 0.5 * len(values) + 1e-6


@given(ranges, ranges)
def test_union_is_idempotent_commutative_and_associative(a, b) -> None:
    assert union(union(a)) == union(a)
    assert union(a + b) == union(b + a) == union(union(a) + union(b))
    assert measure(union(a + b)) >= max(measure(union(a)), measure(union(b))) - 1e-6


@given(ranges)
def test_contiguous_end_is_where_the_first_hole_is(values) -> None:
    merged = union(values)
    edge = contiguous_end(merged)
    assert edge == 0 or _covers(merged, edge)
    assert all(not (s <= 0.5 and e > edge) for s, e in merged)


def _heartbeat(state, rules, played, *, at, position=None, rate=1.0):
    return apply_heartbeat(state, rules, position=position if position is not None else played[-1][1],
                           played=played, rate=rate, at=at)


def test_honest_playback_completes_only_with_required_milestones_answered() -> None:
    rules = VideoRules(duration=60, seek_policy="NO_SKIP_AHEAD", gates=(30.0,))
    state, at = VideoState(), T0
    for start in range(0, 60, 10):
        at += timedelta(seconds=10)
        state = _heartbeat(state, rules, [(start, start + 10)], at=at).state
    assert state.watched == ((0, 30.0),)  # nothing past the unanswered milestone counts
    assert state.last_position == 30.0 and state.flags > 0
    assert not video_completed(state, rules)
    answered = VideoRules(duration=60, seek_policy="NO_SKIP_AHEAD")
    for start in range(30, 60, 10):
        at += timedelta(seconds=10)
        state = _heartbeat(state, answered, [(start, start + 10)], at=at).state
    assert state.watched == ((0, 60),) and video_completed(state, answered)
    assert state.completed_at == T0 + timedelta(seconds=90)  # the heartbeat that reached 90 %


def test_a_forged_burst_cannot_claim_more_than_the_time_allows() -> None:
    rules = VideoRules(duration=600)
    outcome = _heartbeat(VideoState(), rules, [(0, 600)], at=T0)
    assert measure(outcome.state.watched) <= 15 * 1.1 + 2 + 1e-9 and "range_over_budget" in outcome.flagged
    later = _heartbeat(outcome.state, rules, [(20, 600)], at=T0 + timedelta(seconds=10))
    assert measure(later.state.watched) < 50 and not video_completed(later.state, rules)
    fast = _heartbeat(VideoState(last_heartbeat_at=T0), rules, [(0, 40)], at=T0 + timedelta(seconds=10), rate=2.0)
    assert measure(fast.state.watched) == 24.0  # 10 s at 2× with 10% and 2 s of slack
    assert fast.state.time_spent == 12.0


def test_skipping_ahead_is_refused_under_no_skip_ahead_but_free_allows_it() -> None:
    strict, free = VideoRules(duration=100, seek_policy="NO_SKIP_AHEAD"), VideoRules(duration=100)
    watched = VideoState(watched=((0, 20),), last_heartbeat_at=T0)
    skipped = _heartbeat(watched, strict, [(50, 60)], at=T0 + timedelta(seconds=10))
    assert skipped.state.watched == ((0, 20),) and "range_beyond_allowed" in skipped.flagged
    assert skipped.state.last_position == 22.0  # clamped to the watched edge (+ slack)
    assert _heartbeat(watched, free, [(50, 60)], at=T0 + timedelta(seconds=10)).state.watched == ((0, 20), (50, 60))
    seek = apply_position(watched, strict, position=80, at=T0)
    assert seek.state.last_position == 22.0 and seek.flagged == ["position_clamped"]


@pytest.mark.parametrize(("played", "position", "reason"), [
    ([(10, 5)], 10, "range_backwards"),
    ([(0, 10)], 500, "position_outside_video"),
    ([(95, 130)], 100, "position_outside_video"),
])
def test_unbelievable_reports_are_dropped_with_a_reason(played, position, reason) -> None:
    with pytest.raises(Dropped) as dropped:
        _heartbeat(VideoState(), VideoRules(duration=100), played, at=T0, position=position)
    assert dropped.value.reason == reason

"""Playback: a batch of one tenant's client events becomes students' video progress, their sessions
(one per device) and, through refresh_progress, their lesson progress.

The hot path (docs/decisions/0003): one batch is one transaction; what it needs is loaded once
(the catalogue, the videos' states), the rules are applied in memory in partition order, and each
table is written with one statement. Rules stay fixed within a batch (an answer graded meanwhile
counts from the next).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cuepoint.contracts import analytics
from cuepoint.contracts import progress as events

from ..domain.playback import Dropped, VideoRules, VideoState, apply_heartbeat, apply_position
from ..repositories import Pair, VideoStates, session_id
from ..unit_of_work import ProgressUnitOfWork
from .progress import RefreshProgress, refresh_progress

PLAYBACK_TYPES = frozenset({"video.play", "video.pause", "video.seek", "video.heartbeat", "video.rate_change",
                            "video.ended"})


@dataclass(frozen=True)
class RecordPlayback:
    """One tenant's new client events of a polled batch, in partition order (others are ignored)."""

    records: Sequence[analytics.ClientEventRecorded]


@dataclass
class PlaybackRecorded:
    """What was not believed: a reason per report dropped, and per report clamped or truncated."""

    dropped: list[str] = field(default_factory=list)
    flagged: list[str] = field(default_factory=list)


async def record_playback(command: RecordPlayback, uow: ProgressUnitOfWork, *, announce: bool) -> PlaybackRecorded:
    result = PlaybackRecorded()
    playback = [record for record in command.records if record.event.type in PLAYBACK_TYPES]
    if not playback:
        return result
    tenant_id = uow.tenant_id
    world = await uow.catalogue.world(video_ids={r.event.video_id for r in playback},
                                      students={r.user_id for r in playback})
    states: VideoStates = await uow.videos.states({(r.user_id, r.event.video_id) for r in playback})
    sessions: dict[tuple[Any, str], dict[str, Any]] = {}
    touched: dict[Pair, tuple[datetime, datetime]] = {}
    rules_by_key: dict[Pair, VideoRules] = {}
    for record in playback:
        event = record.event
        video = world.videos.get(event.video_id)
        if video is None:
            result.dropped.append("unknown_video")
            continue
        if video.lesson_id != event.lesson_id:
            result.dropped.append("video_not_in_lesson")
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
            result.dropped.append(dropped.reason)
            continue
        result.flagged.extend(outcome.flagged)
        if announce and current.completed_at is None and outcome.state.completed_at is not None:
            await uow.emit(events.VideoCompleted(student_id=record.user_id, video_id=event.video_id,
                                                 lesson_id=video.lesson_id, completed_at=at), actor_id=record.user_id)
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
    await uow.videos.write(tenant_id, {k: v for k, v in states.items() if v[1] is not None})
    await uow.sessions.write(list(sessions.values()))
    if touched:
        await refresh_progress(RefreshProgress(touched), uow, announce=announce, world=world)
    return result

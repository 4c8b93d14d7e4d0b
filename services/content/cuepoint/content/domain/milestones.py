"""Where a milestone may stand in a video."""

from __future__ import annotations

from typing import Any

from cuepoint.runtime.errors import Invalid


def timestamp_problem(timestamp: float, duration: float | None) -> str | None:
    if timestamp < 0:
        return "a milestone cannot be before the start of the video"
    if duration is not None and timestamp > duration:
        return f"the video is {duration:.3f} s long; a milestone at {timestamp:.3f} s is after its end"
    return None


def ensure_within(timestamp: float, duration: float | None) -> None:
    """A milestone stands between the start and the end of its video (when its length is known)."""
    if (problem := timestamp_problem(timestamp, duration)) is not None:
        raise Invalid(problem)


def milestone_view(milestone: Any) -> dict[str, Any]:
    return {"id": milestone.id, "video_id": milestone.video_id, "timestamp": milestone.timestamp,
            "title": milestone.title, "is_required": milestone.is_required}

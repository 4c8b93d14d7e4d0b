"""Where a milestone may stand in a video."""

from __future__ import annotations


def timestamp_problem(timestamp: float, duration: float | None) -> str | None:
    if timestamp < 0:
        return "a milestone cannot be before the start of the video"
    if duration is not None and timestamp > duration:
        return f"the video is {duration:.3f} s long; a milestone at {timestamp:.3f} s is after its end"
    return None

"""What ffprobe's answer about an uploaded file means: a video in an accepted container, or not."""

from __future__ import annotations

import json
from typing import Any

# The demuxers ffprobe may use (and the names its format_name may hold): the MP4/QuickTime family
# and Matroska/WebM, what browsers play. Never hls, concat or the like, which open other inputs.
PROBED_FORMATS = ("mov", "mp4", "m4a", "3gp", "3g2", "mj2", "matroska", "webm")
UNREADABLE = "this file is not a video ffprobe can read"


class UnreadableVideo(ValueError):
    """The upload is not a video in an accepted container."""


def probe_result(returncode: int | None, output: bytes) -> dict[str, Any]:
    """Duration, width, height and codec from ffprobe's JSON, or UnreadableVideo."""
    try:
        found = json.loads(output or b"{}")
    except ValueError:
        found = {}
    container = found.get("format", {}).get("format_name")
    if returncode != 0 or not container:
        raise UnreadableVideo(UNREADABLE)
    if not set(container.split(",")) <= set(PROBED_FORMATS):
        raise UnreadableVideo(f"{UNREADABLE}: its format is {container}, not MP4, QuickTime or WebM")
    video = next((s for s in found.get("streams", []) if s.get("codec_type") == "video"), None)
    if video is None:
        raise UnreadableVideo(f"{UNREADABLE}: it has no video stream")
    result: dict[str, Any] = {}
    try:
        duration = float(found["format"]["duration"])
    except (KeyError, TypeError, ValueError):
        duration = None
    if duration is not None and duration > 0:
        result["duration"] = round(duration, 3)
    for key in ("width", "height"):
        if video.get(key):
            result[key] = int(video[key])
    if video.get("codec_name"):
        result["codec"] = video["codec_name"]
    return result

"""Videos and their uploads: which files are accepted, what an upload must match, and what state a
video is in. Rows are read by attribute; time comes in as an argument."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from cuepoint.runtime.errors import Conflict, Forbidden, Invalid

# What publishing freezes; an expired or failed upload has nothing to play.
PUBLISHABLE = ("UPLOADED", "READY")


def ensure_accepted_type(content_type: str, allowed_types: tuple[str, ...]) -> None:
    if content_type not in allowed_types:
        raise Invalid(f"content type {content_type!r} is not accepted; use one of {', '.join(allowed_types)}")


def ensure_within_cap(size_bytes: int, cap: int) -> None:
    """``cap``: the organisation's system config video.maxFileSize."""
    if size_bytes > cap:
        raise Invalid(f"the file is {size_bytes} bytes; this organisation accepts at most {cap} bytes "
                      "(system config video.maxFileSize)")


def ensure_in_tenant(name: str, prefix: str) -> None:
    """An upload is only ever completed from the organisation's own part of the bucket."""
    if not name.startswith(prefix):
        raise Forbidden("the object is outside this organisation's storage")


def ensure_replaceable(video: Any) -> None:
    if video.status not in PUBLISHABLE:
        raise Conflict("this video has no completed file to replace; complete its upload, or delete it "
                       "and start a new one")


def is_completed(video: Any) -> bool:
    return video.status in PUBLISHABLE


def status(video: Any, *, now: datetime) -> str:
    """EXPIRED: an upload not completed in time, which publishing leaves out (nothing is stored for it)."""
    if video.status == "UPLOADING" and video.upload_expires_at is not None and video.upload_expires_at < now:
        return "EXPIRED"
    return video.status


def announced(video: Any) -> dict[str, Any]:
    """What the uploader said of a first upload's file."""
    return {"expected_size": video.expected_size, "content_type": video.content_type,
            "expected_checksum": (video.metadata or {}).get("expected_checksum")}


def announced_replacement(pending: dict[str, Any]) -> dict[str, Any]:
    """What the uploader said of a replacement's file."""
    return {key: pending.get(key) for key in ("expected_size", "content_type", "expected_checksum")}


def upload_problem(announced: dict[str, Any], stored: Any, cap: int) -> Exception | None:
    """Why the stored object is not the file announced (or is over the organisation's cap), or None."""
    if stored.size > cap:
        return Invalid(f"the uploaded file is {stored.size} bytes, over the {cap}-byte limit")
    if stored.size != announced["expected_size"]:
        return Invalid(f"the uploaded file is {stored.size} bytes, not the {announced['expected_size']} announced")
    if stored.content_type != announced["content_type"]:
        return Invalid(f"the uploaded file is {stored.content_type!r}, not the {announced['content_type']!r} "
                       "announced")
    expected = announced["expected_checksum"]
    if expected and stored.crc32c != expected:
        return Invalid(f"the uploaded file's CRC32C is {stored.crc32c}, not the {expected} announced: it was "
                       "corrupted or replaced in transit")
    return None


def file_metadata(stored: Any, probe: dict[str, Any]) -> dict[str, Any]:
    """What a completed upload records of its file: storage's word, and ffprobe's but the duration."""
    return {"size": stored.size, "content_type": stored.content_type, "checksum": stored.crc32c,
            "md5": stored.md5, **{k: v for k, v in probe.items() if k != "duration"}}


def past_end_warnings(milestones: list[Any], duration: float) -> list[str]:
    return [f"The milestone “{m.title}” at {m.timestamp:g} s is after the end of the new file "
            f"({duration:.1f} s): it is kept, but playback never reaches it; move or delete it."
            for m in milestones]


def video_view(video: Any, *, now: datetime) -> dict[str, Any]:
    return {"id": video.id, "lesson_id": video.lesson_id, "video_group_id": video.video_group_id, "title": video.title,
            "position": video.position, "duration": video.duration, "status": status(video, now=now),
            "upload_expires_at": video.upload_expires_at if video.status == "UPLOADING" else None,
            "storage_path": video.storage_path, "metadata": video.metadata or {}}


def completed_view(video: Any, *, now: datetime) -> dict[str, Any]:
    """The answer of ``complete``; only a replacement's own completion has milestones to warn about."""
    return {**video_view(video, now=now), "milestones_past_end": [], "warnings": []}


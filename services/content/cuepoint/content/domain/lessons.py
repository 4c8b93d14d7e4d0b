"""Lessons: who may change one, what publishing freezes, and the working draft as authors see it.

Rows are read by attribute (a table row, or anything with the same names); time comes in as an
argument."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from cuepoint.runtime.actor import CurrentUser, Role
from cuepoint.runtime.errors import Conflict, Forbidden, NotFound

from .milestones import milestone_view
from .videos import PUBLISHABLE, video_view


def ensure_authored(lesson: Any, actor: CurrentUser, *, to: str = "see its versions") -> None:
    """Its author or an admin may look into a lesson, an archived one too; a student does not
    learn that a draft exists."""
    if not actor.at_least(Role.TEACHER):
        raise NotFound(f"no lesson {lesson.id}")
    if lesson.created_by_id != actor.id and not actor.at_least(Role.ADMIN):
        raise Forbidden(f"only the lesson's author or an admin can {to}")


def ensure_editable(lesson: Any, actor: CurrentUser) -> None:
    """Only its author or an admin changes a lesson, and an archived lesson is frozen."""
    ensure_authored(lesson, actor, to="change it")
    if lesson.status == "ARCHIVED":
        raise Conflict("this lesson is archived")


def json_value(value: Any) -> str:
    """How a published snapshot stores what JSON has no type for: RFC 3339 in UTC for times,
    as the API answers them (``str(datetime)`` would write ``2026-12-02 07:42:49+00:00``)."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(f"{type(value).__name__} has no place in a lesson snapshot")


def as_json(value: Any) -> Any:
    """``value`` as a snapshot stores it (ids and times as strings)."""
    return json.loads(json.dumps(value, default=json_value))


def lesson_summary(lesson: Any) -> dict[str, Any]:
    return {"id": lesson.id, "title": lesson.title, "description": lesson.description, "thumbnail": lesson.thumbnail,
            "status": lesson.status, "version": lesson.version, "created_by_id": lesson.created_by_id,
            "tags": list(lesson.tags or []), "metadata": lesson.metadata or {}, "seek_policy": lesson.seek_policy,
            "auto_generate_questions": lesson.auto_generate_questions,
            "has_unpublished_changes": lesson.has_unpublished_changes, "published_at": lesson.published_at,
            "updated_at": lesson.updated_at}


def summary_of_snapshot(snapshot: dict[str, Any]) -> dict[str, Any]:
    return {key: snapshot.get(key) for key in ("id", "title", "description", "thumbnail", "status", "version",
                                               "created_by_id", "tags", "metadata", "seek_policy",
                                               "auto_generate_questions", "published_at", "updated_at")}


def exclusion(video: dict[str, Any]) -> str:
    if video["status"] == "EXPIRED":
        return (f"the upload expired at {json_value(video['upload_expires_at'])} without being completed; "
                "publishing leaves it out: delete it or start a new upload")
    failure = (video["metadata"] or {}).get("failure") or "the upload failed"
    return f"{failure}; publishing leaves it out: delete it or start a new upload"


def draft(lesson: Any, groups: list[Any], videos: list[Any], milestones: list[Any], *,
          now: datetime) -> dict[str, Any]:
    """The working draft: the lesson, its chapters, its videos (not deleted ones) with their
    milestones, and which videos publishing would leave out and why."""
    by_video: dict[uuid.UUID, list[dict[str, Any]]] = {}
    for milestone in milestones:
        by_video.setdefault(milestone.video_id, []).append(milestone_view(milestone))
    drafted = [{**video_view(v, now=now), "milestones": by_video.get(v.id, [])} for v in videos]
    return {
        **lesson_summary(lesson),
        "video_groups": [{"id": g.id, "title": g.title, "position": g.position} for g in groups],
        "videos": drafted,
        "excluded_videos": [{"video_id": v["id"], "title": v["title"], "status": v["status"],
                             "reason": exclusion(v)} for v in drafted if v["status"] in ("EXPIRED", "FAILED")],
    }


def playable_videos(draft_view: dict[str, Any]) -> list[dict[str, Any]]:
    """What publishing freezes: the uploaded videos. One still uploading stops it (it may yet
    complete); an expired or failed upload has nothing to play and is left out, as
    excluded_videos says; no video at all stops it."""
    pending = [v["title"] for v in draft_view["videos"] if v["status"] == "UPLOADING"]
    if pending:
        raise Conflict(f"these videos are still uploading: {', '.join(pending)}; complete or delete them "
                       "(an upload not completed in time expires and is left out)")
    playable = [v for v in draft_view["videos"] if v["status"] in PUBLISHABLE]
    if not playable:
        raise Conflict("a lesson needs at least one uploaded video before it is published")
    return playable


def required_milestones(videos: list[dict[str, Any]]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(milestone, its video) for each required milestone of these videos."""
    return [(m, v) for v in videos for m in v["milestones"] if m["is_required"]]


def ensure_answerable(required: list[tuple[dict[str, Any], dict[str, Any]]], answerable: set[Any]) -> None:
    """A required milestone stops playback until it is answered: without an approved question
    students could never get past it. ``answerable``: the ids of milestones with one."""
    blocked = [(m, v) for m, v in required if m["id"] not in answerable]
    if blocked:
        named = "; ".join(f"{m['title']!r} at {m['timestamp']:g} s in {v['title']!r}" for m, v in blocked)
        raise Conflict(f"required milestones without an approved question: {named}. Approve a question for "
                       "each, or make it optional", milestones=[
                           {"milestone_id": str(m["id"]), "title": m["title"], "video_id": str(v["id"]),
                            "video_title": v["title"]} for m, v in blocked])


def snapshot(draft_view: dict[str, Any], playable: list[dict[str, Any]], *, version: int,
             now: datetime) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The frozen version publishing stores (JSON), and what it left out of the draft."""
    frozen = as_json({**draft_view, "videos": playable, "status": "PUBLISHED", "version": version,
                      "published_at": now})
    excluded = frozen.pop("excluded_videos")
    frozen.pop("has_unpublished_changes", None)
    return frozen, excluded


def publishable_draft(draft_view: dict[str, Any]) -> dict[str, Any]:
    """The draft as publishing now would freeze it (JSON), for comparing with a version."""
    return as_json({**draft_view, "videos": [v for v in draft_view["videos"] if v["status"] in PUBLISHABLE]})

"""What publishing the draft would change against the latest published version.

Both sides are lessons as a snapshot stores them (JSON: ids as strings): the published
snapshot, or ``None`` for a lesson never published, against the draft as publishing would
freeze it."""

from __future__ import annotations

from typing import Any

LESSON_FIELDS = ("title", "description", "thumbnail", "seek_policy")
VIDEO_FIELDS = ("title", "position", "chapter", "duration")
MILESTONE_FIELDS = ("timestamp", "title", "is_required")

EMPTY: dict[str, Any] = {"video_groups": [], "videos": []}
"""What a never-published lesson is compared with: every field unset, so everything is added."""


def counts(snapshot: dict[str, Any]) -> dict[str, int]:
    milestones = [m for v in snapshot.get("videos", []) for m in v.get("milestones", [])]
    return {"video_count": len(snapshot.get("videos", [])), "milestone_count": len(milestones),
            "required_milestone_count": sum(1 for m in milestones if m.get("is_required"))}


def _changed(before: dict[str, Any], after: dict[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    return {name: {"before": before.get(name), "after": after.get(name)}
            for name in fields if before.get(name) != after.get(name)}


def _chapter(video: dict[str, Any], chapters: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
    group_id = video.get("video_group_id")
    if group_id is None:
        return None
    # A chapter deleted from the draft leaves no title behind: the id alone still says which.
    return {"id": group_id, "title": chapters.get(group_id, {}).get("title")}


def _video(video: dict[str, Any], chapters: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return {"id": video["id"], "title": video["title"], "position": video["position"],
            "duration": video.get("duration"), "chapter": _chapter(video, chapters),
            "milestone_count": len(video.get("milestones", []))}


def _chapter_key(video: dict[str, Any]) -> dict[str, Any]:
    # Videos compare by chapter id: renaming a chapter is a chapter change, not a change of each video in it.
    return {**video, "chapter": video.get("video_group_id")}


def _milestone(milestone: dict[str, Any], video: dict[str, Any]) -> dict[str, Any]:
    return {"id": milestone["id"], "video_id": video["id"], "video_title": video["title"],
            "timestamp": milestone["timestamp"], "title": milestone["title"], "is_required": milestone["is_required"]}


def changes(published: dict[str, Any] | None, draft: dict[str, Any]) -> dict[str, Any]:
    base = EMPTY if published is None else published
    before_chapters = {g["id"]: g for g in base.get("video_groups", [])}
    after_chapters = {g["id"]: g for g in draft.get("video_groups", [])}
    chapters = {
        "added": [g for key, g in after_chapters.items() if key not in before_chapters],
        "removed": [g for key, g in before_chapters.items() if key not in after_chapters],
        "renamed": [{"id": key, "title": {"before": before_chapters[key]["title"], "after": g["title"]}}
                    for key, g in after_chapters.items()
                    if key in before_chapters and before_chapters[key]["title"] != g["title"]],
    }

    before_videos = {v["id"]: v for v in base.get("videos", [])}
    after_videos = {v["id"]: v for v in draft.get("videos", [])}
    video_changes: list[dict[str, Any]] = []
    for key, video in after_videos.items():
        if key not in before_videos:
            continue
        fields = _changed(_chapter_key(before_videos[key]), _chapter_key(video), VIDEO_FIELDS)
        if "chapter" in fields:
            fields["chapter"] = {"before": _chapter(before_videos[key], before_chapters),
                                 "after": _chapter(video, after_chapters)}
        if fields:
            video_changes.append({"id": key, "title": video["title"], "changes": fields})
    videos = {
        "added": [_video(v, after_chapters) for key, v in after_videos.items() if key not in before_videos],
        "removed": [_video(v, before_chapters) for key, v in before_videos.items() if key not in after_videos],
        "changed": video_changes,
    }

    # A video's milestones come and go with it, so an added or removed video's are listed too.
    before_milestones = {m["id"]: (m, v) for v in base.get("videos", []) for m in v.get("milestones", [])}
    after_milestones = {m["id"]: (m, v) for v in draft.get("videos", []) for m in v.get("milestones", [])}
    milestone_changes = []
    for key, (milestone, video) in after_milestones.items():
        if key in before_milestones and (fields := _changed(before_milestones[key][0], milestone, MILESTONE_FIELDS)):
            milestone_changes.append({"id": key, "video_id": video["id"], "video_title": video["title"],
                                      "title": milestone["title"], "changes": fields})
    milestones = {
        "added": [_milestone(m, v) for key, (m, v) in after_milestones.items() if key not in before_milestones],
        "removed": [_milestone(m, v) for key, (m, v) in before_milestones.items() if key not in after_milestones],
        "changed": milestone_changes,
    }

    lesson = _changed(base, draft, LESSON_FIELDS)
    has_changes = bool(lesson) or any(entries for group in (chapters, videos, milestones)
                                      for entries in group.values())
    return {"base_version": None if published is None else published.get("version"), "has_changes": has_changes,
            "lesson": lesson, "chapters": chapters, "videos": videos, "milestones": milestones}

"""Events of the content service (topic ``content.events``).

Each event carries what a consumer needs to keep its own projection without calling
content: progress keeps lessons (title, thumbnail), videos (duration) and required
milestones; assessment keeps transcripts and milestones for question generation.
"""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from .envelope import Event
from .privacy import ExportPart
from .topics import EXPORT_PARTS

LessonStatus = Literal["DRAFT", "PUBLISHED", "ARCHIVED"]
SeekPolicy = Literal["FREE", "NO_SKIP_AHEAD"]


class LessonCreated(Event):
    """A teacher created a lesson (a draft). Key: lesson_id."""

    event_type = "content.lesson.created.v1"
    key_field = "lesson_id"
    lesson_id: UUID = Field(description="The new lesson.")
    title: str = Field(description="The lesson title.")
    thumbnail: str | None = Field(default=None, description="Thumbnail URL or storage path.")
    created_by_id: UUID = Field(description="The teacher who owns the lesson.")
    seek_policy: SeekPolicy = Field(default="FREE", description="Whether students may skip ahead of what they watched.")
    auto_generate_questions: bool = Field(default=False, description="Generate questions when a transcript is ready.")


class LessonUpdated(Event):
    """A lesson's descriptive fields changed. Key: lesson_id."""

    event_type = "content.lesson.updated.v1"
    key_field = "lesson_id"
    lesson_id: UUID = Field(description="The lesson.")
    title: str = Field(description="The title after the change.")
    thumbnail: str | None = Field(default=None, description="The thumbnail after the change.")
    seek_policy: SeekPolicy = Field(default="FREE", description="The seek policy after the change.")
    auto_generate_questions: bool = Field(default=False, description="Generate questions when a transcript is ready.")


class LessonPublished(Event):
    """A lesson version was published: students see this frozen version. Key: lesson_id."""

    event_type = "content.lesson.published.v1"
    key_field = "lesson_id"
    lesson_id: UUID = Field(description="The lesson.")
    version: int = Field(ge=1, description="The published version number.")
    title: str = Field(description="The published title.")
    thumbnail: str | None = Field(default=None, description="The published thumbnail.")
    created_by_id: UUID = Field(description="The teacher who owns the lesson.")
    video_ids: list[UUID] = Field(default_factory=list, description="The lesson's videos in playback order.")


class LessonArchived(Event):
    """A lesson was archived: hidden from new students, history kept. Key: lesson_id."""

    event_type = "content.lesson.archived.v1"
    key_field = "lesson_id"
    lesson_id: UUID = Field(description="The archived lesson.")


class VideoGroupCreated(Event):
    """A chapter (video group) was added to a lesson. Key: video_group_id."""

    event_type = "content.video_group.created.v1"
    key_field = "video_group_id"
    video_group_id: UUID = Field(description="The new chapter.")
    lesson_id: UUID = Field(description="The lesson it belongs to.")
    title: str = Field(description="The chapter title.")
    position: int = Field(ge=0, description="Its place among the lesson's chapters.")


class VideoGroupUpdated(Event):
    """A chapter was renamed or moved. Key: video_group_id."""

    event_type = "content.video_group.updated.v1"
    key_field = "video_group_id"
    video_group_id: UUID = Field(description="The chapter.")
    lesson_id: UUID = Field(description="The lesson it belongs to.")
    title: str = Field(description="The title after the change.")
    position: int = Field(ge=0, description="The position after the change.")


class VideoGroupDeleted(Event):
    """A chapter was deleted. Key: video_group_id."""

    event_type = "content.video_group.deleted.v1"
    key_field = "video_group_id"
    video_group_id: UUID = Field(description="The deleted chapter.")
    lesson_id: UUID = Field(description="The lesson it belonged to.")


class VideoUploaded(Event):
    """A video's upload to storage was completed and verified. Key: video_id."""

    event_type = "content.video.uploaded.v1"
    key_field = "video_id"
    video_id: UUID = Field(description="The video.")
    lesson_id: UUID = Field(description="The lesson it belongs to.")
    video_group_id: UUID | None = Field(default=None, description="The chapter it belongs to, if any.")
    title: str = Field(description="The video title.")
    position: int = Field(default=0, ge=0, description="Its place in the chapter's playback order.")
    storage_path: str = Field(description="`gs://bucket/object` of the uploaded file.")
    content_type: str = Field(description="MIME type of the file, e.g. `video/mp4`.")
    size_bytes: int = Field(ge=0, description="Size of the stored object.")
    checksum: str = Field(description="CRC32C of the stored object, base64 as GCS reports it.")
    duration_seconds: float | None = Field(default=None, ge=0, description="Duration from ffprobe; null if unknown.")
    width: int | None = Field(default=None, ge=1, description="Frame width in pixels, if known.")
    height: int | None = Field(default=None, ge=1, description="Frame height in pixels, if known.")


class VideoUpdated(Event):
    """A video of a lesson's draft was renamed, reordered or moved to another chapter (or out of
    one). Published versions keep what they froze. Key: video_id."""

    event_type = "content.video.updated.v1"
    key_field = "video_id"
    video_id: UUID = Field(description="The video.")
    lesson_id: UUID = Field(description="The lesson it belongs to.")
    video_group_id: UUID | None = Field(default=None, description="Its chapter after the change; null for none.")
    title: str = Field(description="The title after the change.")
    position: int = Field(ge=0, description="Its place in playback order after the change.")


class VideoDeleted(Event):
    """A video was deleted from a lesson's draft, with its milestones. Published versions are frozen
    snapshots: one that holds the video keeps playing it until a new version is published. Key: video_id."""

    event_type = "content.video.deleted.v1"
    key_field = "video_id"
    video_id: UUID = Field(description="The deleted video.")
    lesson_id: UUID = Field(description="The lesson it belonged to.")
    milestone_ids: list[UUID] = Field(default_factory=list, description="Its milestones, gone from the draft with it.")
    in_published_version: bool = Field(
        default=False, description="Whether a published version still holds it (its file is kept for that version).")


class TranscriptSegment(BaseModel):
    """One timed cue of a transcript."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    start: float = Field(ge=0, description="Seconds into the video where the cue starts.")
    end: float = Field(ge=0, description="Seconds into the video where the cue ends.")
    text: str = Field(description="The cue's text, markup removed.")


class TranscriptReady(Event):
    """A transcript was uploaded and parsed into timed segments. Key: video_id."""

    event_type = "content.transcript.ready.v1"
    key_field = "video_id"
    transcript_id: UUID = Field(description="The transcript.")
    video_id: UUID = Field(description="The video it transcribes.")
    lesson_id: UUID = Field(description="The lesson of the video.")
    language: str = Field(description="BCP 47 language tag, e.g. `en`.")
    segment_count: int = Field(ge=0, description="How many timed segments it has.")
    segments_url: str = Field(description="Where the parsed segments can be fetched (content API path).")
    segments: list[TranscriptSegment] | None = Field(
        default=None, description="The timed segments themselves, so consumers need not call content "
        "(content caps a transcript's text at 512 KiB to keep the event well under Kafka's message limit).")


class MilestoneCreated(Event):
    """A milestone (checkpoint where playback pauses) was added to a video. Key: milestone_id."""

    event_type = "content.milestone.created.v1"
    key_field = "milestone_id"
    milestone_id: UUID = Field(description="The new milestone.")
    video_id: UUID = Field(description="The video it belongs to.")
    lesson_id: UUID = Field(description="The lesson of the video.")
    timestamp: float = Field(ge=0, description="Seconds into the video where playback pauses.")
    title: str = Field(description="The milestone title.")
    is_required: bool = Field(description="Whether the video cannot be completed without answering it.")


class MilestoneUpdated(Event):
    """A milestone's time, title or required flag changed. Key: milestone_id."""

    event_type = "content.milestone.updated.v1"
    key_field = "milestone_id"
    milestone_id: UUID = Field(description="The milestone.")
    video_id: UUID = Field(description="The video it belongs to.")
    lesson_id: UUID = Field(description="The lesson of the video.")
    timestamp: float = Field(ge=0, description="Seconds into the video after the change.")
    title: str = Field(description="The title after the change.")
    is_required: bool = Field(description="The required flag after the change.")


class MilestoneDeleted(Event):
    """A milestone was deleted. Key: milestone_id."""

    event_type = "content.milestone.deleted.v1"
    key_field = "milestone_id"
    milestone_id: UUID = Field(description="The deleted milestone.")
    video_id: UUID = Field(description="The video it belonged to.")
    lesson_id: UUID = Field(description="The lesson of the video.")


class ContentExportPart(ExportPart):
    """content's part of a person's data export, answering identity.user.export_requested.v1: one chunk of it.
    Topic: privacy.export-parts. Key: export_id."""

    event_type = "content.user.export_part.v1"
    topic = EXPORT_PARTS.name

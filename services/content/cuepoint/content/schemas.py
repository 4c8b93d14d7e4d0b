"""content's HTTP request and response bodies: what /openapi.json promises the web client."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, ConfigDict, Field, model_validator

from cuepoint.runtime.api_models import Out, Seconds, Strict

Title = Annotated[str, Field(min_length=1, max_length=200)]
Tag = Annotated[str, Field(min_length=1, max_length=50)]
LANGUAGE_PATTERN = r"^[a-zA-Z]{2,3}(-[a-zA-Z0-9]{2,8})*$"
"""A BCP 47 language tag, as a transcript's path names it (``en``, ``pt-BR``)."""
SeekPolicy = Literal["FREE", "NO_SKIP_AHEAD"]
LessonStatus = Literal["DRAFT", "PUBLISHED", "ARCHIVED"]
VideoStatus = Literal["UPLOADING", "UPLOADED", "READY", "FAILED", "EXPIRED"]
"""EXPIRED: an upload not completed before its session expired (nothing stored; publishing leaves it out)."""
TranscriptFormat = Literal["vtt", "srt"]


def _in_utc(value: datetime) -> datetime:
    # Pydantic writes "Z" only for a zero offset: a session whose TimeZone is not UTC would
    # otherwise answer "+01:00", and a naive value would carry no zone at all.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


Instant = Annotated[datetime, AfterValidator(_in_utc)]
"""A point in time, written as RFC 3339 in UTC (``2026-12-02T07:42:49.295562Z``)."""


# --- requests --------------------------------------------------------------------------------------

class LessonIn(Strict):
    title: Title
    description: str = Field(default="", max_length=5000)
    thumbnail: str | None = Field(default=None, max_length=2000)
    tags: list[Tag] = Field(default_factory=list, max_length=30)
    metadata: dict[str, Any] = Field(default_factory=dict)
    seek_policy: SeekPolicy = "FREE"
    auto_generate_questions: bool = False


class Patch(Strict):
    """A partial update: a field left out stays as it is."""

    clearable: ClassVar[frozenset[str]] = frozenset()
    """The fields that null empties; for the others null would reach a NOT NULL column."""

    @model_validator(mode="after")
    def _null_only_where_clearable(self) -> Patch:
        refused = sorted(name for name in self.model_fields_set
                         if getattr(self, name) is None and name not in self.clearable)
        if refused:
            raise ValueError(f"{', '.join(refused)} cannot be null; leave a field out to keep it as it is")
        return self


class LessonPatch(Patch):
    clearable = frozenset({"thumbnail"})

    title: Title | None = None
    description: str | None = Field(default=None, max_length=5000)
    thumbnail: str | None = Field(default=None, max_length=2000)
    tags: list[Tag] | None = Field(default=None, max_length=30)
    metadata: dict[str, Any] | None = None
    seek_policy: SeekPolicy | None = None
    auto_generate_questions: bool | None = None


class GroupIn(Strict):
    title: Title
    position: int | None = Field(default=None, ge=0, le=10_000)


class GroupPatch(Patch):
    title: Title | None = None
    position: int | None = Field(default=None, ge=0, le=10_000)


# What a client says about a file it is about to upload (a new video's, or a replacement).
ContentType = Annotated[str, Field(max_length=100, examples=["video/mp4"])]
SizeBytes = Annotated[int, Field(gt=0)]
BrowserDuration = Annotated[float | None, Field(
    gt=0, le=24 * 3600, description="As the browser reads it; ffprobe's value wins when available.")]
Checksum = Annotated[str | None, Field(
    pattern=r"^[A-Za-z0-9+/]{6}==$",
    description="CRC32C of the file, base64 as GCS reports it; checked on complete.")]


class UploadIn(Strict):
    """The server chooses where the file goes; the client only says what it is."""

    title: Title
    content_type: ContentType
    size_bytes: SizeBytes
    video_group_id: uuid.UUID | None = None
    position: int | None = Field(default=None, ge=0, le=10_000)
    duration_seconds: BrowserDuration = None
    checksum_crc32c: Checksum = None


class ReplacementIn(Strict):
    """A new file for an existing video: as an upload's start, without what the video already has
    (title, chapter, position)."""

    content_type: ContentType
    size_bytes: SizeBytes
    duration_seconds: BrowserDuration = None
    checksum_crc32c: Checksum = None


class VideoPatch(Patch):
    """Rename, reorder, or move to a chapter (null: out of any chapter)."""

    clearable = frozenset({"video_group_id"})

    title: Title | None = None
    position: int | None = Field(default=None, ge=0, le=10_000)
    video_group_id: uuid.UUID | None = None


class MilestoneIn(Strict):
    timestamp: float = Field(ge=0, le=24 * 3600, description="Seconds into the video.")
    title: Title
    is_required: bool = True


class MilestonePatch(Patch):
    timestamp: float | None = Field(default=None, ge=0, le=24 * 3600)
    title: Title | None = None
    is_required: bool | None = None


class TranscriptIn(Strict):
    format: TranscriptFormat
    content: str = Field(min_length=1, max_length=2_000_000)


# --- responses -------------------------------------------------------------------------------------

class Milestone(Out):
    """A checkpoint in a video where playback pauses for questions."""

    id: uuid.UUID
    video_id: uuid.UUID
    timestamp: Seconds = Field(description="Seconds into the video.")
    title: str
    is_required: bool = Field(description="Whether the student must answer before playing on.")


class MilestoneLookup(Out):
    """A milestone as playback needs it (the seed's Video Milestone Lookup)."""

    id: uuid.UUID
    timestamp: Seconds = Field(description="Seconds into the video.")
    title: str
    is_required: bool = Field(description="Whether the student must answer before playing on.")
    question_count: int = Field(description="Approved questions at this milestone.")


class VideoMetadata(Out):
    """What the upload check and ffprobe learned about the stored file; each field only once known."""

    # Every field is always written (null until known): the schema says so, so generated
    # types read `size: number | null`, not `size?: ...`.
    model_config = ConfigDict(json_schema_serialization_defaults_required=True)

    size: int | None = Field(default=None, description="Bytes in storage.")
    content_type: str | None = None
    checksum: str | None = Field(default=None, description="CRC32C, base64, as GCS reports it.")
    md5: str | None = Field(default=None, description="MD5, base64, as GCS reports it.")
    width: int | None = Field(default=None, description="Pixels, from ffprobe.")
    height: int | None = Field(default=None, description="Pixels, from ffprobe.")
    codec: str | None = Field(default=None, description="The video stream's codec, from ffprobe.")
    expected_checksum: str | None = Field(default=None, description="The CRC32C the uploader announced.")
    failure: str | None = Field(default=None, description="Why the upload failed (status FAILED).")


class Video(Out):
    """A video of a lesson and the state of its upload."""

    model_config = ConfigDict(json_schema_serialization_defaults_required=True)  # as VideoMetadata's

    id: uuid.UUID
    lesson_id: uuid.UUID
    video_group_id: uuid.UUID | None = Field(description="Its chapter, if it has one.")
    title: str
    position: int
    duration: Seconds | None = Field(description="Seconds; unknown until the browser or ffprobe says.")
    status: VideoStatus = Field(description="UPLOADING until completed; UPLOADED, or READY once ffprobe read it; "
                                "EXPIRED if not completed in time.")
    upload_expires_at: Instant | None = Field(
        default=None, description="While UPLOADING or EXPIRED: when the upload session ends (ended).")
    storage_path: str = Field(description="Where the file is (gs://bucket/name).")
    metadata: VideoMetadata


class CompletedVideo(Video):
    """A video once its upload (or its file's replacement) is completed, with what the new file
    leaves out of place."""

    milestones_past_end: list[Milestone] = Field(
        default_factory=list, description="Milestones after the end of the file: kept, but playback never reaches "
        "them; move or delete them.")
    warnings: list[str] = Field(default_factory=list, description="What the author should look at, in words.")


class LessonVideo(Video):
    """A video inside a lesson, with its milestones in time order."""

    milestones: list[Milestone]


class VideoGroupSummary(Out):
    """A chapter inside a lesson."""

    id: uuid.UUID
    title: str
    position: int


class VideoGroup(VideoGroupSummary):
    """A chapter (video group) of a lesson."""

    lesson_id: uuid.UUID


class LessonSummary(Out):
    """A lesson in a list: authors see the working draft, students the published version."""

    model_config = ConfigDict(json_schema_serialization_defaults_required=True)  # as VideoMetadata's

    id: uuid.UUID
    title: str
    description: str
    thumbnail: str | None
    status: LessonStatus
    version: int = Field(description="The published version; 0 before the first publish.")
    created_by_id: uuid.UUID
    tags: list[str]
    metadata: dict[str, Any] = Field(description="Free-form data of the author's.")
    seek_policy: SeekPolicy = Field(description="NO_SKIP_AHEAD: students cannot seek past what they watched.")
    auto_generate_questions: bool
    has_unpublished_changes: bool | None = Field(
        default=None, description="Whether the draft differs from the published version; null in what students see.")
    published_at: Instant | None = Field(description="When the current version was published; null for a draft.")
    updated_at: Instant = Field(description="Last change of the draft (of the published draft, for students).")


class ExcludedVideo(Out):
    """A video of the draft that publishing leaves out: there is nothing to play."""

    video_id: uuid.UUID
    title: str
    status: Literal["EXPIRED", "FAILED"]
    reason: str = Field(description="Why, and what to do (delete it or upload again).")


class Lesson(LessonSummary):
    """A lesson with its chapters, videos and milestones."""

    video_groups: list[VideoGroupSummary]
    videos: list[LessonVideo]
    excluded_videos: list[ExcludedVideo] = Field(
        default_factory=list, description="Authors only: draft videos publishing leaves out (expired or failed "
        "uploads); empty in what students see.")


class UploadSession(Out):
    """Where the browser sends the file: one resumable upload session, bound to its type and size."""

    video_id: uuid.UUID
    upload_url: str = Field(description="PUT the file's bytes here, with this Content-Type.")
    method: Literal["PUT"]
    content_type: str
    size_bytes: int
    expires_at: Instant = Field(description="Complete the upload before this.")


class CaptionTrack(Out):
    """A transcript the player can show as captions (a <track> element)."""

    language: str = Field(description="BCP 47 language tag.", examples=["en", "pt-BR"])
    label: str = Field(description="A name for the caption menu.", examples=["English", "Portuguese (Brazil)"])
    path: str = Field(description="The WebVTT file, relative to the content API.",
                      examples=["/v1/videos/0b9e…/transcripts/en.vtt"])


class Playback(Out):
    """What a player needs: a short-lived URL, where to pause, which captions exist."""

    video_id: uuid.UUID
    url: str = Field(description="A signed URL of the file; it accepts Range requests.")
    expires_at: Instant = Field(description="When the URL stops working; ask again after.")
    duration: Seconds | None = Field(description="Seconds, when known.")
    milestones: list[MilestoneLookup]
    captions: list[CaptionTrack]


class TranscriptSummary(Out):
    """A stored transcript."""

    id: uuid.UUID
    video_id: uuid.UUID
    language: str
    segment_count: int


class TranscriptSegment(Out):
    """A cue: text and when it is spoken."""

    start: Seconds = Field(description="Seconds into the video.")
    end: Seconds = Field(description="Seconds into the video.")
    text: str


class Transcript(Out):
    """A transcript's parsed, timed segments in time order."""

    id: uuid.UUID
    video_id: uuid.UUID
    language: str
    format: TranscriptFormat = Field(description="The format it was uploaded in.")
    segments: list[TranscriptSegment]


# --- published versions and what publishing would change ------------------------------------------

class LessonVersionSummary(Out):
    """A published version of a lesson: a frozen snapshot students were (or are) shown."""

    version: int
    title: str = Field(description="The lesson's title in this version.")
    published_at: Instant
    published_by_id: uuid.UUID | None = Field(description="Who published it, if known.")
    video_count: int
    milestone_count: int
    required_milestone_count: int = Field(description="Milestones students must answer before playing on.")


class _Changes(Out):
    # Unchanged fields are written as null, not left out: generated types read `T | null`.
    model_config = ConfigDict(json_schema_serialization_defaults_required=True)


class TextChange(Out):
    before: str | None = Field(description="In the published version; null if it had none (or was never published).")
    after: str | None = Field(description="In the draft.")


class SeekPolicyChange(Out):
    before: SeekPolicy | None
    after: SeekPolicy


class PositionChange(Out):
    before: int
    after: int


class DurationChange(Out):
    before: Seconds | None
    after: Seconds | None


class TimestampChange(Out):
    before: Seconds
    after: Seconds


class RequiredChange(Out):
    before: bool
    after: bool


class ChapterRef(Out):
    id: uuid.UUID
    title: str | None = Field(description="Null for a chapter the draft no longer has.")


class ChapterMove(Out):
    before: ChapterRef | None = Field(description="Null: out of any chapter.")
    after: ChapterRef | None = Field(description="Null: out of any chapter.")


class LessonFieldChanges(_Changes):
    """The lesson's own fields that differ; null where the draft keeps the published value."""

    title: TextChange | None = None
    description: TextChange | None = None
    thumbnail: TextChange | None = None
    seek_policy: SeekPolicyChange | None = None


class RenamedChapter(Out):
    id: uuid.UUID
    title: TextChange


class ChapterChanges(Out):
    added: list[VideoGroupSummary]
    removed: list[VideoGroupSummary]
    renamed: list[RenamedChapter]


class VideoInVersion(Out):
    """A video as a version lists it (added: the draft's; removed: the published one's)."""

    id: uuid.UUID
    title: str
    position: int
    duration: Seconds | None
    chapter: ChapterRef | None
    milestone_count: int


class VideoFieldChanges(_Changes):
    title: TextChange | None = None
    position: PositionChange | None = None
    chapter: ChapterMove | None = None
    duration: DurationChange | None = None


class ChangedVideo(Out):
    id: uuid.UUID
    title: str = Field(description="The draft's title.")
    changes: VideoFieldChanges


class VideoChanges(Out):
    added: list[VideoInVersion]
    removed: list[VideoInVersion]
    changed: list[ChangedVideo]


class MilestoneInVersion(Out):
    id: uuid.UUID
    video_id: uuid.UUID
    video_title: str
    timestamp: Seconds
    title: str
    is_required: bool


class MilestoneFieldChanges(_Changes):
    timestamp: TimestampChange | None = None
    title: TextChange | None = None
    is_required: RequiredChange | None = None


class ChangedMilestone(Out):
    id: uuid.UUID
    video_id: uuid.UUID
    video_title: str
    title: str = Field(description="The draft's title.")
    changes: MilestoneFieldChanges


class MilestoneChanges(Out):
    added: list[MilestoneInVersion] = Field(description="With those of added videos.")
    removed: list[MilestoneInVersion] = Field(description="With those of removed videos.")
    changed: list[ChangedMilestone]


class LessonChanges(Out):
    """What publishing the draft now would change against the latest published version. Only videos
    publishing would include count (uploaded or ready): uploads in progress, expired or failed are not."""

    lesson_id: uuid.UUID
    base_version: int | None = Field(description="The published version compared with; null if never published "
                                     "(then everything is added).")
    has_changes: bool
    lesson: LessonFieldChanges
    chapters: ChapterChanges
    videos: VideoChanges
    milestones: MilestoneChanges

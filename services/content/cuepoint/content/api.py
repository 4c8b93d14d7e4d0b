"""content's HTTP API: routes parse, call a use case, and answer."""

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from cuepoint.runtime.auth import CurrentUser, Role, TokenVerifier, authentication, require_role

from .handlers import Content

Title = Annotated[str, Field(min_length=1, max_length=200)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LessonIn(Strict):
    title: Title
    description: str = Field(default="", max_length=5000)
    thumbnail: str | None = Field(default=None, max_length=2000)
    tags: list[Annotated[str, Field(min_length=1, max_length=50)]] = Field(default_factory=list, max_length=30)
    metadata: dict[str, Any] = Field(default_factory=dict)
    seek_policy: Literal["FREE", "NO_SKIP_AHEAD"] = "FREE"
    auto_generate_questions: bool = False


class LessonPatch(Strict):
    title: Title | None = None
    description: str | None = Field(default=None, max_length=5000)
    thumbnail: str | None = Field(default=None, max_length=2000)
    tags: list[Annotated[str, Field(min_length=1, max_length=50)]] | None = Field(default=None, max_length=30)
    metadata: dict[str, Any] | None = None
    seek_policy: Literal["FREE", "NO_SKIP_AHEAD"] | None = None
    auto_generate_questions: bool | None = None


class GroupIn(Strict):
    title: Title
    position: int | None = Field(default=None, ge=0, le=10_000)


class GroupPatch(Strict):
    title: Title | None = None
    position: int | None = Field(default=None, ge=0, le=10_000)


class UploadIn(Strict):
    """The server chooses where the file goes; the client only says what it is."""

    title: Title
    content_type: str = Field(max_length=100, examples=["video/mp4"])
    size_bytes: int = Field(gt=0)
    video_group_id: uuid.UUID | None = None
    position: int | None = Field(default=None, ge=0, le=10_000)
    duration_seconds: float | None = Field(default=None, gt=0, le=24 * 3600,
                                           description="As the browser reads it; ffprobe's value wins when available.")
    checksum_crc32c: str | None = Field(default=None, pattern=r"^[A-Za-z0-9+/]{6}==$",
                                        description="CRC32C of the file, base64 as GCS reports it; checked on complete.")


class MilestoneIn(Strict):
    timestamp: float = Field(ge=0, le=24 * 3600, description="Seconds into the video.")
    title: Title
    is_required: bool = True


class MilestonePatch(Strict):
    timestamp: float | None = Field(default=None, ge=0, le=24 * 3600)
    title: Title | None = None
    is_required: bool | None = None


class TranscriptIn(Strict):
    format: Literal["vtt", "srt"]
    content: str = Field(min_length=1, max_length=2_000_000)


def _set(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(exclude_unset=True)


def routers(content: Content, verifier: TokenVerifier) -> list[APIRouter]:
    authenticated = authentication(lambda request: verifier)
    User = Annotated[CurrentUser, Depends(authenticated)]
    Author = Annotated[CurrentUser, Depends(require_role(authenticated, Role.TEACHER))]

    lessons = APIRouter(prefix="/v1/lessons", tags=["lessons"])

    @lessons.post("", status_code=201)
    async def create_lesson(body: LessonIn, actor: Author) -> Any:
        return await content.create_lesson(actor, body.model_dump())

    @lessons.get("", summary="Lessons of my organisation; search is typo-tolerant. Students see published ones.")
    async def list_lessons(actor: User, q: str | None = Query(default=None, max_length=200),
                           status: Literal["DRAFT", "PUBLISHED", "ARCHIVED"] | None = None,
                           limit: int = Query(default=20, ge=1, le=100), offset: int = Query(default=0, ge=0)) -> Any:
        items, total = await content.list_lessons(actor, query=q, status=status, limit=limit, offset=offset)
        return {"items": items, "total": total, "limit": limit, "offset": offset}

    @lessons.get("/{lesson_id}", summary="Authors see the working draft; students the published version")
    async def get_lesson(lesson_id: uuid.UUID, actor: User) -> Any:
        return await content.get_lesson(actor, lesson_id)

    @lessons.patch("/{lesson_id}")
    async def update_lesson(lesson_id: uuid.UUID, body: LessonPatch, actor: Author) -> Any:
        return await content.update_lesson(actor, lesson_id, _set(body))

    @lessons.post("/{lesson_id}/publish", summary="Freeze the current draft as the version students see")
    async def publish(lesson_id: uuid.UUID, actor: Author) -> Any:
        return await content.publish(actor, lesson_id)

    @lessons.post("/{lesson_id}/archive", summary="Hide from new students; history is kept")
    async def archive(lesson_id: uuid.UUID, actor: Author) -> Any:
        return await content.archive(actor, lesson_id)

    @lessons.post("/{lesson_id}/video-groups", status_code=201)
    async def create_group(lesson_id: uuid.UUID, body: GroupIn, actor: Author) -> Any:
        return await content.create_group(actor, lesson_id, title=body.title, position=body.position)

    @lessons.post("/{lesson_id}/videos", status_code=201,
                  summary="Start an upload: a resumable session bound to the type and size")
    async def create_upload(lesson_id: uuid.UUID, body: UploadIn, actor: Author) -> Any:
        return await content.create_upload(actor, lesson_id, title=body.title, content_type=body.content_type,
                                           size_bytes=body.size_bytes, video_group_id=body.video_group_id,
                                           position=body.position, duration=body.duration_seconds,
                                           checksum=body.checksum_crc32c)

    groups = APIRouter(prefix="/v1/video-groups", tags=["lessons"])

    @groups.patch("/{group_id}")
    async def update_group(group_id: uuid.UUID, body: GroupPatch, actor: Author) -> Any:
        return await content.update_group(actor, group_id, _set(body))

    @groups.delete("/{group_id}", status_code=204)
    async def delete_group(group_id: uuid.UUID, actor: Author) -> Response:
        await content.delete_group(actor, group_id)
        return Response(status_code=204)

    videos = APIRouter(prefix="/v1/videos", tags=["videos"])

    @videos.post("/{video_id}/complete", summary="Verify the uploaded object and publish VideoUploaded")
    async def complete(video_id: uuid.UUID, actor: Author) -> Any:
        return await content.complete_upload(actor, video_id)

    @videos.get("/{video_id}/playback", summary="A short-lived URL and the milestones where playback pauses")
    async def playback(video_id: uuid.UUID, actor: User) -> Any:
        return await content.playback(actor, video_id)

    @videos.get("/{video_id}/milestones", summary="Milestones with approved-question counts (playback lookup)")
    async def milestones(video_id: uuid.UUID, actor: User) -> Any:
        return await content.milestones(actor, video_id)

    @videos.post("/{video_id}/milestones", status_code=201)
    async def create_milestone(video_id: uuid.UUID, body: MilestoneIn, actor: Author) -> Any:
        return await content.create_milestone(actor, video_id, timestamp=body.timestamp, title=body.title,
                                              is_required=body.is_required)

    @videos.put("/{video_id}/transcripts/{language}", status_code=201, summary="Upload a WebVTT or SRT transcript")
    async def upload_transcript(video_id: uuid.UUID, body: TranscriptIn, actor: Author,
                                language: str = Path(pattern=r"^[a-zA-Z]{2,3}(-[a-zA-Z0-9]{2,8})*$")) -> Any:
        return await content.upload_transcript(actor, video_id, language=language, format=body.format,
                                               content=body.content)

    @videos.get("/{video_id}/transcripts/{language}", summary="The parsed, timed segments")
    async def transcript(video_id: uuid.UUID, language: str, actor: User) -> Any:
        return await content.transcript(actor, video_id, language)

    milestone_routes = APIRouter(prefix="/v1/milestones", tags=["videos"])

    @milestone_routes.patch("/{milestone_id}")
    async def update_milestone(milestone_id: uuid.UUID, body: MilestonePatch, actor: Author) -> Any:
        return await content.update_milestone(actor, milestone_id, _set(body))

    @milestone_routes.delete("/{milestone_id}", status_code=204)
    async def delete_milestone(milestone_id: uuid.UUID, actor: Author) -> Response:
        await content.delete_milestone(actor, milestone_id)
        return Response(status_code=204)

    return [lessons, groups, videos, milestone_routes]

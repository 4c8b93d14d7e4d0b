"""content's HTTP API: routes parse, call a use case, and answer."""

import uuid
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel

from cuepoint.runtime.api_models import Offset, Page
from cuepoint.runtime.auth import CurrentUser, Role, TokenVerifier, authentication, require_role
from cuepoint.runtime.db import ReadPool
from cuepoint.runtime.errors import TooLarge
from cuepoint.runtime.unit_of_work import UnitsOfWork

from . import views
from .schemas import (LANGUAGE_PATTERN, GroupIn, GroupPatch, Lesson, LessonChanges, LessonIn, LessonPatch,
                      LessonStatus, LessonSummary, LessonVersionSummary, Milestone, MilestoneIn, MilestoneLookup, MilestonePatch, Playback, Transcript,
                      TranscriptIn, TranscriptSummary, UploadIn, ReplacementIn, CompletedVideo, UploadSession, Video, VideoGroup,
                      VideoPatch)
from .settings import ContentSettings
from .lookup_cache import LookupCache
from .storage import VideoStorage
from .unit_of_work import ContentUnitOfWork
from .use_cases import chapters, lessons as lesson_cases, milestones as milestone_cases, transcripts
from .use_cases import videos as video_cases
from .use_cases.videos import ConfigLookup, Probe


class WebVTTResponse(Response):
    media_type = "text/vtt"  # Starlette adds "; charset=utf-8" to text/* types


def _set(model: BaseModel) -> dict[str, Any]:
    """A patch's fields that were sent: the command's others stay UNSET."""
    return model.model_dump(exclude_unset=True)


@dataclass(frozen=True)
class Dependencies:
    """What the routes hand to use cases and views (bootstrap.py builds it)."""

    units: UnitsOfWork[ContentUnitOfWork]
    sessions: views.Sessions
    lookups: ReadPool  # the playback lookup's connections (one round trip a lookup)
    kept_lookups: LookupCache  # its answers until content changes (none kept: every lookup reads)
    storage: VideoStorage
    settings: ContentSettings
    config: ConfigLookup
    probe: Probe


PROBLEM_SCHEMA = {"type": "object", "required": ["type", "title", "status"], "properties": {
    "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
    "detail": {"type": "string"}, "instance": {"type": "string"}}}


def problems(**answers: str) -> dict[int | str, dict[str, Any]]:
    """4xx answers for the document: ``problems(_404="no such video")``, each a problem+json body."""
    return {int(code.lstrip("_")): {"description": description,
                                     "content": {"application/problem+json": {"schema": PROBLEM_SCHEMA}}}
            for code, description in answers.items()}


IMAGE_MEDIA = ("image/png", "image/jpeg", "image/webp")


def routers(deps: Dependencies, verifier: TokenVerifier) -> list[APIRouter]:
    units = deps.units
    authenticated = authentication(lambda request: verifier)
    User = Annotated[CurrentUser, Depends(authenticated)]
    Author = Annotated[CurrentUser, Depends(require_role(authenticated, Role.TEACHER))]

    lessons = APIRouter(prefix="/v1/lessons", tags=["lessons"])

    @lessons.post("", status_code=201, response_model=Lesson)
    async def create_lesson(body: LessonIn, actor: Author) -> Any:
        async with units(actor.tenant_id) as uow:
            return await lesson_cases.create_lesson(lesson_cases.CreateLesson(actor, **body.model_dump()), uow)

    @lessons.get("", response_model=Page[LessonSummary],
                 summary="Lessons of my organisation; search is typo-tolerant. Students see published ones.")
    async def list_lessons(actor: User, q: str | None = Query(default=None, max_length=200),
                           status: LessonStatus | None = None,
                           limit: int = Query(default=20, ge=1, le=100), offset: Offset = 0) -> Any:
        items, total = await views.list_lessons(deps.sessions, actor, query=q, status=status, limit=limit,
                                                offset=offset)
        return {"items": items, "total": total, "limit": limit, "offset": offset}

    @lessons.get("/{lesson_id}", response_model=Lesson,
                 summary="Authors see the working draft; students the published version")
    async def get_lesson(lesson_id: uuid.UUID, actor: User) -> Any:
        return await views.get_lesson(deps.sessions, actor, lesson_id)

    @lessons.patch("/{lesson_id}", response_model=Lesson)
    async def update_lesson(lesson_id: uuid.UUID, body: LessonPatch, actor: Author) -> Any:
        async with units(actor.tenant_id) as uow:
            return await lesson_cases.update_lesson(lesson_cases.UpdateLesson(actor, lesson_id, **_set(body)), uow)

    @lessons.put("/{lesson_id}/thumbnail", response_model=Lesson,
                 summary="Upload the lesson's thumbnail image (PNG, JPEG or WebP; the body is the image)",
                 openapi_extra={"requestBody": {"required": True, "content": {
                     media: {"schema": {"type": "string", "format": "binary"}} for media in IMAGE_MEDIA}}},
                 responses=problems(_403="not the lesson's author", _404="no such lesson", _409="the lesson is archived",
                                    _413="larger than the limit", _415="not a PNG, JPEG or WebP image",
                                    _422="the bytes are not the image type they were sent as"))
    async def set_thumbnail(lesson_id: uuid.UUID, request: Request, actor: Author) -> Any:
        limit = deps.settings.thumbnail_max_bytes
        data = bytearray()
        async for chunk in request.stream():  # never more than the limit in memory
            data += chunk
            if len(data) > limit:
                raise TooLarge(f"a thumbnail may be at most {limit // 1024} KB")
        command = lesson_cases.SetThumbnail(actor, lesson_id, bytes(data), request.headers.get("content-type", ""))
        return await lesson_cases.set_thumbnail(command, units, storage=deps.storage, settings=deps.settings)

    @lessons.post("/{lesson_id}/publish", response_model=Lesson,
                  summary="Freeze the current draft as the version students see",
                  responses=problems(_403="not the lesson's author", _404="no such lesson", _409=(
                      "no uploaded video, a video still uploading, or a required milestone without an approved "
                      "question (`milestones` names each, with its video)")))
    async def publish(lesson_id: uuid.UUID, actor: Author) -> Any:
        async with units(actor.tenant_id) as uow:
            return await lesson_cases.publish_lesson(lesson_cases.PublishLesson(actor, lesson_id), uow)

    @lessons.get("/{lesson_id}/versions", response_model=Page[LessonVersionSummary],
                 summary="The published versions, newest first (the lesson's author or an admin)",
                 responses=problems(_403="not the lesson's author", _404="no such lesson"))
    async def versions(lesson_id: uuid.UUID, actor: Author, limit: int = Query(default=20, ge=1, le=100),
                       offset: Offset = 0) -> Any:
        items, total = await views.versions(deps.sessions, actor, lesson_id, limit=limit, offset=offset)
        return {"items": items, "total": total, "limit": limit, "offset": offset}

    @lessons.get("/{lesson_id}/changes", response_model=LessonChanges,
                 summary="What publishing now would change against the latest published version",
                 responses=problems(_403="not the lesson's author", _404="no such lesson"))
    async def changes(lesson_id: uuid.UUID, actor: Author) -> Any:
        return await views.changes(deps.sessions, actor, lesson_id)

    @lessons.post("/{lesson_id}/archive", response_model=Lesson, summary="Hide from new students; history is kept")
    async def archive(lesson_id: uuid.UUID, actor: Author) -> Any:
        async with units(actor.tenant_id) as uow:
            return await lesson_cases.archive_lesson(lesson_cases.ArchiveLesson(actor, lesson_id), uow)

    @lessons.post("/{lesson_id}/video-groups", status_code=201, response_model=VideoGroup)
    async def create_group(lesson_id: uuid.UUID, body: GroupIn, actor: Author) -> Any:
        command = chapters.CreateChapter(actor, lesson_id, body.title, body.position)
        async with units(actor.tenant_id) as uow:
            return await chapters.create_chapter(command, uow)

    @lessons.post("/{lesson_id}/videos", status_code=201, response_model=UploadSession,
                  summary="Start an upload: a resumable session bound to the type and size")
    async def create_upload(lesson_id: uuid.UUID, body: UploadIn, actor: Author) -> Any:
        command = video_cases.StartUpload(
            actor, lesson_id, title=body.title, content_type=body.content_type, size_bytes=body.size_bytes,
            video_group_id=body.video_group_id, position=body.position, duration=body.duration_seconds,
            checksum=body.checksum_crc32c)
        return await video_cases.start_upload(command, units, storage=deps.storage, settings=deps.settings,
                                              config=deps.config)

    groups = APIRouter(prefix="/v1/video-groups", tags=["lessons"])

    @groups.patch("/{group_id}", response_model=VideoGroup)
    async def update_group(group_id: uuid.UUID, body: GroupPatch, actor: Author) -> Any:
        async with units(actor.tenant_id) as uow:
            return await chapters.update_chapter(chapters.UpdateChapter(actor, group_id, **_set(body)), uow)

    @groups.delete("/{group_id}", status_code=204)
    async def delete_group(group_id: uuid.UUID, actor: Author) -> Response:
        async with units(actor.tenant_id) as uow:
            await chapters.delete_chapter(chapters.DeleteChapter(actor, group_id), uow)
        return Response(status_code=204)

    videos = APIRouter(prefix="/v1/videos", tags=["videos"])

    @videos.post("/{video_id}/complete", response_model=CompletedVideo,
                 summary="Verify the uploaded object (a first upload or a replacement) and publish VideoUploaded",
                 responses=problems(_403="not the lesson's author", _404="no such video",
                                    _409="nothing uploaded yet, or the upload failed",
                                    _410="the upload session expired (a replacement's: the video keeps its file)",
                                    _422="the file is not what was announced, or not a video ffprobe can read"))
    async def complete(video_id: uuid.UUID, actor: Author) -> Any:
        return await video_cases.complete_upload(video_cases.CompleteUpload(actor, video_id), units,
                                                 storage=deps.storage, config=deps.config, probe=deps.probe)

    @videos.post("/{video_id}/replace", status_code=201, response_model=UploadSession,
                 summary="Start uploading a new file for this video; complete swaps it in for the draft",
                 description="The video keeps its id, title, position, chapter, milestones and transcripts. The new "
                 "file goes to a new object: published versions keep playing the one they were published with "
                 "until the next publication, and a replacement never completed leaves the current file in place.",
                 responses=problems(_403="not the lesson's author", _404="no such video",
                                    _409="the lesson is archived, or the video has no completed file yet",
                                    _422="a type or size this organisation does not accept"))
    async def replace_file(video_id: uuid.UUID, body: ReplacementIn, actor: Author) -> Any:
        command = video_cases.ReplaceFile(actor, video_id, content_type=body.content_type, size_bytes=body.size_bytes,
                                          duration=body.duration_seconds, checksum=body.checksum_crc32c)
        return await video_cases.replace_file(command, units, storage=deps.storage, settings=deps.settings,
                                              config=deps.config)

    @videos.patch("/{video_id}", response_model=Video, summary="Rename, reorder or move to a chapter (the draft)",
                  responses=problems(_403="not the lesson's author", _404="no such video",
                                     _409="the lesson is archived", _422="the chapter is of another lesson"))
    async def update_video(video_id: uuid.UUID, body: VideoPatch, actor: Author) -> Any:
        async with units(actor.tenant_id) as uow:
            return await video_cases.update_video(video_cases.UpdateVideo(actor, video_id, **_set(body)), uow)

    @videos.delete("/{video_id}", status_code=204,
                   summary="Delete a video (and its milestones) from the draft; a published version keeps it",
                   responses=problems(_403="not the lesson's author", _404="no such video",
                                      _409="the lesson is archived"))
    async def delete_video(video_id: uuid.UUID, actor: Author) -> Response:
        await video_cases.delete_video(video_cases.DeleteVideo(actor, video_id), units, storage=deps.storage)
        return Response(status_code=204)

    @videos.get("/{video_id}/playback", response_model=Playback,
                summary="A short-lived URL and the milestones where playback pauses")
    async def playback(video_id: uuid.UUID, actor: User) -> Any:
        return await views.playback(deps.sessions, deps.storage, deps.settings, actor, video_id)

    @videos.get("/{video_id}/milestones", response_model=list[MilestoneLookup],
                summary="Milestones with approved-question counts (playback lookup)")
    async def milestones(video_id: uuid.UUID, actor: User) -> Any:
        return await views.milestones(deps.lookups, deps.kept_lookups, actor, video_id)

    @videos.post("/{video_id}/milestones", status_code=201, response_model=Milestone)
    async def create_milestone(video_id: uuid.UUID, body: MilestoneIn, actor: Author) -> Any:
        command = milestone_cases.CreateMilestone(actor, video_id, body.timestamp, body.title, body.is_required)
        async with units(actor.tenant_id) as uow:
            return await milestone_cases.create_milestone(command, uow)

    @videos.put("/{video_id}/transcripts/{language}", status_code=201, response_model=TranscriptSummary,
                summary="Upload a WebVTT or SRT transcript")
    async def upload_transcript(video_id: uuid.UUID, body: TranscriptIn, actor: Author,
                                language: Annotated[str, Path(pattern=LANGUAGE_PATTERN)]) -> Any:
        command = transcripts.UploadTranscript(actor, video_id, language, body.format, body.content)
        async with units(actor.tenant_id) as uow:
            return await transcripts.upload_transcript(command, uow)

    # Before the JSON route below, whose {language} would otherwise swallow "en.vtt".
    @videos.get("/{video_id}/transcripts/{language}.vtt", response_class=WebVTTResponse,
                summary="The transcript as a WebVTT caption track (for a <track> element)",
                responses={200: {"content": {"text/vtt": {"schema": {"type": "string"}}},
                                 "description": "A WebVTT file, one cue per segment"}})
    async def captions(video_id: uuid.UUID, actor: User,
                       language: Annotated[str, Path(pattern=LANGUAGE_PATTERN)]) -> WebVTTResponse:
        return WebVTTResponse(await views.captions(deps.sessions, actor, video_id, language))

    @videos.get("/{video_id}/transcripts/{language}", response_model=Transcript, summary="The parsed, timed segments")
    async def transcript(video_id: uuid.UUID, language: str, actor: User) -> Any:
        return await views.transcript(deps.sessions, actor, video_id, language)

    milestone_routes = APIRouter(prefix="/v1/milestones", tags=["videos"])

    @milestone_routes.patch("/{milestone_id}", response_model=Milestone)
    async def update_milestone(milestone_id: uuid.UUID, body: MilestonePatch, actor: Author) -> Any:
        command = milestone_cases.UpdateMilestone(actor, milestone_id, **_set(body))
        async with units(actor.tenant_id) as uow:
            return await milestone_cases.update_milestone(command, uow)

    @milestone_routes.delete("/{milestone_id}", status_code=204)
    async def delete_milestone(milestone_id: uuid.UUID, actor: Author) -> Response:
        async with units(actor.tenant_id) as uow:
            await milestone_cases.delete_milestone(milestone_cases.DeleteMilestone(actor, milestone_id), uow)
        return Response(status_code=204)

    # No token: an <img> sends none. The name is the image's hash, so only who was shown a lesson
    # naming it can ask, and an image never changes under its name (cached for good).
    thumbnails = APIRouter(prefix="/v1/thumbnails", tags=["lessons"])

    @thumbnails.get("/{tenant_id}/{file_name}", response_class=Response,
                    summary="A lesson's thumbnail image, as its lesson names it",
                    responses={200: {"content": {media: {"schema": {"type": "string", "format": "binary"}}
                                                 for media in IMAGE_MEDIA}},
                               **problems(_404="no such image")})
    async def thumbnail(tenant_id: uuid.UUID,
                        file_name: str = Path(pattern=r"^[0-9a-f]{64}\.(png|jpg|webp)$")) -> Response:
        data, media_type = await views.thumbnail(deps.storage, tenant_id, file_name)
        return Response(data, media_type=media_type, headers={
            "Cache-Control": "public, max-age=31536000, immutable", "X-Content-Type-Options": "nosniff"})

    return [lessons, groups, videos, milestone_routes, thumbnails]

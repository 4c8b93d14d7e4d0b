"""Transcripts of a draft's videos (WebVTT or SRT), announced with their segments."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from cuepoint.contracts import content as events
from cuepoint.runtime.auth import CurrentUser

from .. import schemas
from ..domain.transcripts import accepted_segments, ensure_within_video
from ..unit_of_work import ContentUnitOfWork
from .lessons import editable_lesson


@dataclass(frozen=True)
class UploadTranscript:
    actor: CurrentUser
    video_id: uuid.UUID
    language: str
    format: str
    content: str


async def upload_transcript(command: UploadTranscript, uow: ContentUnitOfWork) -> schemas.TranscriptSummary:
    """Replaces the video's transcript in that language, and announces its segments (TranscriptReady)."""
    actor, video_id, language = command.actor, command.video_id, command.language
    segments = accepted_segments(command.content, command.format)
    transcript_id = uuid.uuid4()
    document = [{"start": s.start, "end": s.end, "text": s.text} for s in segments]
    video = await uow.videos.get(video_id)
    await editable_lesson(uow, actor, video.lesson_id)
    ensure_within_video(segments, video.duration)
    await uow.transcripts.replace(video_id=video_id, language=language, id=transcript_id, tenant_id=actor.tenant_id,
                                  format=command.format, segments=document, segment_count=len(segments),
                                  created_at=datetime.now(UTC))
    await uow.emit(events.TranscriptReady(
        transcript_id=transcript_id, video_id=video_id, lesson_id=video.lesson_id, language=language,
        segment_count=len(segments), segments_url=f"/v1/videos/{video_id}/transcripts/{language}",
        segments=document), actor_id=actor.id)
    return schemas.TranscriptSummary(id=transcript_id, video_id=video_id, language=language,
                                     segment_count=len(segments))

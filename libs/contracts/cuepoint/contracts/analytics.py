"""Client telemetry accepted by the analytics ingest API (topic ``analytics.client-events``).

The seed's event types: video playback, question interactions, navigation,
performance metrics and client errors. One model per type, discriminated by ``type``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .envelope import Event
from .privacy import ExportPart
from .topics import CLIENT_EVENTS, EXPORT_PARTS


class _ClientEvent(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class _PlaybackEvent(_ClientEvent):
    lesson_id: UUID = Field(description="The lesson being watched.")
    video_id: UUID = Field(description="The video being watched.")
    position: float = Field(ge=0, description="Playback position in seconds.")


class VideoPlay(_PlaybackEvent):
    type: Literal["video.play"] = "video.play"


class VideoPause(_PlaybackEvent):
    type: Literal["video.pause"] = "video.pause"


class VideoSeek(_PlaybackEvent):
    type: Literal["video.seek"] = "video.seek"
    from_position: float = Field(ge=0, description="Where the seek started, seconds.")


class PlayedRange(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")
    start: float = Field(ge=0, description="Range start, seconds.")
    end: float = Field(ge=0, description="Range end, seconds.")

    @model_validator(mode="after")
    def _forward(self) -> "PlayedRange":
        if self.end < self.start:
            raise ValueError("a played range cannot end before it starts")
        return self


class VideoHeartbeat(_PlaybackEvent):
    type: Literal["video.heartbeat"] = "video.heartbeat"
    played: list[PlayedRange] = Field(default_factory=list, description="Ranges played since the last heartbeat.")
    playback_rate: float = Field(default=1.0, gt=0, le=16, description="Current playback speed.")


class VideoRateChange(_PlaybackEvent):
    type: Literal["video.rate_change"] = "video.rate_change"
    playback_rate: float = Field(gt=0, le=16, description="The new playback speed.")


class VideoEnded(_PlaybackEvent):
    type: Literal["video.ended"] = "video.ended"


class QuestionShown(_ClientEvent):
    type: Literal["question.shown"] = "question.shown"
    lesson_id: UUID = Field(description="The lesson.")
    question_id: UUID = Field(description="The question displayed.")
    milestone_id: UUID | None = Field(default=None, description="The milestone that paused playback.")


class QuestionAnswered(_ClientEvent):
    type: Literal["question.answered"] = "question.answered"
    lesson_id: UUID = Field(description="The lesson.")
    question_id: UUID = Field(description="The question answered.")
    time_to_answer_ms: int = Field(ge=0, description="From shown to submitted.")


class HintRequested(_ClientEvent):
    type: Literal["question.hint"] = "question.hint"
    lesson_id: UUID = Field(description="The lesson.")
    question_id: UUID = Field(description="The question.")


class Navigation(_ClientEvent):
    type: Literal["navigation"] = "navigation"
    path: str = Field(max_length=2048, description="The client route navigated to.")
    referrer: str | None = Field(default=None, max_length=2048, description="The previous route.")


class PerformanceMetric(_ClientEvent):
    type: Literal["performance"] = "performance"
    name: str = Field(max_length=100, description="Metric name, e.g. `video.startup_ms`, `lcp_ms`.")
    value: float = Field(description="Metric value.")


class ClientError(_ClientEvent):
    type: Literal["error"] = "error"
    message: str = Field(max_length=2000, description="The error message.")
    source: str | None = Field(default=None, max_length=500, description="Where it happened (component or URL).")


ClientEvent = Annotated[
    VideoPlay
    | VideoPause
    | VideoSeek
    | VideoHeartbeat
    | VideoRateChange
    | VideoEnded
    | QuestionShown
    | QuestionAnswered
    | HintRequested
    | Navigation
    | PerformanceMetric
    | ClientError,
    Field(discriminator="type"),
]


class ClientEventRecorded(Event):
    """The ingest API accepted one client event. Key: user_id (one user's events stay in order)."""

    event_type = "analytics.client_event.recorded.v1"
    key_field = "user_id"
    topic = CLIENT_EVENTS.name
    user_id: UUID = Field(description="The user, from the access token.")
    device_id: str = Field(max_length=200, description="The client's device or browser id.")
    client_event_id: UUID = Field(description="Id the client gave the event, for deduplication of retries.")
    client_occurred_at: datetime = Field(description="When the client says it happened.")
    received_at: datetime = Field(description="When the ingest API accepted it.")
    user_agent: str | None = Field(default=None, max_length=500, description="The client's User-Agent header.")
    event: ClientEvent = Field(description="The typed client event.")


class AnalyticsExportPart(ExportPart):
    """analytics's part of a person's data export, answering identity.user.export_requested.v1: one chunk of it.
    Topic: privacy.export-parts. Key: export_id."""

    event_type = "analytics.user.export_part.v1"
    topic = EXPORT_PARTS.name

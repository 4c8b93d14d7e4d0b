"""analytics' response bodies: what /openapi.json promises the web client, field for field."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import Field, PlainSerializer

from cuepoint.runtime.api_models import Money, Out, Page, Percent, Score, Seconds

Mean = Annotated[float, PlainSerializer(lambda value: None if value is None else round(float(value), 2),
                                        return_type=float, when_used="json")]
"""An average of counts or of milliseconds, two decimals."""
FinePercent = Annotated[float, PlainSerializer(lambda value: None if value is None else round(float(value), 3),
                                               return_type=float, when_used="json")]
"""0–100 with three decimals: error rates are small and still worth telling apart."""


class EventProblem(Out):
    location: str = Field(description="Dotted path of the offending field in the event; empty for the whole event.")
    message: str


class RejectedEvent(Out):
    index: int = Field(description="Position of the event in the batch.")
    id: str | None = Field(description="The event's id as the client sent it.")
    errors: list[EventProblem]


class IngestResult(Out):
    accepted: int = Field(description="Events the broker acknowledged.")
    rejected: list[RejectedEvent] = Field(description="Events refused, each with why; the rest of the batch counts.")
    received_at: datetime


class LessonPerformance(Out):
    """One row of the seed's Teacher Analytics Query."""

    title: str
    enrolled_students: int
    avg_completion: Percent | None = Field(description="0–100; null without students.")
    avg_score: Percent | None = Field(description="0–100; null without graded answers.")
    avg_time_spent: Seconds | None = Field(description="Seconds; null without students.")


class ItemAnalysis(Out):
    question_id: uuid.UUID
    students: int
    difficulty: Score | None = Field(description="Share of students right at the first attempt, 0–1.")
    average_first_score: Score | None = Field(description="Mean score of first attempts, as a fraction 0–1.")
    average_attempts: Mean | None
    discrimination: Score | None = Field(
        description="Correlation (-1–1) of a right first attempt with the rest of the lesson's score; null when "
                    "it cannot be computed (e.g. everyone answered alike).")
    option_picks: dict[str, int] = Field(description="Option id → how many attempts picked it.")


class EngagementBucket(Out):
    start: int = Field(description="Start of the bucket, seconds into the video.")
    views: int = Field(description="Students who watched any of it.")
    rewatches: int
    drop_off: int = Field(description="Students for whom it is the furthest point watched.")


class EngagementMilestone(Out):
    id: uuid.UUID
    timestamp: Seconds
    title: str


class Engagement(Out):
    video_id: uuid.UUID
    bucket_seconds: int
    buckets: list[EngagementBucket]
    milestones: list[EngagementMilestone]


class LessonRate(Out):
    lesson_id: uuid.UUID
    title: str
    started: int
    completed: int
    completion_rate: Percent | None = Field(description="0–100; null when nobody started.")


class DayRate(Out):
    day: date
    active_users: int
    events: int
    client_errors: int
    error_rate_percent: FinePercent | None = Field(description="0–100; null on a day without events.")


class Rates(Out):
    lessons: list[LessonRate]
    days: list[DayRate]


class CompletionDay(Out):
    day: date = Field(description="A UTC calendar day.")
    started: int = Field(description="Students whose first progress on the lesson was that day.")
    completed: int = Field(description="Students who completed the lesson that day.")
    cumulative_started: int = Field(description="Students who had started by the end of the day (all time).")
    cumulative_completed: int = Field(description="Students who had completed by the end of the day (all time).")
    completion_rate: Percent | None = Field(
        description="cumulative_completed / cumulative_started at the end of the day, 0–100; null before anyone "
                    "started.")


class LessonCompletion(Out):
    lesson_id: uuid.UUID
    title: str
    start: date = Field(description="First day of the range (inclusive).")
    end: date = Field(description="Last day of the range (inclusive).")
    days: list[CompletionDay] = Field(description="Every day of the range, in order, days without activity included.")


class AIUsageMonth(Out):
    """One row of the seed's AI Usage Cost Tracking query."""

    month: datetime = Field(description="The first instant of the month.")
    request_type: str
    total_requests: int
    total_tokens: int
    total_cost: Money = Field(description="US dollars.")
    avg_response_time: Mean = Field(description="Milliseconds.")


class GenerationOutcome(Out):
    provider: str
    jobs: int
    succeeded: int
    success_rate: Percent = Field(description="0–100.")


class AIUsage(Out):
    months: list[AIUsageMonth]
    generation: list[GenerationOutcome]


class AuditEntry(Out):
    seq: int = Field(description="Position in this organisation's chain, from 1.")
    event_id: uuid.UUID
    actor_id: uuid.UUID | None
    action: str
    target_type: str
    target_id: str
    correlation_id: str | None
    occurred_at: datetime
    hash: str
    data: dict[str, Any] | None = Field(
        description="The event: what changed, with before and after where there is a before (e.g. old_role and "
                    "new_role); ids, no personal data. Null for an event analytics has not stored.")


class AuditPage(Out):
    items: list[AuditEntry]
    next_before_seq: int | None = Field(description="Pass as before_seq for the next (older) page; null at the end.")


class AuditProblem(Out):
    seq: int
    problem: str


class AuditVerification(Out):
    tenant_id: uuid.UUID
    checked: int = Field(description="Entries read.")
    intact: bool
    problems: list[AuditProblem]


LessonPerformancePage = Page[LessonPerformance]
ItemAnalysisPage = Page[ItemAnalysis]

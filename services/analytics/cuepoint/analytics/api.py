"""analytics' HTTP API: the client event ingest, dashboards (JSON or CSV) and the audit log."""

import csv
import io
import json
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import Response

from cuepoint.runtime.api_models import Offset
from cuepoint.runtime.auth import CurrentUser, Role, TokenVerifier, authentication, require_role
from cuepoint.runtime.errors import DomainError, Invalid
from cuepoint.runtime.logging import correlation_id

from .domain.telemetry import MAX_BYTES, may_hold_nul
from .schemas import AIUsage, AuditPage, AuditVerification, Engagement, IngestResult, ItemAnalysisPage, \
    LessonCompletion, LessonPerformancePage, Rates
from .use_cases.ingest import EventStream, RecordClientEvents, Units, record_client_events
from .views import AuditLog, Dashboards


class PayloadTooLarge(DomainError):
    status, title, slug = 413, "Payload too large", "payload-too-large"


CSV = {200: {"content": {"text/csv": {"schema": {"type": "string"}}},
             "description": "JSON; with format=csv, the same rows as CSV (a header line, then one line a row)."}}


def _page(rows: list[dict[str, Any]], format: str, name: str, limit: int, offset: int) -> Any:
    """JSON answers a page; CSV, an export, every row."""
    if format == "csv":
        return _table(rows, format, name)
    return {"items": rows[offset:offset + limit], "total": len(rows), "limit": limit, "offset": offset}


def _table(rows: list[dict[str, Any]], format: str, name: str) -> Any:
    out = io.StringIO()
    columns = list(rows[0]) if rows else []
    writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    for row in jsonable_encoder(rows):
        writer.writerow({k: json.dumps(v) if isinstance(v, dict | list) else v for k, v in row.items()})
    return Response(out.getvalue(), media_type="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})


def routers(units: Units, stream: EventStream, dashboards: Dashboards, audit: AuditLog,
            verifier: TokenVerifier) -> list[APIRouter]:
    authenticated = authentication(lambda request: verifier)
    User = Annotated[CurrentUser, Depends(authenticated)]
    Teacher = Annotated[CurrentUser, Depends(require_role(authenticated, Role.TEACHER))]
    Admin = Annotated[CurrentUser, Depends(require_role(authenticated, Role.ADMIN))]
    Format = Annotated[str, Query(pattern="^(json|csv)$", description="json (default) or csv")]
    Limit = Annotated[int, Query(ge=1, le=500, description="JSON only: CSV exports every row")]

    events = APIRouter(prefix="/v1/events", tags=["ingest"])

    @events.post("", status_code=202, response_model=IngestResult, summary="A batch of client events (≤ 500, ≤ 1 MB); 202 once the broker has them",
                 openapi_extra={"requestBody": {"content": {"application/json": {"schema": {
                     "type": "object", "required": ["device_id", "events"],
                     "properties": {"device_id": {"type": "string"},
                                    "events": {"type": "array", "maxItems": 500, "items": {"type": "object"}}}}}}}})
    async def ingest_events(request: Request, actor: User) -> Any:
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > MAX_BYTES:
            raise PayloadTooLarge(f"a batch is at most {MAX_BYTES} bytes; this one is {declared}")
        body = await request.body()
        if len(body) > MAX_BYTES:
            raise PayloadTooLarge(f"a batch is at most {MAX_BYTES} bytes; this one is {len(body)}")
        try:
            batch = json.loads(body)
        except ValueError as error:
            raise Invalid(f"the body is not JSON: {error}") from error
        if not isinstance(batch, dict):
            raise Invalid('the body is an object: {"device_id": …, "events": […]}')
        return await record_client_events(
            RecordClientEvents(actor, batch.get("device_id"), batch.get("events"),
                               user_agent=request.headers.get("user-agent"), correlation_id=correlation_id.get(),
                               nul_free=not may_hold_nul(body)),
            units, stream=stream)

    boards = APIRouter(prefix="/v1/dashboards", tags=["dashboards"])

    @boards.get("/lessons", response_model=LessonPerformancePage, responses=CSV,
                summary="Lesson performance (the seed's Teacher Analytics Query)")
    async def lessons(actor: Teacher, teacher_id: uuid.UUID | None = None, format: Format = "json",
                      limit: Limit = 100, offset: Offset = 0) -> Any:
        return _page(await dashboards.lessons(actor, teacher_id), format, "lessons", limit, offset)

    @boards.get("/lessons/{lesson_id}/questions", response_model=ItemAnalysisPage, responses=CSV,
                summary="Item analysis: difficulty, discrimination, option choices")
    async def questions(lesson_id: uuid.UUID, actor: Teacher, format: Format = "json", limit: Limit = 100,
                        offset: Offset = 0) -> Any:
        return _page(await dashboards.questions(actor, lesson_id), format, "questions", limit, offset)

    @boards.get("/lessons/{lesson_id}/completion", response_model=LessonCompletion, responses=CSV,
                summary="Completion over time: started and completed per day, running totals and rate (CSV: the days)")
    async def completion(lesson_id: uuid.UUID, actor: Teacher,
                         start: Annotated[date | None, Query(description="Default: 29 days before end")] = None,
                         end: Annotated[date | None, Query(description="Default: today (UTC)")] = None,
                         format: Format = "json") -> Any:
        end = end or datetime.now(UTC).date()
        result = await dashboards.completion(actor, lesson_id, start or end - timedelta(days=29), end)
        return result if format == "json" else _table(result["days"], format, "completion")

    @boards.get("/videos/{video_id}/engagement", response_model=Engagement, responses=CSV,
                summary="Views, rewatches and drop-off per 5 seconds, milestones marked (CSV: the buckets)")
    async def engagement(video_id: uuid.UUID, actor: Teacher, format: Format = "json") -> Any:
        result = await dashboards.engagement(actor, video_id)
        return result if format == "json" else _table(result["buckets"], format, "engagement")

    @boards.get("/rates", response_model=Rates, responses=CSV,
                summary="Completion and engagement rates, active users and client errors per day (CSV: the days)")
    async def rates(actor: Teacher, start: date | None = None, end: date | None = None,
                    format: Format = "json") -> Any:
        end = end or date.today()
        result = await dashboards.rates(actor, start or end - timedelta(days=29), end)
        return result if format == "json" else _table(result["days"], format, "rates")

    @boards.get("/ai-usage", response_model=AIUsage, responses=CSV,
                summary="AI usage and cost by month and request type; generation success (admins; CSV: the months)")
    async def ai_usage(actor: Admin, format: Format = "json") -> Any:
        result = await dashboards.ai_usage(actor)
        return result if format == "json" else _table(result["months"], format, "ai-usage")

    audit_routes = APIRouter(prefix="/v1/audit-logs", tags=["audit"])

    @audit_routes.get("", response_model=AuditPage, responses=CSV,
                      summary="Search the audit log (newest first; page with before_seq)")
    async def search(actor: Admin, actor_id: uuid.UUID | None = None, target_type: str | None = None,
                     target_id: str | None = None, action: str | None = None, start: datetime | None = None,
                     end: datetime | None = None, limit: int = Query(default=50, ge=1, le=500),
                     before_seq: int | None = Query(default=None, ge=1, le=2**63 - 1), format: Format = "json") -> Any:
        result = await audit.search(actor, actor_id=actor_id, target_type=target_type, target_id=target_id,
                                    action=action, start=start, end=end, limit=limit, before_seq=before_seq)
        return result if format == "json" else _table(result["items"], format, "audit-log")

    @audit_routes.get("/verify", response_model=AuditVerification, summary="Check this organisation's audit chain for altered or missing entries")
    async def verify(actor: Admin) -> Any:
        return await audit.verify(actor.tenant_id)

    return [events, boards, audit_routes]

"""progress's HTTP API: sessions, resume, progress, the dashboard, and live streams (SSE)."""

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.sse import EventSourceResponse, ServerSentEvent
from pydantic import BaseModel

from cuepoint.runtime.api_models import Offset
from cuepoint.runtime.auth import CurrentUser, Role, TokenVerifier, authentication, require_role
from cuepoint.runtime.errors import DomainError
from cuepoint.runtime.unit_of_work import UnitsOfWork

from .live import COALESCE_SECONDS, LiveHub, SharedReads, Subscription, changes
from .schemas import (
    DashboardPage,
    LessonProgressOut,
    LessonProgressPage,
    ResumeOut,
    SessionOut,
    SessionPage,
    StudentStreamMessage,
)
from .unit_of_work import ProgressUnitOfWork
from .use_cases import sessions as session_use_cases
from .views import Views

# FastAPI sends a `: ping` comment after this long without an event (fastapi.sse); proxies (nginx, load
# balancers) close a connection idle for 60 s by default. A test holds it to this.
KEEPALIVE_SECONDS = 15
# How long a browser's EventSource waits before reconnecting; fetch-based readers may honour it too.
RETRY_MILLISECONDS = 3000

STREAM_PROTOCOL = f"""

The body is `text/event-stream`; read it with `fetch` and a `ReadableStream` (it needs the
`Authorization` header, which `EventSource` cannot send).

- On connecting: the comment `: connected` and `retry: {RETRY_MILLISECONDS}`, then the current state as
  `progress` events (the snapshot: one per lesson or student there is progress for), then each change.
  A client that connects (or reconnects) late is correct at once, without reading the JSON routes.
- `: ping` comments after {KEEPALIVE_SECONDS} s without an event, so that proxies keep the connection.
- No `id:`: a reconnection starts with the snapshot again.
"""

# Every event these streams send is named `progress` (an EventSource listens with addEventListener("progress")).
PROGRESS_EVENTS = {200: {"content": {"text/event-stream": {"itemSchema": {"properties": {
    "event": {"type": "string", "enum": ["progress"]}}}}}}}


def routers(views: Views, units: UnitsOfWork[ProgressUnitOfWork], hub: LiveHub, verifier: TokenVerifier
            ) -> list[APIRouter]:
    authenticated = authentication(lambda request: verifier)
    User = Annotated[CurrentUser, Depends(authenticated)]
    Teacher = Annotated[CurrentUser, Depends(require_role(authenticated, Role.TEACHER))]
    Limit = Annotated[int, Query(ge=1, le=100)]
    shared = SharedReads()  # a notice's read of a student's row, once for all the class streams it wakes

    sessions = APIRouter(prefix="/v1/sessions", tags=["sessions"])

    @sessions.get("", response_model=SessionPage,
                  summary="My sessions, one per device or browser, most recent first")
    async def list_sessions(actor: User, limit: Limit = 50, offset: Offset = 0) -> Any:
        return await views.list_sessions(actor, limit=limit, offset=offset)

    @sessions.post("/{session_id}/end", response_model=SessionOut,
                   summary="End one of my sessions (e.g. a lost device)")
    async def end_session(session_id: uuid.UUID, actor: User) -> Any:
        async with units(actor.tenant_id) as uow:
            ended = await session_use_cases.end_session(session_use_cases.EndSession(actor, session_id), uow,
                                                        now=datetime.now(UTC))
        return SessionOut.model_validate(ended)

    progress = APIRouter(prefix="/v1", tags=["progress"])

    @progress.get("/resume", response_model=ResumeOut,
                  summary="Where to continue: latest position on any device, watched segments, "
                          "milestones answered and the next required one")
    async def resume(actor: User, lesson_id: uuid.UUID | None = None, video_id: uuid.UUID | None = None,
                     student_id: uuid.UUID | None = Query(default=None, description="Teachers: a student's")) -> Any:
        return await views.resume(actor, lesson_id=lesson_id, video_id=video_id, student_id=student_id)

    @progress.get("/lessons/{lesson_id}/progress", response_model=LessonProgressPage,
                  summary="My progress in a lesson; its teacher sees every student")
    async def lesson_progress(lesson_id: uuid.UUID, actor: User, limit: Limit = 50, offset: Offset = 0) -> Any:
        return await views.lesson_progress(actor, lesson_id, limit=limit, offset=offset)

    @progress.get("/dashboard", response_model=DashboardPage,
                  summary="My active lessons with progress (the seed's Student Dashboard Query)")
    async def dashboard(actor: User, limit: Limit = 50, offset: Offset = 0) -> Any:
        return await views.dashboard(actor, limit=limit, offset=offset)

    async def follow(subscription: Subscription, event: str, key: str,
                     render: Callable[[dict[str, Any]], Awaitable[BaseModel | None]],
                     snapshot: Callable[[], Awaitable[list[dict[str, Any]]]],
                     shown: Callable[[BaseModel], Any] = lambda message: message,
                     interval: float = COALESCE_SECONDS) -> AsyncIterator[Any]:
        """FastAPI writes the events and, after 15 s without one, the `: ping` comment. The snapshot is
        read after subscribing, so a change in between is sent (again, if it shows something new) rather
        than missed. Then notices are coalesced per `key` (live.changes): a burst is read once per
        `interval`, its latest state always sent, and a message the client would show as before is
        not sent."""

        async def read(notice: dict[str, Any]) -> BaseModel | None:
            try:
                return await render(notice)
            except DomainError:  # e.g. a lesson without videos has nothing to resume: not worth a dead stream
                return None

        try:
            yield ServerSentEvent(retry=RETRY_MILLISECONDS, comment="connected")
            sent: dict[str, BaseModel] = {}
            for notice in await snapshot():
                data = await read(notice)
                if data is not None:
                    sent[notice[key]] = data
                    yield ServerSentEvent(event=event, data=data)
            async for data in changes(subscription, key=lambda notice: notice[key], read=read, shown=shown,
                                      already_sent=sent, interval=interval):
                yield ServerSentEvent(event=event, data=data)
        finally:
            hub.unsubscribe(subscription)

    # The return annotations name the type of each event's data (OpenAPI's itemSchema); the items
    # themselves are ServerSentEvents, to carry the event's name.
    @progress.get("/stream", response_class=EventSourceResponse,
                  summary="Server-Sent Events: my progress as it changes, for all my devices",
                  description="Event `progress`, whenever my progress in a lesson changes (playback projected, "
                              "an answer graded): `data` is one line of JSON, a `StudentStreamMessage` (the "
                              "lesson's progress and where to resume it)." + STREAM_PROTOCOL,
                  responses=PROGRESS_EVENTS)
    async def my_stream(actor: User) -> AsyncIterator[StudentStreamMessage]:
        tenant, me = str(actor.tenant_id), str(actor.id)

        async def render(notice: dict[str, Any]) -> StudentStreamMessage:
            lesson_id = uuid.UUID(notice["lesson_id"])
            return StudentStreamMessage(
                progress=await views.progress_of(actor.tenant_id, actor.id, lesson_id),
                resume=await views.resume(actor, lesson_id=lesson_id, video_id=None))

        async def snapshot() -> list[dict[str, Any]]:
            return [{"lesson_id": str(lesson)} for lesson in await views.lessons_of(actor.tenant_id, actor.id)]

        def shown(message: StudentStreamMessage) -> dict[str, Any]:
            # What the client shows; a row's updated_at alone moving (a heartbeat that changed nothing
            # else) is not worth a message, nor the client's refetch it triggers (web/src/api/live.ts).
            return message.model_dump(exclude={"progress": {"updated_at"}, "resume": {"updated_at"}})

        subscription = await hub.subscribe(lambda n: n["tenant_id"] == tenant and n["student_id"] == me)
        async for item in follow(subscription, "progress", "lesson_id", render, snapshot, shown):
            yield item

    async def lesson_author(lesson_id: uuid.UUID, actor: Teacher) -> CurrentUser:
        # A dependency, so that a refusal is an HTTP error and not a stream that breaks off.
        await views.lesson_author(actor, lesson_id)
        return actor

    @progress.get("/lessons/{lesson_id}/stream", response_class=EventSourceResponse,
                  summary="Server-Sent Events: a lesson's students live (teachers)",
                  description="Event `progress`, whenever a student's progress in this lesson changes: `data` is "
                              "one line of JSON, a `LessonProgressOut` (that student's progress)." + STREAM_PROTOCOL,
                  responses=PROGRESS_EVENTS)
    async def lesson_stream(lesson_id: uuid.UUID, actor: Annotated[CurrentUser, Depends(lesson_author)]
                            ) -> AsyncIterator[LessonProgressOut]:
        tenant, lesson = str(actor.tenant_id), str(lesson_id)

        async def render(notice: dict[str, Any]) -> LessonProgressOut | None:
            student = uuid.UUID(notice["student_id"])
            return await shared.read(notice, (actor.tenant_id, student, lesson_id),
                                     lambda: views.progress_of(actor.tenant_id, student, lesson_id))

        async def snapshot() -> list[dict[str, Any]]:
            return [{"student_id": str(student)} for student in await views.students_of(actor.tenant_id, lesson_id)]

        # The class view shows each row's updated_at: any change of the row is sent. No window: a teacher
        # sees a graded answer within R5's 50 ms, even right after that student's heartbeat; notices that
        # queue up while a read runs are still read once per student.
        subscription = await hub.subscribe(lambda n: n["tenant_id"] == tenant and n["lesson_id"] == lesson)
        async for item in follow(subscription, "progress", "student_id", render, snapshot, interval=0):
            yield item

    return [sessions, progress]

"""progress's HTTP API: sessions, resume, progress, the dashboard, and live streams (SSE)."""

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import StreamingResponse

from cuepoint.runtime.auth import CurrentUser, Role, TokenVerifier, authentication, require_role

from .live import LiveHub
from .reads import Reads

KEEPALIVE_SECONDS = 15.0


def _sse(event: str, data: Any) -> bytes:
    return f"event: {event}\ndata: {json.dumps(jsonable_encoder(data))}\n\n".encode()


def routers(reads: Reads, hub: LiveHub, verifier: TokenVerifier) -> list[APIRouter]:
    authenticated = authentication(lambda request: verifier)
    User = Annotated[CurrentUser, Depends(authenticated)]
    Teacher = Annotated[CurrentUser, Depends(require_role(authenticated, Role.TEACHER))]
    Limit = Annotated[int, Query(ge=1, le=100)]
    Offset = Annotated[int, Query(ge=0)]

    sessions = APIRouter(prefix="/v1/sessions", tags=["sessions"])

    @sessions.get("", summary="My sessions, one per device or browser, most recent first")
    async def list_sessions(actor: User) -> Any:
        return {"items": await reads.list_sessions(actor)}

    @sessions.post("/{session_id}/end", summary="End one of my sessions (e.g. a lost device)")
    async def end_session(session_id: uuid.UUID, actor: User) -> Any:
        return await reads.end_session(actor, session_id)

    progress = APIRouter(prefix="/v1", tags=["progress"])

    @progress.get("/resume", summary="Where to continue: latest position on any device, watched segments, "
                                     "milestones answered and the next required one")
    async def resume(actor: User, lesson_id: uuid.UUID | None = None, video_id: uuid.UUID | None = None,
                     student_id: uuid.UUID | None = Query(default=None, description="Teachers: a student's")) -> Any:
        return await reads.resume(actor, lesson_id=lesson_id, video_id=video_id, student_id=student_id)

    @progress.get("/lessons/{lesson_id}/progress", summary="My progress in a lesson; its teacher sees every student")
    async def lesson_progress(lesson_id: uuid.UUID, actor: User, limit: Limit = 50, offset: Offset = 0) -> Any:
        return await reads.lesson_progress(actor, lesson_id, limit=limit, offset=offset)

    @progress.get("/dashboard", summary="My active lessons with progress (the seed's Student Dashboard Query)")
    async def dashboard(actor: User) -> Any:
        return {"items": await reads.dashboard(actor)}

    async def stream(request: Request, match: Callable[[dict[str, Any]], bool],
                     render: Callable[[dict[str, Any]], Awaitable[Any]]) -> StreamingResponse:
        subscription = await hub.subscribe(match)

        async def events() -> AsyncIterator[bytes]:
            try:
                yield b": connected\n\n"
                while not await request.is_disconnected():
                    try:
                        notice = await asyncio.wait_for(subscription.queue.get(), timeout=KEEPALIVE_SECONDS)
                    except TimeoutError:
                        yield b": keep-alive\n\n"
                        continue
                    yield _sse("progress", await render(notice))
            finally:
                hub.unsubscribe(subscription)

        return StreamingResponse(events(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    @progress.get("/stream", summary="Server-Sent Events: my progress as it changes, for all my devices")
    async def my_stream(request: Request, actor: User) -> StreamingResponse:
        tenant, me = str(actor.tenant_id), str(actor.id)

        async def render(notice: dict[str, Any]) -> Any:
            lesson_id = uuid.UUID(notice["lesson_id"])
            return {"progress": await reads.progress_of(actor.tenant_id, actor.id, lesson_id),
                    "resume": await reads.resume(actor, lesson_id=lesson_id, video_id=None)}

        return await stream(request, lambda n: n["tenant_id"] == tenant and n["student_id"] == me, render)

    @progress.get("/lessons/{lesson_id}/stream", summary="Server-Sent Events: a lesson's students live (teachers)")
    async def lesson_stream(request: Request, lesson_id: uuid.UUID, actor: Teacher) -> StreamingResponse:
        await reads.lesson_author(actor, lesson_id)
        tenant, lesson = str(actor.tenant_id), str(lesson_id)

        async def render(notice: dict[str, Any]) -> Any:
            return await reads.progress_of(actor.tenant_id, uuid.UUID(notice["student_id"]), lesson_id)

        return await stream(request, lambda n: n["tenant_id"] == tenant and n["lesson_id"] == lesson, render)

    return [sessions, progress]

"""The FastAPI app every service starts from.

- errors are RFC 9457 ``application/problem+json`` (validation errors list each field);
- ``/healthz`` (the process is alive), ``/readyz`` (database and Kafka answer),
  ``/metrics`` (Prometheus);
- a request id (``X-Request-ID``, generated when absent) becomes the correlation id of
  the logs and of every event the request causes, and is echoed in the response.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any, Literal

import psycopg
import psycopg_pool
import sqlalchemy.exc
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi_offline import FastAPIOffline
from pydantic import BaseModel, ValidationError
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException

from .docs import ForwardedPrefix, docs_options
from .errors import DomainError, TooManyRequests, Unauthenticated
from .logging import correlation_id, log_context
from .metrics import HTTP_LATENCY, HTTP_REQUESTS
from .openapi_problems import document_problems
from .request_limits import RequestLimits

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
REQUEST_ID_HEADER = "X-Request-ID"



DATABASE_RETRY_AFTER_SECONDS = 5  # about what a PostgreSQL restart or crash recovery takes


def database_unavailable(error: BaseException) -> bool:
    """Whether ``error`` (or what it wraps) means PostgreSQL cannot be reached or used right now:
    psycopg's OperationalError and kin (refused, shut down, connection lost), SQLAlchemy's wrapper
    of them or of a connection it invalidated, and a pool that found no free connection in time."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, psycopg.OperationalError | psycopg_pool.PoolTimeout | sqlalchemy.exc.TimeoutError):
            return True
        if isinstance(current, sqlalchemy.exc.DBAPIError) and (
                current.connection_invalidated or isinstance(current, sqlalchemy.exc.OperationalError)):
            return True
        current = current.__cause__ or current.__context__
    return False


class Readiness(BaseModel):
    """What ``/readyz`` answers when the process can serve: each dependency checked."""

    status: Literal["ready"]
    service: str
    checks: dict[str, Literal["ok", "unavailable"]]


class DegradableReadiness(BaseModel):
    """``/readyz`` of a service with checks that degrade it rather than stop it (analytics' read replica): still
    200, ``degraded`` while one of them says what is wrong."""

    status: Literal["ready", "degraded"]
    service: str
    checks: dict[str, Literal["ok", "degraded", "unavailable"]]
    degraded: dict[str, str] = {}


class Problem(Exception):
    """Raise from a route or use case to answer a problem+json response."""

    def __init__(self, status: int, title: str, detail: str | None = None, *, type_: str = "about:blank",
                 headers: dict[str, str] | None = None, **extensions: Any) -> None:
        super().__init__(detail or title)
        self.headers = headers
        self.status = status
        self.title = title
        self.detail = detail
        self.type = type_
        self.extensions = extensions


def problem_response(status: int, title: str, detail: str | None = None, *, type_: str = "about:blank",
                     instance: str | None = None, headers: dict[str, str] | None = None, **extensions: Any) -> JSONResponse:
    body: dict[str, Any] = {"type": type_, "title": title, "status": status}
    if detail:
        body["detail"] = detail
    if instance:
        body["instance"] = instance
    if (request_id := correlation_id.get()) is not None:
        body["request_id"] = request_id
    body.update(extensions)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


ReadinessCheck = Callable[[], Awaitable[bool]]
DegradationCheck = Callable[[], Awaitable[str | None]]
"""None while all is well, else what degrades the service (it keeps serving: /readyz stays 200)."""


@dataclass
class ServiceHttp:
    """What a service plugs into the factory."""

    service: str
    version: str = "0.1.0"
    routers: Sequence[Any] = ()
    readiness: dict[str, ReadinessCheck] = field(default_factory=dict)
    degradations: dict[str, DegradationCheck] = field(default_factory=dict)
    lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]] | None = None
    description: str = ""


def create_app(spec: ServiceHttp) -> FastAPI:
    app = FastAPIOffline(  # Swagger UI served by the service itself (docs.py)
        **docs_options(),
        title=f"Cuepoint {spec.service}",
        version=spec.version,
        description=spec.description,
        lifespan=spec.lifespan,
        openapi_url="/openapi.json",
        root_path_in_servers=False,
    )
    _install_problem_handlers(app)
    document_problems(app)
    app.add_middleware(RequestLimits)  # added before RequestContext: runs inside it, refusals carry the request id
    _install_request_context(app)
    app.add_middleware(ForwardedPrefix)

    @app.get("/healthz", tags=["operations"], summary="Liveness: the process answers")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": spec.service}

    @app.get("/readyz", tags=["operations"], summary="Readiness: the database and Kafka answer",
             response_model=DegradableReadiness if spec.degradations else Readiness,
             responses={503: {"description": "A dependency does not answer (problem+json naming it)"}})
    async def readyz() -> Response:
        names = list(spec.readiness)
        results, degradations = await asyncio.gather(
            asyncio.gather(*(_run_check(spec.readiness[name]) for name in names)),
            asyncio.gather(*(_run_degradation(check) for check in spec.degradations.values())))
        checks: dict[str, str] = {name: ("ok" if ok else "unavailable") for name, ok in zip(names, results, strict=True)}
        degraded = {name: why for name, why in zip(spec.degradations, degradations, strict=True) if why}
        checks.update({name: "degraded" if name in degraded else "ok" for name in spec.degradations})
        if all(results):
            if spec.degradations:
                return JSONResponse({"status": "degraded" if degraded else "ready", "service": spec.service,
                                     "checks": checks, "degraded": degraded})
            return JSONResponse({"status": "ready", "service": spec.service, "checks": checks})
        failing = ", ".join(name for name, ok in zip(names, results, strict=True) if not ok)
        return problem_response(503, "Not ready", f"unavailable: {failing}", checks=checks)

    @app.get("/metrics", tags=["operations"], summary="Prometheus metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    for router in spec.routers:
        app.include_router(router)
    return app


async def _run_check(check: ReadinessCheck) -> bool:
    try:
        return bool(await asyncio.wait_for(check(), timeout=3))
    except Exception as error:
        log.warning("readiness check failed", extra={"error": repr(error)})
        return False


async def _run_degradation(check: DegradationCheck) -> str | None:
    try:
        return await asyncio.wait_for(check(), timeout=3)
    except Exception as error:
        log.warning("degradation check failed", extra={"error": repr(error)})
        return f"the check failed: {type(error).__name__}"


def _install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def on_problem(request: Request, error: Problem) -> JSONResponse:
        return problem_response(error.status, error.title, error.detail, type_=error.type,
                                instance=request.url.path, headers=error.headers, **error.extensions)

    @app.exception_handler(DomainError)
    async def on_domain_error(request: Request, error: DomainError) -> JSONResponse:
        # A 429, or a 503 that knows when to come back (``Unavailable(..., retry_after=5)``), says when.
        retry_after = error.retry_after if isinstance(error, TooManyRequests) else error.extensions.get("retry_after")
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
        if isinstance(error, Unauthenticated):
            headers = {"WWW-Authenticate": "Bearer"}
        return problem_response(error.status, error.title, error.detail, type_=f"/problems/{error.slug}",
                                instance=request.url.path, headers=headers, **error.extensions)

    @app.exception_handler(StarletteHTTPException)
    async def on_http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        title = {404: "Not found", 405: "Method not allowed", 401: "Unauthorized", 403: "Forbidden"}.get(
            error.status_code, "HTTP error")
        detail = error.detail if isinstance(error.detail, str) else None
        return problem_response(error.status_code, title, detail, instance=request.url.path,
                                headers=getattr(error, "headers", None))

    @app.exception_handler(RequestValidationError)
    @app.exception_handler(ValidationError)
    async def on_invalid(request: Request, error: RequestValidationError | ValidationError) -> JSONResponse:
        # A pydantic ValidationError from a use case is about the request body it was given.
        prefix = () if isinstance(error, RequestValidationError) else ("body",)
        errors = [
            {"location": ".".join(str(part) for part in (*prefix, *item.get("loc", ()))), "message": item.get("msg", ""),
             "type": item.get("type", "")}
            for item in error.errors()
        ]
        summary = "; ".join(f"{item['location']}: {item['message']}" for item in errors[:5])
        return problem_response(422, "Invalid request", summary, instance=request.url.path, errors=errors)


def _install_request_context(app: FastAPI) -> None:
    app.add_middleware(RequestContext)


class RequestContext:
    """Request id, correlation id, access log and metrics, as plain ASGI middleware
    (Starlette's BaseHTTPMiddleware costs several hundred microseconds a request)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or ())
        raw_id = headers.get(b"x-request-id") or headers.get(b"x-correlation-id") or b""
        request_id = raw_id.decode("latin-1") if 0 < len(raw_id) <= 200 else str(uuid.uuid4())
        token = correlation_id.set(request_id)
        try:
            with log_context():  # what the request adds (its tenant) goes on its lines, its own included
                await self._handle(scope, receive, send, request_id)
        finally:
            correlation_id.reset(token)

    async def _handle(self, scope: dict, receive: Any, send: Any, request_id: str) -> None:
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_with_id(message: dict) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status = message["status"]
                response_started = True
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception as error:
            # Answered here (not by an Exception handler, which Starlette runs outermost,
            # after this context is gone) so the answer carries the request id.
            if database_unavailable(error):
                # PostgreSQL stopped, restarting or out of connections: nothing was committed, so
                # the client may safely retry — say so (503 + Retry-After) rather than a 500.
                log.warning("database unavailable", extra={"path": scope.get("path"), "error": repr(error)})
                response = problem_response(503, "Service unavailable", "The database does not answer; retry shortly.",
                                            type_="/problems/unavailable", instance=scope.get("path"),
                                            headers={"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)})
            else:
                log.exception("unhandled error", extra={"path": scope.get("path")})
                response = problem_response(500, "Internal server error", "The error was logged with this request's id.",
                                            instance=scope.get("path"))
            if not response_started:
                await response(scope, receive, send_with_id)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", "unmatched")
            elapsed = time.perf_counter() - started
            method = scope.get("method", "")
            HTTP_REQUESTS.labels(method, path, str(status)).inc()
            HTTP_LATENCY.labels(method, path).observe(elapsed)
            if path not in ("/healthz", "/readyz", "/metrics"):
                log.info("request", extra={"method": method, "path": scope.get("path"), "route": path,
                                           "status": status, "duration_ms": round(elapsed * 1000, 2)})


"""The HTTP app factory: problem+json everywhere, request ids, health and readiness."""

from __future__ import annotations

import json
import logging

import httpx
import psycopg
import psycopg_pool
import pytest
import sqlalchemy.exc
from fastapi import APIRouter
from pydantic import BaseModel, Field

from cuepoint.runtime.http import Problem, ServiceHttp, create_app
from cuepoint.runtime.logging import JsonFormatter, correlation_id

pytestmark = pytest.mark.unit

# What a route sees when PostgreSQL is stopped, restarting or out of connections, as each layer raises it.
DATABASE_DOWN = {
    "psycopg": lambda: psycopg.OperationalError("connection failed: Connection refused"),
    "sqlalchemy": lambda: sqlalchemy.exc.OperationalError("SELECT 1", {}, psycopg.OperationalError("refused")),
    "invalidated": lambda: sqlalchemy.exc.DBAPIError("SELECT 1", {}, psycopg.InterfaceError("closed"),
                                                     connection_invalidated=True),
    "sqlalchemy-pool": lambda: sqlalchemy.exc.TimeoutError("QueuePool limit of size 10 overflow 10 reached"),
    "psycopg-pool": lambda: psycopg_pool.PoolTimeout("couldn't get a connection after 30.00 sec"),
    "admin-shutdown": lambda: psycopg.errors.AdminShutdown("terminating connection due to administrator command"),
}


class Lesson(BaseModel):
    title: str = Field(min_length=1, max_length=200)
    duration: int = Field(ge=0)


def _app(ready: dict[str, bool] | None = None):
    router = APIRouter()

    @router.post("/v1/lessons")
    async def create(lesson: Lesson) -> dict:
        return {"title": lesson.title, "request_id": correlation_id.get()}

    @router.get("/v1/lessons/{lesson_id}")
    async def get(lesson_id: str) -> dict:
        raise Problem(404, "Lesson not found", f"no lesson {lesson_id} in this tenant", type_="/problems/not-found")

    @router.get("/v1/crash")
    async def crash() -> dict:
        raise RuntimeError("secret connection string postgres://u:p@h")

    @router.get("/v1/database-down/{kind}")
    async def database_down(kind: str) -> dict:
        raise DATABASE_DOWN[kind]()

    async def passing() -> bool:
        return True

    async def failing() -> bool:
        raise ConnectionError("down")

    checks = {name: (passing if ok else failing) for name, ok in (ready or {"database": True}).items()}
    return create_app(ServiceHttp(service="probe", routers=[router], readiness=checks))


def _client(app) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, raise_app_exceptions=False), base_url="http://t")


async def test_validation_errors_are_problem_json_naming_each_field() -> None:
    async with _client(_app()) as client:
        response = await client.post("/v1/lessons", json={"title": "", "duration": -1})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["title"] == "Invalid request" and body["status"] == 422
    assert {error["location"] for error in body["errors"]} == {"body.title", "body.duration"}
    assert "body.title" in body["detail"]


async def test_domain_problems_unknown_routes_and_malformed_json() -> None:
    async with _client(_app()) as client:
        problem = await client.get("/v1/lessons/42")
        missing = await client.get("/v1/nothing-here")
        malformed = await client.post("/v1/lessons", content=b"{not json", headers={"content-type": "application/json"})
    assert problem.status_code == 404
    assert problem.json()["type"] == "/problems/not-found"
    assert problem.json()["detail"] == "no lesson 42 in this tenant"
    assert problem.json()["instance"] == "/v1/lessons/42"
    assert missing.status_code == 404 and missing.headers["content-type"] == "application/problem+json"
    assert malformed.status_code == 422 and malformed.headers["content-type"] == "application/problem+json"


async def test_unexpected_errors_answer_500_without_leaking_internals() -> None:
    async with _client(_app()) as client:
        response = await client.get("/v1/crash", headers={"X-Request-ID": "req-crash"})
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert "postgres://" not in response.text
    assert response.json()["request_id"] == "req-crash"


@pytest.mark.parametrize("kind", DATABASE_DOWN)
async def test_an_unavailable_database_answers_503_with_retry_after_not_500(kind: str) -> None:
    async with _client(_app()) as client:
        response = await client.get(f"/v1/database-down/{kind}", headers={"X-Request-ID": "req-db"})
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert int(response.headers["Retry-After"]) >= 1
    body = response.json()
    assert body["title"] == "Service unavailable" and body["request_id"] == "req-db"
    assert "refused" not in response.text and "QueuePool" not in response.text  # no internals


async def test_request_id_is_echoed_generated_and_visible_to_handlers() -> None:
    async with _client(_app()) as client:
        given = await client.post("/v1/lessons", json={"title": "t", "duration": 1}, headers={"X-Request-ID": "abc-123"})
        generated = await client.post("/v1/lessons", json={"title": "t", "duration": 1})
    assert given.headers["X-Request-ID"] == "abc-123"
    assert given.json()["request_id"] == "abc-123"
    assert len(generated.headers["X-Request-ID"]) == 36
    assert generated.json()["request_id"] == generated.headers["X-Request-ID"]


async def test_health_readiness_and_metrics() -> None:
    async with _client(_app({"database": True, "kafka": False})) as client:
        health = await client.get("/healthz")
        ready = await client.get("/readyz")
        await client.get("/v1/lessons/1")
        metrics = await client.get("/metrics")
    assert health.json() == {"status": "ok", "service": "probe"}
    assert ready.status_code == 503
    assert ready.headers["content-type"] == "application/problem+json"
    assert ready.json()["checks"] == {"database": "ok", "kafka": "unavailable"}
    assert 'cuepoint_http_requests_total{method="GET",route="/v1/lessons/{lesson_id}",status="404"}' in metrics.text
    async with _client(_app({"database": True})) as client:
        assert (await client.get("/readyz")).json()["status"] == "ready"


def test_json_logs_carry_service_and_correlation_id() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "relayed %d events", (3,), None)
    record.topic = "content.events"
    token = correlation_id.set("req-9")
    try:
        line = json.loads(JsonFormatter("content").format(record))
    finally:
        correlation_id.reset(token)
    assert line["msg"] == "relayed 3 events"
    assert line["service"] == "content" and line["correlation_id"] == "req-9" and line["topic"] == "content.events"

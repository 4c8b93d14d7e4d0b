"""Log lines a pipeline can index: every line is one JSON object with the service, the process, the
correlation id and the fields of the current log context; an API request's line carries the
tenant and user its token named."""

from __future__ import annotations

import json
import logging
import uuid

import httpx
import pytest
from fastapi import APIRouter, Depends

from cuepoint.runtime.auth import CurrentUser, Role, authentication
from cuepoint.runtime.http import ServiceHttp, create_app
from cuepoint.runtime.logging import JsonFormatter, add_to_log_context, log_context

pytestmark = pytest.mark.unit


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(JsonFormatter("probe", "api"))
        self.lines: list[dict] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))


@pytest.fixture
def lines():
    handler = Lines()
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield handler.lines
    root.removeHandler(handler)
    root.setLevel(level)


def test_a_line_carries_the_context_of_its_block_and_not_after(lines) -> None:
    log = logging.getLogger("probe")
    with log_context(event_id="e-1", event_type="x.y.z.v1", tenant_id=None):
        with log_context(group="g"):
            log.info("inner")
        add_to_log_context(tenant_id="t-1")
        log.info("outer")
    log.info("after")
    inner, outer, after = lines
    assert inner["event_id"] == "e-1" and inner["group"] == "g" and "tenant_id" not in inner
    assert outer["tenant_id"] == "t-1" and "group" not in outer
    assert "event_id" not in after and "tenant_id" not in after
    assert all(line["service"] == "probe" and line["process"] == "api" for line in lines)


class _Verifier:
    def __init__(self, user: CurrentUser) -> None:
        self.user = user

    async def verify(self, token: str) -> CurrentUser:
        return self.user


async def test_a_requests_line_carries_its_correlation_id_tenant_and_user(lines) -> None:
    user = CurrentUser(id=uuid.uuid4(), tenant_id=uuid.uuid4(), role=Role.TEACHER)
    authenticated = authentication(lambda request: _Verifier(user))
    router = APIRouter()

    @router.get("/v1/things/{thing_id}")
    async def thing(thing_id: str, actor: CurrentUser = Depends(authenticated)) -> dict:
        logging.getLogger("probe").info("looking a thing up")
        return {"id": thing_id}

    app = create_app(ServiceHttp(service="probe", routers=[router]))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        answer = await client.get("/v1/things/42", headers={"Authorization": "Bearer x", "X-Request-ID": "req-7"})
        await client.get("/v1/things/43", headers={"X-Request-ID": "req-8"})  # no token: 401, no tenant
    assert answer.status_code == 200
    inside = next(line for line in lines if line["msg"] == "looking a thing up")
    request, refused = [line for line in lines if line["msg"] == "request"]
    for line in (inside, request):
        assert line["correlation_id"] == "req-7"
        assert line["tenant_id"] == str(user.tenant_id) and line["user_id"] == str(user.id)
    assert request["route"] == "/v1/things/{thing_id}" and request["status"] == 200 and request["duration_ms"] >= 0
    assert refused["correlation_id"] == "req-8" and refused["status"] == 401 and "tenant_id" not in refused

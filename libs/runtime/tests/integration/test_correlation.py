"""A request's id reaches the events it causes (through the outbox, onto Kafka headers)."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest
from fastapi import APIRouter

from cuepoint.runtime.db import tenant_transaction
from cuepoint.runtime.http import ServiceHttp, create_app
from cuepoint.runtime.outbox import Outbox

from .workload import SOURCE, Workload

pytestmark = pytest.mark.integration


async def test_request_id_becomes_the_events_correlation_id(source_sessions, admin_connection) -> None:
    workload = Workload(rollback_ratio=0)
    outbox = Outbox(SOURCE, "probe")
    tenant = workload.tenants[0]
    router = APIRouter()

    @router.post("/v1/attempts")
    async def grade() -> dict:
        async with tenant_transaction(source_sessions, tenant) as session:
            envelope = await outbox.emit(session, workload._attempt(workload.students[tenant][0], 1), tenant_id=tenant)
        return {"event_id": str(envelope.event_id)}

    app = create_app(ServiceHttp(service="probe", routers=[router]))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        response = await client.post("/v1/attempts", headers={"X-Request-ID": "journey-42"})
    event_id = uuid.UUID(response.json()["event_id"])
    value, headers = admin_connection.execute(
        f"SELECT value, headers FROM {SOURCE}.outbox WHERE event_id = %s", (event_id,)).fetchone()
    assert json.loads(value)["correlation_id"] == "journey-42"
    assert headers["correlation_id"] == "journey-42"
    assert headers["event_type"] == "assessment.attempt.graded.v1" and headers["tenant_id"] == str(tenant)

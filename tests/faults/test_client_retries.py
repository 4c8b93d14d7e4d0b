"""A client that retries a batch (after a 503, a lost connection, a reload) sends the same events
again, with the same ``id``s. Every consumer of client events stores each of them once: the event
store of analytics and the playback projection's inbox of progress."""

from __future__ import annotations

import uuid

import psycopg
import pytest

from cuepoint.analytics.bootstrap import spec as analytics_spec
from cuepoint.analytics.settings import AnalyticsSettings
from cuepoint.progress.bootstrap import spec as progress_spec
from cuepoint.progress.settings import ProgressSettings
from tests.support.accounts import Accounts
from tests.support.platform import Infra
from tests.support.services import api_client, running_worker, service_context
from tests.support.streams import read_topic, wait_for_row

pytestmark = [pytest.mark.integration, pytest.mark.faults]


def _navigation(count: int) -> list[dict]:
    # Navigation events name no lesson or video: nothing for the tenant to own, only the retry is tested.
    return [{"id": str(uuid.uuid4()), "type": "navigation", "path": f"/lessons/{n}",
             "occurred_at": "2026-01-01T10:00:00Z"} for n in range(count)]


async def test_the_same_five_events_sent_twice_are_stored_once_by_every_consumer(
        infra: Infra, accounts: Accounts, admin_connection: psycopg.Connection) -> None:
    student = await accounts.login("student@example.com")
    device = f"retry-{uuid.uuid4().hex[:8]}"
    events = _navigation(5)
    analytics_settings = infra.settings("analytics", AnalyticsSettings)
    async with service_context(analytics_spec(), analytics_settings, accounts) as context, \
            api_client(analytics_spec(), context) as api:
        for _ in range(2):  # the batch, then the client's retry of it
            response = await api.post("/v1/events", headers=student, json={"device_id": device, "events": events})
            assert response.status_code == 202, response.text
            assert response.json()["accepted"] == 5
        # One more event after them: the same user's events share a partition, so once it is stored,
        # both copies of the batch before it have been consumed.
        last = _navigation(1)
        assert (await api.post("/v1/events", headers=student, json={"device_id": device, "events": last})
                ).status_code == 202
    published = await read_topic(infra, "analytics.client-events", lambda e: e["data"]["device_id"] == device,
                                 expect=11)
    assert len(published) == 11  # the ingest acknowledged each copy: the retry's too
    event_ids = [e["event_id"] for e in published]
    last_id = published[-1]["event_id"]

    async with running_worker(analytics_spec(), analytics_settings, infra, relay=False), \
            running_worker(progress_spec(), infra.settings("progress", ProgressSettings), infra, relay=False):
        await wait_for_row(admin_connection, "SELECT EXISTS (SELECT FROM analytics.analytics_events WHERE id = %s)",
                           (last_id,))
        await wait_for_row(admin_connection, "SELECT EXISTS (SELECT FROM progress.inbox WHERE consumer_group = "
                                             "'progress.playback' AND event_id = %s)", (last_id,))
    stored = admin_connection.execute("SELECT data->>'path' FROM analytics.analytics_events WHERE device_id = %s",
                                      (device,)).fetchall()
    inbox = admin_connection.execute("SELECT count(*) FROM progress.inbox WHERE consumer_group = 'progress.playback' "
                                     "AND event_id = ANY(%s::uuid[])", (event_ids,)).fetchone()[0]
    assert sorted(path for (path,) in stored) == sorted(e["path"] for e in events + last)  # 6 rows, not 11
    assert inbox == 6


async def test_ingest_without_a_broker_answers_503_with_retry_after(infra: Infra, accounts: Accounts) -> None:
    student = await accounts.login("student@example.com")
    settings = infra.settings("analytics", AnalyticsSettings, kafka_bootstrap="127.0.0.1:1")
    async with service_context(analytics_spec(), settings, accounts) as context, \
            api_client(analytics_spec(), context) as api:
        response = await api.post("/v1/events", headers=student,
                                  json={"device_id": "offline", "events": _navigation(2)})
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert int(response.headers["Retry-After"]) >= 1

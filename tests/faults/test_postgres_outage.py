"""PostgreSQL stopped (immediate: every backend gone at once, crash recovery on start) for 20 s
under load, on a cluster of the test's own: the APIs answer 503 with Retry-After, never 500; the
ingest keeps accepting (it needs only the broker for these events); the consumers wait and
catch up by themselves; nothing acknowledged is lost or stored twice."""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import httpx
import psycopg
import pytest

from cuepoint.analytics.bootstrap import spec as analytics_spec
from cuepoint.analytics.settings import AnalyticsSettings
from cuepoint.progress.bootstrap import spec as progress_spec
from cuepoint.progress.settings import ProgressSettings
from tests.support.accounts import Accounts
from tests.support.platform import Infra
from tests.support.services import api_client, running_worker, service_context
from tests.support.streams import claims

from .load import TelemetryLoad, record, settled
from .private import PrivatePostgres

pytestmark = [pytest.mark.integration, pytest.mark.faults]


async def _probe(api: httpx.AsyncClient, headers: dict[str, str], stop: asyncio.Event, seen: Counter) -> None:
    """A teacher's dashboard (database-backed) asked four times a second; each answer's status counted."""
    while not stop.is_set():
        try:
            response = await api.get("/v1/dashboards/lessons", headers=headers, timeout=30)
            seen[response.status_code] += 1
            if response.status_code == 503 and "Retry-After" not in response.headers:
                seen["503 without Retry-After"] += 1
            if response.status_code >= 500 and response.headers.get("content-type") != "application/problem+json":
                seen["not problem+json"] += 1
        except httpx.HTTPError:
            seen["error"] += 1
        await asyncio.sleep(0.25)


async def test_postgres_stopped_for_20_s_under_load(on_private_postgres: Infra, private_postgres: PrivatePostgres,
                                                    accounts: Accounts) -> None:
    student, teacher = await accounts.login("student@example.com"), await accounts.login("teacher@example.com")
    analytics = on_private_postgres.settings("analytics", AnalyticsSettings)
    probed: Counter = Counter()
    stop_probe = asyncio.Event()
    async with service_context(analytics_spec(), analytics, accounts) as context, \
            api_client(analytics_spec(), context) as api, \
            running_worker(analytics_spec(), analytics, on_private_postgres, relay=False), \
            running_worker(progress_spec(), on_private_postgres.settings("progress", ProgressSettings),
                           on_private_postgres, relay=False):
        load = TelemetryLoad(api, student, tenant_id=claims(student)["tid"], user_id=claims(student)["sub"])
        load.start()
        probe = asyncio.create_task(_probe(api, teacher, stop_probe, probed))
        await asyncio.sleep(6)
        before = Counter(probed)
        await asyncio.to_thread(private_postgres.stop_immediately)
        await asyncio.sleep(20)
        during = Counter(probed) - before
        await asyncio.to_thread(private_postgres.start)
        restarted = time.monotonic()
        recovered_s = None
        while time.monotonic() - restarted < 60:  # until the dashboard answers again
            if probed[200] > before[200] + during[200]:
                recovered_s = time.monotonic() - restarted
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(4)
        answers = await load.stop()
        stop_probe.set()
        await probe
        with psycopg.connect(on_private_postgres.admin_database_url(), autocommit=True) as ledger:  # a live one
            result, settle_s = await settled(ledger, load)
    line = record("PostgreSQL stopped (immediate) 20 s", answers, result, dashboard=dict(probed),
                  dashboard_during_outage=dict(during), recovered_s=recovered_s, settled_s=settle_s)
    assert during[503] > 0, line  # the outage was seen by the API…
    assert probed[500] == 0 and probed["503 without Retry-After"] == 0 and probed["not problem+json"] == 0, line
    assert recovered_s is not None, line  # …and it answered again by itself
    assert line["lost"] == 0 and line["projection_lost"] == 0 and line["duplicated"] == 0, line
    assert "500" not in line["statuses"] and line["in_order"], line

"""The broker killed or frozen under a steady telemetry load: every acknowledged event is stored
once and projected once, in order, and the platform recovers by itself."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import AsyncIterator

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

from .load import TelemetryLoad, first_ack_after, record, settled
from tests.support.own_broker import OwnBroker

pytestmark = [pytest.mark.integration, pytest.mark.faults]


@contextlib.asynccontextmanager
async def telemetry_under_load(infra: Infra, accounts: Accounts) -> AsyncIterator[TelemetryLoad]:
    """The ingest API and the two consumers of client events (analytics' store, progress's playback),
    in process, on ``infra``; a load running against the API."""
    student = await accounts.login("student@example.com")
    analytics = infra.settings("analytics", AnalyticsSettings)
    async with service_context(analytics_spec(), analytics, accounts) as context, \
            api_client(analytics_spec(), context) as api, \
            running_worker(analytics_spec(), analytics, infra, relay=False), \
            running_worker(progress_spec(), infra.settings("progress", ProgressSettings), infra, relay=False):
        load = TelemetryLoad(api, student, tenant_id=claims(student)["tid"], user_id=claims(student)["sub"])
        load.start()
        try:
            yield load
        finally:
            if load._task is not None and not load._task.done():  # noqa: SLF001 - a failed test's load
                await load.stop()


def _assert_clean(line: dict) -> None:
    assert line["lost"] == 0 and line["projection_lost"] == 0, line
    assert line["duplicated"] == 0, line
    assert line["in_order"], line
    assert "500" not in line["statuses"], line
    assert line["missing_retry_after"] == 0, line


async def test_broker_sigkill_mid_load_restarted_after_20_s(on_private_kafka: Infra, private_kafka: OwnBroker,
                                                             accounts: Accounts,
                                                             admin_connection: psycopg.Connection) -> None:
    async with telemetry_under_load(on_private_kafka, accounts) as load:
        await asyncio.sleep(6)
        private_kafka.kill()
        await asyncio.sleep(20)
        restarting = time.monotonic()
        await private_kafka.start()  # returns once the broker answers metadata
        started_s = time.monotonic() - restarting
        await asyncio.sleep(6)
        answers = await load.stop()
        result, settle_s = await settled(admin_connection, load)  # the consumers still running
    # recovered_s: from the restart command to the first acknowledged batch (the JVM's start included).
    line = record("broker SIGKILL, 20 s down", answers, result, broker_start_s=started_s,
                  recovered_s=first_ack_after(answers, restarting), settled_s=settle_s)
    _assert_clean(line)
    assert answers.statuses[503] + answers.statuses["error"] > 0  # the outage was seen, and answered 503


async def test_broker_frozen_twice_then_thawed(on_private_kafka: Infra, private_kafka: OwnBroker,
                                               accounts: Accounts, admin_connection: psycopg.Connection) -> None:
    """SIGSTOP/SIGCONT: connections stay open and nothing answers (the hardest case for timeouts)."""
    thawed: list[float] = []
    async with telemetry_under_load(on_private_kafka, accounts) as load:
        await asyncio.sleep(5)
        for _ in range(2):
            private_kafka.signal(signal.SIGSTOP)
            await asyncio.sleep(12)
            private_kafka.signal(signal.SIGCONT)
            thawed.append(time.monotonic())
            await asyncio.sleep(6)
        answers = await load.stop()
        result, settle_s = await settled(admin_connection, load)
    line = record("broker SIGSTOP 12 s then SIGCONT, twice", answers, result,
                  recovered_s=max((first_ack_after(answers, at) or 99.0) for at in thawed), settled_s=settle_s)
    _assert_clean(line)
    assert answers.slowest_answer_s < 15  # the ingest answers (a 503) well before the 15 s it used to take

"""Workers SIGKILLed mid-load, as the OOM killer or a crash would, and started again (as the
supervisor of services.sh does): a killed worker's uncommitted batch is consumed again by the next
one, and each acknowledged event is still stored once and projected once."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator

import psycopg
import pytest

from cuepoint.analytics.bootstrap import spec as analytics_spec
from cuepoint.analytics.settings import AnalyticsSettings
from tests.support.accounts import Accounts
from tests.support.platform import ROOT, TEST_DATABASE, Infra
from tests.support.services import api_client, service_context
from tests.support.streams import claims

from .load import TelemetryLoad, record, settled

pytestmark = [pytest.mark.integration, pytest.mark.faults]


@contextlib.contextmanager
def worker_processes(infra: Infra) -> Iterator[tuple[dict[str, subprocess.Popen], Callable[[str], None]]]:
    """``python -m cuepoint.<service> worker`` for analytics and progress, on this run's database and topics."""
    env = {**os.environ, "CUEPOINT_PG_HOST": infra.pg_host, "CUEPOINT_PG_PORT": str(infra.pg_port),
           "CUEPOINT_PG_DATABASE": TEST_DATABASE, "CUEPOINT_KAFKA_BOOTSTRAP": infra.bootstrap_servers,
           "CUEPOINT_TOPIC_PREFIX": infra.topic_prefix, "NO_GCE_CHECK": "True",
           "CUEPOINT_METRICS_PORT": "0"}  # a free port: the platform's workers hold the default ones
    running: dict[str, subprocess.Popen] = {}

    def start(service: str) -> None:
        running[service] = subprocess.Popen([sys.executable, "-m", f"cuepoint.{service}", "worker"], env=env, cwd=ROOT,
                                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    for service in ("analytics", "progress"):
        start(service)
    try:
        yield running, start
    finally:
        for service in ("analytics", "progress"):
            process = running[service]
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


async def test_workers_sigkilled_mid_load_three_times(infra: Infra, topics: list[str], accounts: Accounts,
                                                      admin_connection: psycopg.Connection) -> None:
    student = await accounts.login("student@example.com")
    settings = infra.settings("analytics", AnalyticsSettings)
    kills = 0
    with worker_processes(infra) as (workers, start_again):
        async with service_context(analytics_spec(), settings, accounts) as context, \
                api_client(analytics_spec(), context) as api:
            load = TelemetryLoad(api, student, tenant_id=claims(student)["tid"], user_id=claims(student)["sub"])
            load.start()
            await asyncio.sleep(8)
            for round_ in range(3):
                service = ("analytics", "progress")[round_ % 2]
                os.kill(workers[service].pid, signal.SIGKILL)
                workers[service].wait()
                kills += 1
                await asyncio.sleep(1)  # the supervisor's first pause
                start_again(service)
                await asyncio.sleep(6)
            last_start = time.monotonic()
            answers = await load.stop()
            result, settle_s = await settled(admin_connection, load)
    line = record("worker SIGKILL x3 (analytics, progress, analytics)", answers, result, kills=kills,
                  settled_s=settle_s, settled_after_last_start_s=time.monotonic() - last_start)
    assert line["lost"] == 0 and line["projection_lost"] == 0 and line["duplicated"] == 0, line
    assert line["in_order"] and "500" not in line["statuses"], line

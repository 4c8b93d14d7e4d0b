"""The broker killed or frozen under a steady telemetry load and a steady load of graded attempts:
every acknowledged event is stored once and projected once, in order; every acknowledged attempt
has one AttemptGraded in assessment's outbox, published, claimed once by progress and analytics;
attempts are answered while the broker is away (the outbox keeps the API free of Kafka), and the
platform recovers by itself."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import psycopg
import pytest

from cuepoint.analytics.bootstrap import spec as analytics_spec
from cuepoint.analytics.settings import AnalyticsSettings
from cuepoint.assessment.bootstrap import spec as assessment_spec
from cuepoint.assessment.settings import AssessmentSettings
from cuepoint.progress.bootstrap import spec as progress_spec
from cuepoint.progress.settings import ProgressSettings
from tests.support.accounts import Accounts
from tests.support.own_broker import OwnBroker
from tests.support.platform import Infra
from tests.support.services import api_client, running_worker, service_context
from tests.support.streams import claims

from . import attempts
from .attempts import AttemptLoad, published_lesson
from .load import TelemetryLoad, first_ack_after, record, settled

pytestmark = [pytest.mark.integration, pytest.mark.faults]

QUESTIONS = 24  # × 20 attempts: 120 s of answers at 4/s, more than a scenario runs (the broker's start included)


@dataclass
class Loads:
    telemetry: TelemetryLoad
    attempts: AttemptLoad

    async def stop(self) -> None:
        await asyncio.gather(self.telemetry.stop(), self.attempts.stop())


@contextlib.asynccontextmanager
async def telemetry_under_load(infra: Infra, accounts: Accounts) -> AsyncIterator[TelemetryLoad]:
    """The ingest API and the two consumers of client events (analytics' store, progress's playback),
    in process, on ``infra``; a telemetry load running against the API (the three-broker test's)."""
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


@contextlib.asynccontextmanager
async def platform_under_load(infra: Infra, accounts: Accounts, connection: psycopg.Connection
                              ) -> AsyncIterator[Loads]:
    """In process, on ``infra``: the ingest API and the two consumers of client events (analytics' store,
    progress's playback); assessment's API, worker and outbox relay, and the consumers of its events
    (progress's, analytics'). A telemetry load and a student answering questions run against the APIs."""
    student = await accounts.login("student@example.com")
    teacher = await accounts.login("teacher@example.com")
    analytics = infra.settings("analytics", AnalyticsSettings)
    assessment = infra.settings("assessment", AssessmentSettings)
    async with service_context(analytics_spec(), analytics, accounts) as analytics_context, \
            api_client(analytics_spec(), analytics_context) as ingest, \
            service_context(assessment_spec(), assessment, accounts) as assessment_context, \
            api_client(assessment_spec(), assessment_context) as assessment_api, \
            running_worker(assessment_spec(), assessment, infra), \
            running_worker(analytics_spec(), analytics, infra, relay=False), \
            running_worker(progress_spec(), infra.settings("progress", ProgressSettings), infra, relay=False):
        lesson = await published_lesson(infra, connection, assessment_api, teacher, questions=QUESTIONS)
        loads = Loads(TelemetryLoad(ingest, student, tenant_id=claims(student)["tid"], user_id=claims(student)["sub"]),
                      AttemptLoad(assessment_api, student, lesson, answers_per_second=4))
        loads.telemetry.start()
        loads.attempts.start()
        try:
            yield loads
        finally:
            for load in (loads.telemetry, loads.attempts):
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
    async with platform_under_load(on_private_kafka, accounts, admin_connection) as loads:
        await asyncio.sleep(6)
        private_kafka.kill()
        killed = time.monotonic()
        await asyncio.sleep(20)
        restarting = time.monotonic()
        await private_kafka.start()  # returns once the broker answers metadata
        started_s = time.monotonic() - restarting
        await asyncio.sleep(6)
        await loads.stop()
        result, settle_s = await settled(admin_connection, loads.telemetry)  # the consumers still running
        graded, graded_settle_s = await attempts.settled(admin_connection, loads.attempts)
    # recovered_s: from the restart command to the first acknowledged batch (the JVM's start included).
    line = record("broker SIGKILL, 20 s down", loads.telemetry.answers, result, broker_start_s=started_s,
                  recovered_s=first_ack_after(loads.telemetry.answers, restarting), settled_s=settle_s)
    answered_down = loads.attempts.acked_between(killed, restarting)
    attempt_line = attempts.record("broker SIGKILL, 20 s down", loads.attempts, graded,
                                   answered_while_down=answered_down, settled_s=graded_settle_s)
    _assert_clean(line)
    assert loads.telemetry.answers.statuses[503] + loads.telemetry.answers.statuses["error"] > 0  # seen, answered 503
    attempts.assert_clean(attempt_line)
    assert answered_down > 0, attempt_line  # graded while the broker was dead: the outbox kept them


async def test_broker_frozen_twice_then_thawed(on_private_kafka: Infra, private_kafka: OwnBroker,
                                               accounts: Accounts, admin_connection: psycopg.Connection) -> None:
    """SIGSTOP/SIGCONT: connections stay open and nothing answers (the hardest case for timeouts)."""
    thawed: list[float] = []
    answered_frozen = 0
    async with platform_under_load(on_private_kafka, accounts, admin_connection) as loads:
        await asyncio.sleep(5)
        for _ in range(2):
            private_kafka.signal(signal.SIGSTOP)
            frozen = time.monotonic()
            await asyncio.sleep(12)
            private_kafka.signal(signal.SIGCONT)
            thawed.append(time.monotonic())
            answered_frozen += loads.attempts.acked_between(frozen, thawed[-1])
            await asyncio.sleep(6)
        await loads.stop()
        result, settle_s = await settled(admin_connection, loads.telemetry)
        graded, graded_settle_s = await attempts.settled(admin_connection, loads.attempts)
    line = record("broker SIGSTOP 12 s then SIGCONT, twice", loads.telemetry.answers, result,
                  recovered_s=max((first_ack_after(loads.telemetry.answers, at) or 99.0) for at in thawed),
                  settled_s=settle_s)
    attempt_line = attempts.record("broker SIGSTOP 12 s then SIGCONT, twice", loads.attempts, graded,
                                   answered_while_frozen=answered_frozen, settled_s=graded_settle_s)
    _assert_clean(line)
    assert loads.telemetry.answers.slowest_answer_s < 15  # ingest answers (a 503) well before the 15 s it used to take
    attempts.assert_clean(attempt_line)
    assert answered_frozen > 0, attempt_line  # graded while the broker was frozen

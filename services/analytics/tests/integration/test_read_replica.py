"""analytics' dashboards on a streaming replica of the test cluster (CUEPOINT_ANALYTICS_READ_URL): a replica of
the test's own (tests/support/replica.py: infra.sh's replica-start on a free port), the projections writing on
the primary, the reads falling back to the primary while the replica is away, /readyz saying degraded."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import event

from cuepoint.analytics import projections
from cuepoint.analytics.bootstrap import reads, spec
from cuepoint.analytics.replica import READS
from cuepoint.analytics.settings import AnalyticsSettings
from cuepoint.contracts import content
from cuepoint.contracts.envelope import new_envelope
from cuepoint.runtime.db import tenant_transaction
from tests.support.accounts import Accounts
from tests.support.platform import Infra, eventually
from tests.support.replica import Replica, own_replica
from tests.support.services import api_client, service_context
from tests.support.streams import claims

pytestmark = pytest.mark.integration

MAX_LAG = 3.0  # seconds: the threshold of these tests' settings


@pytest.fixture(scope="module")
def replica(infra: Infra, test_database: str) -> Iterator[Replica]:
    with own_replica(infra) as found:
        yield found


@pytest.fixture
def read_settings(infra: Infra, replica: Replica) -> AnalyticsSettings:
    return infra.settings("analytics", AnalyticsSettings, analytics_read_url=replica.url("cuepoint_analytics", infra.database),
                          analytics_read_max_lag=MAX_LAG, analytics_read_retry=0)


async def _project_lesson(context, tenant: uuid.UUID, teacher: uuid.UUID, title: str) -> None:
    """A lesson as analytics' projection writes it (on the primary: the context's sessions)."""
    event = content.LessonCreated(lesson_id=uuid.uuid4(), title=title, created_by_id=teacher)
    envelope = new_envelope(event, tenant_id=tenant, producer="content", actor_id=teacher)
    async with tenant_transaction(context.sessions, tenant) as session:
        await projections.domain_event(session, envelope)


async def _teacher_of_new_tenant(accounts: Accounts, prefix: str) -> tuple[dict[str, str], uuid.UUID, uuid.UUID]:
    """A teacher's headers in an organisation of the test's own, with its tenant and user ids."""
    teacher = (await accounts.tenant_with_users(f"{prefix}-{uuid.uuid4().hex[:8]}"))["teacher"]
    return teacher, uuid.UUID(claims(teacher)["tid"]), uuid.UUID(claims(teacher)["sub"])


def _lesson_titles(api, teacher: dict[str, str]):
    """A read of the lesson dashboard's titles, for eventually()."""
    async def titles() -> list[str]:
        response = await api.get("/v1/dashboards/lessons", headers=teacher)
        assert response.status_code == 200, response.text
        return sorted(item["title"] for item in response.json()["items"])
    return titles


def _reads_from(source: str) -> float:
    return READS.labels(source)._value.get()


async def test_dashboards_read_from_the_replica_and_see_projection_writes_once_replayed(
        replica: Replica, read_settings: AnalyticsSettings, accounts: Accounts, infra: Infra, admin_connection):
    teacher, tenant, teacher_id = await _teacher_of_new_tenant(accounts, "replica")
    others = await accounts.tenant_with_users(f"replica-other-{uuid.uuid4().hex[:8]}")
    async with service_context(spec(), read_settings, accounts) as context, api_client(spec(), context) as api:
        titles = _lesson_titles(api, teacher)
        # A projection write on the primary, then a read: the replica has replayed it within the stated lag.
        await _project_lesson(context, tenant, teacher_id, "Replicated")
        await eventually(lambda: _equal(titles, ["Replicated"]), timeout=MAX_LAG, message="the replayed lesson")
        ready = (await api.get("/readyz")).json()
        assert ready["status"] == "ready" and ready["checks"]["read_replica"] == "ok", ready
        assert reads(context).lag is not None and reads(context).lag <= MAX_LAG

        # The read ran on the replica, as analytics' runtime role, in the test database.
        sessions = replica.query("SELECT usename, datname, pg_is_in_recovery() FROM pg_stat_activity "
                                 "WHERE application_name = 'cuepoint-analytics-replica'")
        assert ("cuepoint_analytics", infra.database, True) in sessions

        # Row-level security holds there too: another organisation's admin naming this teacher sees nothing.
        on_replica = _reads_from("replica")
        response = await api.get("/v1/dashboards/lessons", headers=others["admin"], params={"teacher_id": str(teacher_id)})
        assert response.status_code == 200 and response.json()["items"] == []
        assert _reads_from("replica") == on_replica + 1

        # Replay paused: a lesson the primary has is not in the dashboard (it answers from the replica), and as
        # the replica falls behind /readyz says degraded (still 200) with the lag; once resumed, it is there.
        replica.query("SELECT pg_wal_replay_pause()")
        try:
            await _project_lesson(context, tenant, teacher_id, "Written while paused")
            assert admin_connection.execute("SELECT count(*) FROM analytics.lessons WHERE tenant_id = %s",
                                            (tenant,)).fetchone()[0] == 2
            assert await titles() == ["Replicated"]

            async def degraded() -> bool:
                response = await api.get("/readyz")
                assert response.status_code == 200, response.text
                return response.json()["status"] == "degraded"

            await eventually(degraded, message="readyz degraded by the replica's lag")
            body = (await api.get("/readyz")).json()
            assert body["checks"]["read_replica"] == "degraded" and "behind the primary" in body["degraded"]["read_replica"]
            assert body["checks"]["database"] == "ok"
        finally:
            replica.query("SELECT pg_wal_replay_resume()")
        await eventually(lambda: _equal(titles, ["Replicated", "Written while paused"]), timeout=MAX_LAG,
                         message="the lesson written while replay was paused")
        await eventually(lambda: _status(api, "ready"), message="readyz ready once the replica caught up")


async def test_reads_fall_back_to_the_primary_while_the_replica_is_stopped(
        replica: Replica, read_settings: AnalyticsSettings, accounts: Accounts, caplog):
    teacher, tenant, teacher_id = await _teacher_of_new_tenant(accounts, "replica-down")
    async with service_context(spec(), read_settings, accounts) as context, api_client(spec(), context) as api:
        titles = _lesson_titles(api, teacher)
        await _project_lesson(context, tenant, teacher_id, "Before the stop")
        await eventually(lambda: _equal(titles, ["Before the stop"]), timeout=MAX_LAG)
        replica.stop()
        try:
            await _project_lesson(context, tenant, teacher_id, "While stopped")
            on_primary = _reads_from("primary")
            with caplog.at_level(logging.INFO, logger="cuepoint.analytics.replica"):
                # Every read answers, from the primary (it has the lesson the stopped replica never got).
                assert await titles() == ["Before the stop", "While stopped"]
                assert await titles() == ["Before the stop", "While stopped"]
                export = await api.get("/v1/dashboards/lessons", headers=teacher, params={"format": "csv"})
                assert export.status_code == 200 and "While stopped" in export.text
                response = await api.get("/readyz")
            assert _reads_from("primary") >= on_primary + 3
            assert response.status_code == 200, response.text
            body = response.json()
            assert body["status"] == "degraded" and body["checks"]["read_replica"] == "degraded"
            assert "does not answer" in body["degraded"]["read_replica"] and body["checks"]["database"] == "ok"
            lost = [r for r in caplog.records if "does not answer" in r.getMessage()]
            assert len(lost) == 1, [r.getMessage() for r in caplog.records]  # once per transition, not per read
        finally:
            replica.start()
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="cuepoint.analytics.replica"):
            await eventually(lambda: _status(api, "ready"), message="readyz ready with the replica back")
            on_replica = _reads_from("replica")
            assert await titles() == ["Before the stop", "While stopped"]
            assert _reads_from("replica") == on_replica + 1
        assert len([r for r in caplog.records if "answers again" in r.getMessage()]) == 1


async def test_a_read_the_replica_drops_midway_is_answered_from_the_primary(
        replica: Replica, read_settings: AnalyticsSettings, accounts: Accounts, caplog):
    teacher, tenant, teacher_id = await _teacher_of_new_tenant(accounts, "replica-cut")
    async with service_context(spec(), read_settings, accounts) as context, api_client(spec(), context) as api:
        titles = _lesson_titles(api, teacher)
        await _project_lesson(context, tenant, teacher_id, "Cut midway")
        await eventually(lambda: _equal(titles, ["Cut midway"]), timeout=MAX_LAG)
        # The replica's backend of the next dashboard query is terminated just before the query runs on it.
        engine = reads(context).replica.kw["bind"]
        cut: list[int] = []

        def terminate(connection, cursor, statement, parameters, execution, many) -> None:
            if "enrolled_students" in statement and not cut:
                cut.append(connection.connection.driver_connection.info.backend_pid)
                replica.query(f"SELECT pg_terminate_backend({cut[0]}, 5000)")  # returns once it is gone

        event.listen(engine.sync_engine, "before_cursor_execute", terminate)
        try:
            on_primary, on_replica = _reads_from("primary"), _reads_from("replica")
            with caplog.at_level(logging.INFO, logger="cuepoint.analytics.replica"):
                assert await titles() == ["Cut midway"]
            assert cut, "the dashboard's query never ran on the replica"
            assert (_reads_from("replica"), _reads_from("primary")) == (on_replica + 1, on_primary + 1)
            assert len([r for r in caplog.records if "does not answer" in r.getMessage()]) == 1
        finally:
            event.remove(engine.sync_engine, "before_cursor_execute", terminate)


async def test_without_a_read_url_dashboards_read_the_primary_and_readyz_has_no_replica_check(
        analytics_settings: AnalyticsSettings, accounts: Accounts):
    assert analytics_settings.analytics_read_url is None
    teacher = await accounts.login("teacher@example.com")
    async with service_context(spec(), analytics_settings, accounts) as context, api_client(spec(), context) as api:
        on_primary = _reads_from("primary")
        assert (await api.get("/v1/dashboards/lessons", headers=teacher)).status_code == 200
        assert _reads_from("primary") == on_primary + 1
        body = (await api.get("/readyz")).json()
        assert body["status"] == "ready" and "read_replica" not in body["checks"], body


async def _equal(read, expected) -> bool:
    return await read() == expected


async def _status(api, status: str) -> bool:
    response = await api.get("/readyz")
    return response.status_code == 200 and response.json()["status"] == status

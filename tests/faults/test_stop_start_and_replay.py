"""A full stop and start of the consumers under load, then the projections dropped and replayed.

Stop: every consumer group has committed up to the end of the client-event topic, so a start
reprocesses nothing; what was acknowledged meanwhile is applied once after the start. Replay:
``rebuild`` of analytics and progress gives the same rows (md5 over each projection table, the
tenant's rows) as the live workers did."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator

import psycopg
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from cuepoint.analytics.bootstrap import REBUILT
from cuepoint.analytics.bootstrap import rebuild as rebuild_analytics
from cuepoint.analytics.bootstrap import spec as analytics_spec
from cuepoint.analytics.settings import AnalyticsSettings
from cuepoint.contracts import content
from cuepoint.progress import orm as progress_orm
from cuepoint.progress.bootstrap import rebuild as rebuild_progress
from cuepoint.progress.bootstrap import spec as progress_spec
from cuepoint.progress.settings import ProgressSettings
from cuepoint.runtime.service import ServiceContext
from tests.support.accounts import Accounts
from tests.support.platform import Infra
from tests.support.services import api_client, running_worker, service_context
from tests.support.streams import claims, publish, wait_for_row

from .load import TelemetryLoad, record, settled

pytestmark = [pytest.mark.integration, pytest.mark.faults]

CLIENT_TOPIC = "analytics.client-events"
CLIENT_GROUPS = ("analytics.client-events", "progress.playback")


@contextlib.asynccontextmanager
async def workers(infra: Infra) -> AsyncIterator[None]:
    async with running_worker(analytics_spec(), infra.settings("analytics", AnalyticsSettings), infra, relay=False), \
            running_worker(progress_spec(), infra.settings("progress", ProgressSettings), infra, relay=False):
        yield


async def _lag(infra: Infra) -> dict[str, int]:
    """Group → records of the client-event topic past its committed offsets (what a start would consume)."""
    topic = infra.topic_prefix + CLIENT_TOPIC
    consumer = AIOKafkaConsumer(bootstrap_servers=infra.bootstrap_servers)
    admin = AIOKafkaAdminClient(bootstrap_servers=infra.bootstrap_servers)
    await consumer.start()
    await admin.start()
    try:
        described = await admin.describe_topics([topic])
        partitions = [TopicPartition(topic, p["partition"]) for p in described[0]["partitions"]]
        assert partitions, topic
        ends = await consumer.end_offsets(partitions)
        lag = {}
        for group in CLIENT_GROUPS:
            committed = await admin.list_consumer_group_offsets(infra.topic_prefix + group, partitions=partitions)
            lag[group] = sum(end - (committed[tp].offset if tp in committed and committed[tp].offset >= 0 else 0)
                             for tp, end in ends.items())
        return lag
    finally:
        await admin.close()
        await consumer.stop()


async def _lesson(infra: Infra, connection: psycopg.Connection, teacher: dict[str, str], tenant: uuid.UUID) -> None:
    """A published lesson with a video and a milestone, as content publishes it; once both projections have it."""
    teacher_id = uuid.UUID(claims(teacher)["sub"])
    lesson, video = uuid.uuid4(), uuid.uuid4()
    await publish(infra, "content.events", [
        content.LessonCreated(lesson_id=lesson, title="Faults", thumbnail="https://img.example/f.png",
                              created_by_id=teacher_id, seek_policy="FREE"),
        content.VideoUploaded(video_id=video, lesson_id=lesson, title="Faults", storage_path="gs://cuepoint-media/f",
                              content_type="video/mp4", size_bytes=1000, checksum="AAAAAA==", duration_seconds=60.0),
        content.MilestoneCreated(milestone_id=uuid.uuid4(), video_id=video, lesson_id=lesson, timestamp=30.0,
                                 title="Check", is_required=True),
        content.LessonPublished(lesson_id=lesson, version=1, title="Faults", thumbnail="https://img.example/f.png",
                                created_by_id=teacher_id, video_ids=[video]),
    ], tenant_id=tenant, producer="content", actor_id=teacher_id)
    for schema in ("progress", "analytics"):
        # The workers read the run's topics from the start: late in a full run, thousands of earlier events.
        await wait_for_row(connection, f"SELECT EXISTS (SELECT FROM {schema}.milestones WHERE video_id = %s)",  # noqa: S608
                           (video,), timeout=120)
    # The four events travel on two partitions (keyed by lesson and by video): the milestone can be in while
    # the lesson's publication is still behind earlier records, so wait for all four in the event store.
    await wait_for_row(connection, "SELECT count(*) = 4 FROM analytics.analytics_events "
                                   "WHERE tenant_id = %s AND event_type LIKE 'content.%%'", (tenant,), timeout=120)


def _checksums(connection: psycopg.Connection, tenant: uuid.UUID) -> dict[str, str]:
    """schema.table → md5 over the tenant's rows (each row as text, sorted), for every projection table
    with a tenant column."""
    tables = [("analytics", t) for t in REBUILT] + [("progress", t.name) for t in progress_orm.PROJECTIONS]
    sums = {}
    for schema, table in tables:
        has_tenant = connection.execute(
            "SELECT EXISTS (SELECT FROM information_schema.columns WHERE table_schema = %s AND table_name = %s "
            "AND column_name = 'tenant_id')", (schema, table)).fetchone()[0]
        if has_tenant:
            sums[f"{schema}.{table}"] = connection.execute(
                f"SELECT count(*) || ':' || coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '') "  # noqa: S608
                f"FROM {schema}.{table} t WHERE tenant_id = %s", (tenant,)).fetchone()[0]
    return sums


async def test_full_stop_and_start_then_drop_and_replay(infra: Infra, topics: list[str], accounts: Accounts,
                                                        admin_connection: psycopg.Connection) -> None:
    users = await accounts.tenant_with_users(f"faults-{uuid.uuid4().hex[:6]}")
    student = users["student"]
    tenant = uuid.UUID(claims(student)["tid"])
    analytics = infra.settings("analytics", AnalyticsSettings)
    async with service_context(analytics_spec(), analytics, accounts) as context, \
            api_client(analytics_spec(), context) as api:
        def new_load() -> TelemetryLoad:
            return TelemetryLoad(api, student, tenant_id=claims(student)["tid"], user_id=claims(student)["sub"])

        before = new_load()
        async with workers(infra):
            before.start()
            await _lesson(infra, admin_connection, users["teacher"], tenant)  # catalogue rows for the replay to match
            await asyncio.sleep(3)
            answers_before = await before.stop()
            result_before, _ = await settled(admin_connection, before)
        # The full stop. Every group has committed all it applied: a start consumes nothing again.
        lag_at_stop = await _lag(infra)
        during = new_load()  # acknowledged while no consumer runs
        during.start()
        await asyncio.sleep(3)
        async with workers(infra):
            started = time.monotonic()
            await asyncio.sleep(2)
            answers = await during.stop()
            result, _ = await settled(admin_connection, during)
            recovered_s = time.monotonic() - started
            result_before_again, _ = await settled(admin_connection, before)
        lag_after = await _lag(infra)
    record("full stop and start: before the stop", answers_before, result_before_again, lag_at_stop=lag_at_stop)
    line = record("full stop and start: acknowledged while stopped", answers, result, lag_at_stop=lag_at_stop,
                  lag_after=lag_after, recovered_s=recovered_s)
    assert lag_at_stop == dict.fromkeys(CLIENT_GROUPS, 0), lag_at_stop
    assert result_before_again == result_before, (result_before, result_before_again)
    for tallied in (result_before_again, result):
        assert tallied.lost == 0 and tallied.projection_lost == 0 and tallied.duplicated == 0, tallied
        assert tallied.in_order, tallied
    assert "500" not in line["statuses"] and "500" not in {str(k) for k in answers_before.statuses}, line
    assert lag_after == dict.fromkeys(CLIENT_GROUPS, 0), lag_after

    live = _checksums(admin_connection, tenant)
    # the two loads' events and the lesson's four content events
    assert live["analytics.analytics_events"].startswith(f"{result.stored + result_before.stored + 4}:"), live
    events_live = _events(admin_connection, tenant)
    replaying = time.monotonic()
    assert await rebuild_progress(ServiceContext("progress", infra.settings("progress", ProgressSettings)),
                                  out=_Sink()) == 0
    assert await rebuild_analytics(ServiceContext("analytics", analytics), out=_Sink()) == 0
    replay_s = time.monotonic() - replaying
    replayed = _checksums(admin_connection, tenant)
    print(f"\nREPLAY FIGURES tables={len(live)} non_empty={sum(not v.startswith('0:') for v in live.values())} "
          f"replay_s={replay_s:.1f} {live}")
    events_replayed = _events(admin_connection, tenant)
    # Which events differ, if any, to say what a replay did not reproduce (once one client event fewer).
    assert events_replayed == events_live, {"only live": sorted(events_live - events_replayed),
                                            "only replayed": sorted(events_replayed - events_live)}
    assert replayed == live


def _events(connection: psycopg.Connection, tenant: uuid.UUID) -> set[tuple[str, str, str]]:
    """(id, type, occurred_at) of the tenant's rows in analytics' event store."""
    return {tuple(map(str, row)) for row in connection.execute(
        "SELECT id, event_type, occurred_at FROM analytics.analytics_events WHERE tenant_id = %s", (tenant,))}


class _Sink:
    def write(self, _: str) -> None:
        pass

    def flush(self) -> None:
        pass

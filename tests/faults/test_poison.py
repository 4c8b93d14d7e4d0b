"""Poison on every topic the analytics and progress workers consume, under the telemetry load:
raw bytes, an envelope missing its fields and a 900 KB record are dead-lettered by each group to
``<topic>.dlt``; an unknown event type is skipped and counted; a bad config record (a tenant's
``grading.passingThreshold = "not-a-number"``) does not stop anything. Every group goes on past the
poison by itself and the load's ledger stays clean.

Consumer-level details (headers, retries, the config view's per-record validation) are tested in
libs/runtime/tests/integration/test_dead_letters.py and test_config_view.py; this is the suite-level run
over the running services' topics."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import Counter

import psycopg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from prometheus_client import REGISTRY

from cuepoint.analytics.bootstrap import input_consumers as analytics_consumers
from cuepoint.analytics.bootstrap import spec as analytics_spec
from cuepoint.analytics.consumers import export_consumer as analytics_export_consumer
from cuepoint.analytics.settings import AnalyticsSettings
from cuepoint.contracts import identity
from cuepoint.contracts.envelope import new_envelope
from cuepoint.contracts.topics import IDENTITY_EVENTS
from cuepoint.progress.bootstrap import input_consumers as progress_consumers
from cuepoint.progress.consumers import export_consumer as progress_export_consumer
from cuepoint.progress.settings import ProgressSettings
from cuepoint.runtime.service import ServiceContext
from tests.support.accounts import Accounts
from tests.support.platform import Infra
from tests.support.services import api_client, service_context
from tests.support.streams import claims

from .load import TelemetryLoad, record, settled
from .test_stop_start_and_replay import workers

pytestmark = [pytest.mark.integration, pytest.mark.faults]

UNKNOWN_TYPE = "faults.unknown_thing.happened.v1"  # well-formed, known to no contract
DEAD = ("raw-bytes", "missing-fields", "900-kb")


async def _groups(infra: Infra) -> dict[str, list[str]]:
    """Topic → the groups consuming it, as the two workers compose them."""
    groups: dict[str, list[str]] = {}
    analytics = ServiceContext("analytics", infra.settings("analytics", AnalyticsSettings))
    progress = ServiceContext("progress", infra.settings("progress", ProgressSettings))
    for consumers in (analytics_consumers(analytics, None), progress_consumers(progress, None, emit=False)):
        for topic, consumer in consumers.items():
            groups.setdefault(topic, []).append(consumer.group_id)
    # Each worker also answers export requests on identity.events, in a group of its own.
    for export_consumer in (analytics_export_consumer(analytics, None), progress_export_consumer(progress, None)):
        groups[IDENTITY_EVENTS.name].append(export_consumer.group_id)
    await analytics.close()
    await progress.close()
    return groups


def _poison(tenant: uuid.UUID, topic: str) -> list[tuple[str, bytes]]:
    valid = json.loads(new_envelope(identity.UserSignedIn(user_id=uuid.uuid4(), session_id=uuid.uuid4()),
                                    tenant_id=tenant, producer="identity").model_dump_json())
    unknown = {**valid, "event_type": UNKNOWN_TYPE}
    missing = {"event_type": valid["event_type"], "data": {}}
    big = {**valid, "data": {"padding": "x" * 900_000}}
    poison = [("raw-bytes", b"\x00\xff not an envelope"), ("missing-fields", json.dumps(missing).encode()),
              ("unknown-type", json.dumps(unknown).encode()), ("900-kb", b"{" + json.dumps(big).encode())]
    if topic == "identity.system-configs":
        bad = new_envelope(identity.SystemConfigChanged(
            config_id=f"{tenant}:grading.passingThreshold", key="grading.passingThreshold", value="not-a-number",
            scope_tenant_id=tenant), tenant_id=tenant, producer="identity")
        poison.append(("bad-config", bad.model_dump_json().encode()))
    return poison


async def _lag(infra: Infra, groups: dict[str, list[str]]) -> dict[str, int]:
    """"<group> <topic>" → records past the group's committed offsets."""
    consumer = AIOKafkaConsumer(bootstrap_servers=infra.bootstrap_servers)
    admin = AIOKafkaAdminClient(bootstrap_servers=infra.bootstrap_servers)
    await consumer.start()
    await admin.start()
    try:
        lag = {}
        for topic, names in groups.items():
            name = infra.topic_prefix + topic
            described = await admin.describe_topics([name])
            partitions = [TopicPartition(name, p["partition"]) for p in described[0]["partitions"]]
            ends = await consumer.end_offsets(partitions)
            for group in names:
                committed = await admin.list_consumer_group_offsets(infra.topic_prefix + group, partitions=partitions)
                lag[f"{group} {topic}"] = sum(
                    end - (committed[tp].offset if tp in committed and committed[tp].offset >= 0 else 0)
                    for tp, end in ends.items())
        return lag
    finally:
        await admin.close()
        await consumer.stop()


async def _dead_letters(infra: Infra, topics: list[str], key: bytes) -> Counter:
    """(topic, group, reason) → dead letters of ``key`` found in the topics' ``.dlt``."""
    names = [infra.topic_prefix + topic + ".dlt" for topic in topics]
    consumer = AIOKafkaConsumer(*names, bootstrap_servers=infra.bootstrap_servers, auto_offset_reset="earliest",
                                enable_auto_commit=False, group_id=None, max_partition_fetch_bytes=2 * 1024 * 1024)
    await consumer.start()
    found: Counter = Counter()
    try:
        quiet = 0
        while quiet < 4:
            batches = await consumer.getmany(timeout_ms=500)
            quiet = 0 if batches else quiet + 1
            for records in batches.values():
                for r in records:
                    if r.key == key:
                        headers = dict(r.headers)
                        found[(r.topic.removeprefix(infra.topic_prefix).removesuffix(".dlt"),
                               headers["dlt.group"].decode().removeprefix(infra.topic_prefix),
                               headers["dlt.reason"].decode())] += 1
    finally:
        await consumer.stop()
    return found


def _unknown_counted() -> Counter:
    counted: Counter = Counter()
    for metric in REGISTRY.collect():
        for sample in metric.samples:
            if sample.name.endswith("unknown_event_types_total") and sample.labels.get("event_type") == UNKNOWN_TYPE:
                counted[sample.labels["group"]] += sample.value
    return counted


async def test_poison_on_every_consumed_topic_under_load(infra: Infra, topics: list[str], accounts: Accounts,
                                                         admin_connection: psycopg.Connection) -> None:
    users = await accounts.tenant_with_users(f"poison-{uuid.uuid4().hex[:6]}")
    student = users["student"]
    tenant = uuid.UUID(claims(student)["tid"])
    groups = await _groups(infra)
    key = str(uuid.uuid4()).encode()
    unknown_before = _unknown_counted()
    analytics = infra.settings("analytics", AnalyticsSettings)
    async with service_context(analytics_spec(), analytics, accounts) as context, \
            api_client(analytics_spec(), context) as api, workers(infra):
        load = TelemetryLoad(api, student, tenant_id=str(tenant), user_id=claims(student)["sub"])
        load.start()
        await asyncio.sleep(3)
        producer = AIOKafkaProducer(bootstrap_servers=infra.bootstrap_servers, acks="all",
                                    max_request_size=2 * 1024 * 1024)
        await producer.start()
        sent = 0
        try:
            for topic in groups:
                for _, value in _poison(tenant, topic):
                    await producer.send_and_wait(infra.topic_prefix + topic, value, key=key)
                    sent += 1
        finally:
            await producer.stop()
        poisoned = time.monotonic()
        while (lag := await _lag(infra, groups)) and any(lag.values()) and time.monotonic() - poisoned < 60:
            await asyncio.sleep(0.5)
        recovered_s = time.monotonic() - poisoned
        await asyncio.sleep(2)
        answers = await load.stop()
        result, settle_s = await settled(admin_connection, load)
        unknown = _unknown_counted()
    dead = await _dead_letters(infra, list(groups), key)
    line = record("poison on every consumed topic", answers, result, poison_records=sent, topics=len(groups),
                  groups=sum(len(g) for g in groups.values()), dead_letters=sum(dead.values()),
                  lag_after_poison=sum(lag.values()), recovered_s=recovered_s, settled_s=settle_s)
    assert line["lost"] == 0 and line["projection_lost"] == 0 and line["duplicated"] == 0, line
    assert line["in_order"] and "500" not in line["statuses"], line
    assert not any(lag.values()), lag  # every group went on past the poison
    expected = Counter({(topic, group, reason): 1 for topic, names in groups.items() for group in names
                        for reason in ("invalid-envelope",)})
    # raw bytes, missing fields and the 900 KB record are each an invalid envelope, dead-lettered once per group
    assert dead == Counter({k: len(DEAD) for k in expected}), dead
    for names in groups.values():
        for group in names:
            assert sum(v - unknown_before.get(g, 0) for g, v in unknown.items() if g.endswith(group)) >= 1, \
                (group, unknown)

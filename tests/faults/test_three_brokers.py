"""Beyond one broker: on infra.sh's three-node KRaft cluster (CUEPOINT_KAFKA_BROKERS=3, topics with
replication factor 3, min.insync.replicas=2), the leader of the busiest partition is SIGKILLed
under load. Producers and consumers carry on by themselves; nothing acknowledged is lost or doubled."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Iterator

import psycopg
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from cuepoint.contracts.topics import CLIENT_EVENTS, all_topics
from cuepoint.runtime.kafka import ensure_topics, prefixed
from tests.support.accounts import Accounts
from tests.support.platform import Infra

from .load import first_ack_after, record, settled
from .private import PrivateKafka
from .test_broker_faults import _assert_clean, telemetry_under_load

pytestmark = [pytest.mark.integration, pytest.mark.faults]

CLUSTER_PORT = 19300  # nodes on 19300, 19302, 19304 (controllers one above each)


@pytest.fixture(scope="module")
def cluster() -> Iterator[PrivateKafka]:
    kafka = PrivateKafka(CLUSTER_PORT, brokers=3)
    kafka.start()
    try:
        yield kafka
    finally:
        kafka.close()


async def _busiest_leader(bootstrap: str, topic: str) -> tuple[int, int]:
    """(partition, leader node) of the topic's partition holding the most records."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await consumer.start()
    await admin.start()
    try:
        partitions = (await admin.describe_topics([topic]))[0]["partitions"]
        ends = await consumer.end_offsets([TopicPartition(topic, p["partition"]) for p in partitions])
        busiest = max(partitions, key=lambda p: ends[TopicPartition(topic, p["partition"])])
        assert sorted(busiest["isr"]) == [1, 2, 3], busiest  # three copies before the kill
        return busiest["partition"], busiest["leader"]
    finally:
        await admin.close()
        await consumer.stop()


async def test_the_leader_of_the_busiest_partition_killed_under_load(infra: Infra, cluster: PrivateKafka,
                                                                      accounts: Accounts,
                                                                      admin_connection: psycopg.Connection) -> None:
    on_cluster = dataclasses.replace(infra, bootstrap_servers=cluster.bootstrap_servers)
    await ensure_topics(on_cluster.bootstrap_servers, prefixed(all_topics(), on_cluster.topic_prefix),
                        replication_factor=3)
    async with telemetry_under_load(on_cluster, accounts) as load:
        await asyncio.sleep(8)
        partition, leader = await _busiest_leader(cluster.bootstrap_servers,
                                                  on_cluster.topic_prefix + CLIENT_EVENTS.name)
        cluster.kill_node(leader)
        killed = time.monotonic()
        await asyncio.sleep(15)
        answers = await load.stop()
        result, settle_s = await settled(admin_connection, load)
    line = record("three brokers: leader of the busiest partition SIGKILLed", answers, result, partition=partition,
                  killed_node=leader, first_ack_after_kill_s=first_ack_after(answers, killed), settled_s=settle_s)
    _assert_clean(line)
    assert first_ack_after(answers, killed) is not None, line  # the ingest carried on without the node

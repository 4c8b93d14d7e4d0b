"""Gauges read periodically from PostgreSQL and Kafka by a service's relay process.

The relay runs whether or not its worker does, so it is the one to watch the worker's consumer
groups: a stopped or stuck worker exports nothing, but its lag keeps growing here. And the
outbox's backlog and age are read on a connection of their own, so they keep moving while the
relay itself waits for a broker that does not answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

import psycopg
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient

from .metrics import CONSUMER_LAG, CONSUMER_LAG_SAMPLED, OUTBOX_BACKLOG, OUTBOX_OLDEST_AGE, RELAY_LEADER
from .outbox import OutboxRelay

log = logging.getLogger(__name__)


async def sample_outbox(connection: psycopg.AsyncConnection, schema: str) -> tuple[int, float]:
    """The unpublished rows of ``schema``'s outbox and the age in seconds of the oldest (0 when none)."""
    cursor = await connection.execute(
        f'SELECT count(*), COALESCE(EXTRACT(EPOCH FROM now() - min(created_at)), 0) FROM "{schema}".outbox '
        "WHERE published_at IS NULL")
    backlog, age = await cursor.fetchone()
    OUTBOX_BACKLOG.labels(schema).set(backlog)
    OUTBOX_OLDEST_AGE.labels(schema).set(float(age))
    return backlog, float(age)


class LagSampler:
    """Lag of every consumer group named ``<group_prefix><service>.…`` (the service's groups in this
    environment): per partition, the end offset minus the group's committed offset."""

    def __init__(self, bootstrap_servers: str, *, service: str, group_prefix: str = "") -> None:
        self.bootstrap_servers = bootstrap_servers
        self.service = service
        self.group_prefix = group_prefix
        self.prefix = f"{group_prefix}{service}."
        self._admin: AIOKafkaAdminClient | None = None
        self._consumer: AIOKafkaConsumer | None = None

    async def sample(self) -> dict[tuple[str, str, int], int]:
        if self._admin is None:
            admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap_servers, client_id=f"{self.service}-lag")
            await admin.start()
            self._admin = admin
        if self._consumer is None:  # no group: only asks for end offsets
            consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap_servers, enable_auto_commit=False,
                                        client_id=f"{self.service}-lag")
            await consumer.start()
            self._consumer = consumer
        groups = sorted(group for group, *_ in await self._admin.list_consumer_groups() if group.startswith(self.prefix))
        lags: dict[tuple[str, str, int], int] = {}
        for group in groups:
            committed = {tp: meta.offset for tp, meta in (await self._admin.list_consumer_group_offsets(group)).items()
                         if meta.offset >= 0}
            if not committed:
                continue
            ends = await self._consumer.end_offsets(list(committed))
            for tp, offset in committed.items():
                lag = max(0, ends[tp] - offset)
                lags[(group, tp.topic, tp.partition)] = lag
                # The label is the group as the code names it (as in cuepoint_consumer_events_total),
                # without the environment's prefix.
                CONSUMER_LAG.labels(group.removeprefix(self.group_prefix), tp.topic, str(tp.partition)).set(lag)
        CONSUMER_LAG_SAMPLED.labels(self.service).set(time.time())
        return lags

    async def close(self) -> None:
        for client in (self._consumer, self._admin):
            if client is not None:
                with contextlib.suppress(Exception):
                    await client.close() if isinstance(client, AIOKafkaAdminClient) else await client.stop()
        self._admin = self._consumer = None


async def sample_relay(relay: OutboxRelay, lag: LagSampler, stop: asyncio.Event, *, interval: float = 5.0) -> None:
    """Every ``interval`` seconds until ``stop``: leader status and outbox backlog and age from
    PostgreSQL, and consumer lag from Kafka, in two loops: a broker that does not answer delays
    neither the outbox's figures nor the leader status (that is when they matter)."""
    await asyncio.gather(_sample_outbox_loop(relay, stop, interval), _sample_lag_loop(lag, stop, interval))


async def _sample_outbox_loop(relay: OutboxRelay, stop: asyncio.Event, interval: float) -> None:
    connection: psycopg.AsyncConnection | None = None
    try:
        while not stop.is_set():
            RELAY_LEADER.labels(relay.schema).set(1 if relay.is_leader.is_set() else 0)
            try:
                if connection is None or connection.closed:
                    connection = await psycopg.AsyncConnection.connect(relay.dsn, autocommit=True, connect_timeout=5)
                await asyncio.wait_for(sample_outbox(connection, relay.schema), timeout=max(interval, 5.0))
            except (psycopg.Error, OSError, TimeoutError) as error:  # the database away: tried again next round
                log.warning("cannot read the outbox's backlog", extra={"error": repr(error)})
                if connection is not None:
                    await connection.close()
                connection = None
            await _pause(stop, interval)
    finally:
        if connection is not None:
            await connection.close()


async def _sample_lag_loop(lag: LagSampler, stop: asyncio.Event, interval: float) -> None:
    try:
        while not stop.is_set():
            try:
                await asyncio.wait_for(lag.sample(), timeout=max(interval, 10.0))
            except Exception as error:  # the broker away or electing: the last values stay (see ..._sampled_…)
                log.warning("cannot read consumer lag", extra={"error": repr(error)})
                await lag.close()
            await _pause(stop, interval)
    finally:
        await lag.close()


async def _pause(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)

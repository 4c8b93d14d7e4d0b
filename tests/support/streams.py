"""Helpers for tests that talk to services through Kafka the way other services would."""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import psycopg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from cuepoint.contracts.envelope import Envelope, Event, new_envelope

from .platform import Infra, eventually


def claims(headers: dict[str, str]) -> dict[str, Any]:
    payload = headers["Authorization"].split()[1].split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


async def publish(infra: Infra, topic: str, events: list[Event], *, tenant_id: uuid.UUID, producer: str,
                  actor_id: uuid.UUID | None = None) -> list[Envelope[Event]]:
    """Events as their producing service would publish them; returns the envelopes sent."""
    envelopes = [new_envelope(event, tenant_id=tenant_id, producer=producer, actor_id=actor_id) for event in events]
    await publish_envelopes(infra, topic, envelopes)
    return envelopes


async def publish_envelopes(infra: Infra, topic: str, envelopes: list[Envelope[Event]]) -> None:
    kafka = AIOKafkaProducer(bootstrap_servers=infra.bootstrap_servers, acks="all", enable_idempotence=True)
    await kafka.start()
    try:
        for envelope in envelopes:
            await kafka.send_and_wait(infra.topic_prefix + topic, envelope.model_dump_json().encode(),
                                      key=envelope.key.encode(),
                                      headers=[(k, v.encode()) for k, v in envelope.headers().items()])
    finally:
        await kafka.stop()


async def read_topic(infra: Infra, topic: str, accept: Callable[[dict[str, Any]], bool], *, expect: int,
                     timeout: float = 30) -> list[dict[str, Any]]:
    """The accepted envelopes of a topic from the start, once ``expect`` of them are there (and a moment more,
    to catch extras)."""
    consumer = AIOKafkaConsumer(infra.topic_prefix + topic, bootstrap_servers=infra.bootstrap_servers,
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    found: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    settle: float | None = None
    try:
        while time.monotonic() < deadline:
            for records in (await consumer.getmany(timeout_ms=300)).values():
                found += [e for e in (json.loads(r.value) for r in records if r.value) if accept(e)]
            if len(found) >= expect:
                settle = settle or time.monotonic() + 1.5
                if time.monotonic() >= settle:
                    break
    finally:
        await consumer.stop()
    return found


async def wait_for_row(connection: psycopg.Connection, sql: str, params: tuple = (), *, timeout: float = 30,
                       message: str = "") -> None:
    async def ready() -> bool:
        return bool(connection.execute(sql, params).fetchone()[0])

    await eventually(ready, timeout=timeout, message=message or sql)

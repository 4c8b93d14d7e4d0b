"""A replay's runs (IdempotentConsumer.handle_records): one transaction for many records, with
exactly what record-by-record handling gives — order, inbox deduplication, dead letters."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import text

from cuepoint.runtime.consumer import IdempotentConsumer

from .test_dead_letters import POISON_SECONDS, PROGRESSED, _progressed, _recorded
from .workload import SINK

pytestmark = pytest.mark.integration


@dataclass
class _Record:
    topic: str
    partition: int
    offset: int
    value: bytes | None
    key: bytes | None = b"k"
    headers: list = field(default_factory=list)


class _Letters:
    def __init__(self) -> None:
        self.reasons: list[tuple[int, str]] = []

    async def send(self, record: Any, *, group: str, reason: str, error: BaseException) -> None:
        self.reasons.append((record.offset, reason))


def _consumer(sink_sessions, group: str, letters: _Letters) -> IdempotentConsumer:
    async def record(session, envelope) -> None:
        if envelope.data.total_time_spent == POISON_SECONDS:
            raise RuntimeError("this handler always fails on this event")
        await session.execute(
            text(f"INSERT INTO {SINK}.received (consumer, tenant_id, key, seq, event_id) VALUES (:c, :t, :k, :s, :e)"),
            {"c": group, "t": envelope.tenant_id, "k": envelope.key, "s": envelope.data.total_time_spent,
             "e": envelope.event_id})

    return IdempotentConsumer(handlers={PROGRESSED: record}, sessions=sink_sessions, schema=SINK, group_id=group,
                              dead_letters=letters, max_tries=2, backoff=0.01)


async def test_a_run_is_applied_in_order_once_and_a_poison_record_in_it_is_dead_lettered_alone(
        sink_sessions, admin_connection) -> None:
    tenants = [uuid.uuid4(), uuid.uuid4()]
    values = [_progressed(tenants[s % 2], s) for s in range(1, 11)]
    clean = [_Record("t", 0, offset, value) for offset, value in enumerate(values)]
    group, letters = f"runs-{uuid.uuid4().hex[:6]}", _Letters()
    consumer = _consumer(sink_sessions, group, letters)

    await consumer.handle_records(clean[:6])
    await consumer.handle_records(clean)  # a replay over what was applied: the inbox skips the first six
    assert _recorded(admin_connection, group) == list(range(1, 11))
    assert letters.reasons == []

    poisoned_group, poisoned_letters = f"runs-{uuid.uuid4().hex[:6]}", _Letters()
    poisoned = _consumer(sink_sessions, poisoned_group, poisoned_letters)
    run = clean[:3] + [_Record("t", 3, 100, _progressed(tenants[0], POISON_SECONDS)),
                       _Record("t", 3, 101, b"\x00 not JSON")] + clean[3:]
    await poisoned.handle_records(run)
    assert _recorded(admin_connection, poisoned_group) == list(range(1, 11))
    assert poisoned_letters.reasons == [(100, "handler-failed"), (101, "invalid-envelope")]

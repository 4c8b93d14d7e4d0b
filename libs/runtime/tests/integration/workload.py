"""A workload for delivery tests: concurrent transactions that bump a per-key counter
and emit an AttemptGraded whose attempt_number is the counter's new value, so per-key
order can be checked at the consumer (1, 2, 3, … with no gap and no repeat)."""

from __future__ import annotations

import asyncio
import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text

from cuepoint.contracts.assessment import AttemptGraded
from cuepoint.runtime.bulk import copy_rows
from cuepoint.runtime.db import tenant_transaction
from cuepoint.runtime.outbox import Outbox

SOURCE, SINK = "probe_source", "probe_sink"
BUMP = text(
    f"INSERT INTO {SOURCE}.counters (tenant_id, key, value) VALUES (:tenant, :key, 1) "
    f"ON CONFLICT (tenant_id, key) DO UPDATE SET value = {SOURCE}.counters.value + 1 RETURNING value"
)


class _RollBack(Exception):
    pass


@dataclass
class Workload:
    tenants: list[uuid.UUID] = field(default_factory=lambda: [uuid.uuid4(), uuid.uuid4()])
    keys_per_tenant: int = 20
    rollback_ratio: float = 0.1
    committed: list[uuid.UUID] = field(default_factory=list)
    rolled_back: list[uuid.UUID] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.students = {tenant: [uuid.uuid4() for _ in range(self.keys_per_tenant)] for tenant in self.tenants}
        self.lesson = uuid.uuid4()

    async def run(self, sessions: Any, outbox: Outbox, commits: int, *, writers: int = 8, pause: float = 0.0,
                  seed: int = 7) -> None:
        rng = random.Random(seed)
        tickets = 0  # transactions meant to commit, taken before they start (asyncio: no race)

        async def writer() -> None:
            nonlocal tickets
            while tickets < commits:
                tickets += 1
                tenant = rng.choice(self.tenants)
                student = rng.choice(self.students[tenant])
                try:
                    async with tenant_transaction(sessions, tenant) as session:
                        value = (await session.execute(BUMP, {"tenant": tenant, "key": str(student)})).scalar_one()
                        envelope = await outbox.emit(session, self._attempt(student, value), tenant_id=tenant)
                        if rng.random() < self.rollback_ratio:
                            raise _RollBack(envelope.event_id)
                    self.committed.append(envelope.event_id)
                except _RollBack as rollback:
                    self.rolled_back.append(rollback.args[0])
                    tickets -= 1
                if pause:
                    await asyncio.sleep(pause)

        await asyncio.gather(*(writer() for _ in range(writers)))

    def _attempt(self, student: uuid.UUID, number: int) -> AttemptGraded:
        return AttemptGraded(
            attempt_id=uuid.uuid4(), student_id=student, question_id=uuid.uuid4(), milestone_id=None,
            lesson_id=self.lesson, attempt_number=number, max_attempts=1_000_000, is_correct=True, score=1,
            max_score=1, milestone_answered=True, answered_at=datetime.now(UTC),
        )


def single_handler(consumer: str):
    insert = text(f"INSERT INTO {SINK}.received (consumer, tenant_id, key, seq, event_id) "
                  "VALUES (:consumer, :tenant, :key, :seq, :event_id)")

    async def handle(session: Any, envelope: Any) -> None:
        await session.execute(insert, {"consumer": consumer, "tenant": envelope.tenant_id, "key": envelope.key,
                                       "seq": envelope.data.attempt_number, "event_id": envelope.event_id})
    return handle


def batch_handler(consumer: str):
    async def handle(session: Any, envelopes: list[Any]) -> None:
        await copy_rows(session, f"{SINK}.received", ["consumer", "tenant_id", "key", "seq", "event_id"],
                        [(consumer, e.tenant_id, e.key, e.data.attempt_number, e.event_id) for e in envelopes])
    return handle


def received(admin: Any, consumer: str) -> list[tuple[str, str, int, uuid.UUID]]:
    """(tenant, key, seq, event_id) in the order the consumer committed them (admin bypasses RLS)."""
    return admin.execute(
        f"SELECT tenant_id::text, key, seq, event_id FROM {SINK}.received WHERE consumer = %s ORDER BY received_order",
        (consumer,),
    ).fetchall()


def assert_exactly_once_in_key_order(rows: list[tuple], workload: Workload) -> None:
    ids = [row[3] for row in rows]
    assert len(ids) == len(set(ids)), f"{len(ids) - len(set(ids))} events applied twice"
    assert set(ids) == set(workload.committed), (
        f"missing {len(set(workload.committed) - set(ids))}, unexpected {len(set(ids) - set(workload.committed))}"
    )
    assert not set(ids) & set(workload.rolled_back), "an event of a rolled-back transaction was delivered"
    sequences: dict[tuple[str, str], list[int]] = {}
    for tenant, key, seq, _ in rows:
        sequences.setdefault((tenant, key), []).append(seq)
    for (tenant, key), seqs in sequences.items():
        assert seqs == list(range(1, len(seqs) + 1)), f"key {key} of tenant {tenant} out of order: {seqs[:20]}…"

"""The unit of work on the real database: a use case's rows and its events commit together, an
exception rolls both back, and the tenant it was opened for is the only one its queries see."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from cuepoint.contracts.assessment import AttemptGraded
from cuepoint.runtime.outbox import Outbox
from cuepoint.runtime.unit_of_work import UnitOfWork, UnitsOfWork

from .workload import SOURCE

pytestmark = pytest.mark.integration


class CountersUnitOfWork(UnitOfWork):
    """A service's unit of work as services write one: a repository built on the session."""

    def _open(self, session) -> None:
        self.counters = Counters(session)


class Counters:
    def __init__(self, session) -> None:
        self.session = session

    async def add(self, key: str) -> None:
        await self.session.execute(text(f"INSERT INTO {SOURCE}.counters (tenant_id, key, value) "
                                        "VALUES (current_setting('app.tenant_id')::uuid, :key, 1)"), {"key": key})

    async def keys(self) -> list[str]:
        return list((await self.session.execute(text(f"SELECT key FROM {SOURCE}.counters"))).scalars())


def _graded(student: uuid.UUID) -> AttemptGraded:
    return AttemptGraded(attempt_id=uuid.uuid4(), student_id=student, question_id=uuid.uuid4(), milestone_id=None,
                         lesson_id=uuid.uuid4(), attempt_number=1, max_attempts=1, is_correct=True, score=1,
                         max_score=1, milestone_answered=True, answered_at=datetime.now(UTC))


def _outbox_keys(admin, student: uuid.UUID) -> int:
    return admin.execute(f"SELECT count(*) FROM {SOURCE}.outbox WHERE key = %s", (str(student),)).fetchone()[0]


async def test_rows_and_events_commit_together_and_roll_back_together(source_sessions, admin_connection) -> None:
    units = UnitsOfWork(source_sessions, Outbox(SOURCE, "probe"), CountersUnitOfWork)
    tenant, committed_student, failed_student = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    key = f"uow-{uuid.uuid4().hex[:8]}"

    async with units(tenant) as uow:
        await uow.counters.add(key)
        await uow.emit(_graded(committed_student), actor_id=committed_student)
    assert uow.committed and [e.event.student_id for e in uow.emitted] == [committed_student]

    with pytest.raises(RuntimeError):
        async with units(tenant) as failing:
            await failing.counters.add(key + "-lost")
            await failing.emit(_graded(failed_student))
            raise RuntimeError("the use case failed after writing")
    assert not failing.committed

    assert _outbox_keys(admin_connection, committed_student) == 1
    assert _outbox_keys(admin_connection, failed_student) == 0, "a rolled-back use case announced its event"
    async with units(tenant) as reader:
        assert key in await reader.counters.keys() and key + "-lost" not in await reader.counters.keys()
    async with units(uuid.uuid4()) as other_tenant:
        assert key not in await other_tenant.counters.keys(), "another tenant's unit of work saw the row"


async def test_on_commit_is_told_after_each_commit_and_never_after_a_rollback(source_sessions,
                                                                              admin_connection) -> None:
    """What an in-process cache forgets by (content's kept lookups): told once the rows are
    committed — another connection sees them — and not for a unit of work that rolled back."""
    key = f"uow-{uuid.uuid4().hex[:8]}"
    seen_at_commit: list[int] = []

    def committed() -> None:
        seen_at_commit.append(admin_connection.execute(
            f"SELECT count(*) FROM {SOURCE}.counters WHERE key = %s", (key,)).fetchone()[0])

    units = UnitsOfWork(source_sessions, Outbox(SOURCE, "probe"), CountersUnitOfWork, on_commit=committed)
    async with units(uuid.uuid4()) as uow:
        await uow.counters.add(key)
        assert seen_at_commit == [], "told before the commit"
    assert seen_at_commit == [1], "not told, or told before the rows were visible"
    with pytest.raises(RuntimeError):
        async with units(uuid.uuid4()) as failing:
            await failing.counters.add(key)
            raise RuntimeError("the use case failed after writing")
    assert seen_at_commit == [1], "told of a rollback"


async def test_a_unit_of_work_without_a_tenant_sees_no_tenants_rows_and_cannot_emit(source_sessions) -> None:
    units = UnitsOfWork(source_sessions, Outbox(SOURCE, "probe"), CountersUnitOfWork)
    tenant, key = uuid.uuid4(), f"uow-{uuid.uuid4().hex[:8]}"
    async with units(tenant) as uow:
        await uow.counters.add(key)
    async with units(None) as untenanted:
        assert key not in await untenanted.counters.keys()
        with pytest.raises(ValueError, match="needs a tenant"):
            await untenanted.emit(_graded(uuid.uuid4()))


async def test_a_joined_unit_of_work_commits_nothing_of_its_own(source_sessions, admin_connection) -> None:
    """A consumer's transaction as a use case's unit of work: its rows and events go with the
    consumer's commit or rollback; leaving the joined block neither commits nor rolls back."""
    outbox = Outbox(SOURCE, "probe")
    tenant, kept, dropped = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    from cuepoint.runtime.db import set_tenant

    async with source_sessions() as session, session.begin():
        await set_tenant(session, tenant)
        async with CountersUnitOfWork.joining(session, outbox, tenant) as uow:
            await uow.emit(_graded(kept))
        assert _outbox_keys(admin_connection, kept) == 0, "the joined unit of work committed on its own"
    assert _outbox_keys(admin_connection, kept) == 1

    with pytest.raises(RuntimeError):
        async with source_sessions() as session, session.begin():
            await set_tenant(session, tenant)
            uow = CountersUnitOfWork.joining(session, outbox, tenant)
            await uow.emit(_graded(dropped))
            raise RuntimeError("the consumer's handler failed after the use case")
    assert _outbox_keys(admin_connection, dropped) == 0

"""The fake unit of work that use cases' unit tests run on records what a real one would commit."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from cuepoint.contracts.assessment import AttemptGraded
from cuepoint.runtime.unit_of_work import FakeUnitsOfWork

pytestmark = pytest.mark.unit


def _graded() -> AttemptGraded:
    return AttemptGraded(attempt_id=uuid.uuid4(), student_id=uuid.uuid4(), question_id=uuid.uuid4(), milestone_id=None,
                         lesson_id=uuid.uuid4(), attempt_number=1, max_attempts=1, is_correct=True, score=1,
                         max_score=1, milestone_answered=True, answered_at=datetime.now(UTC))


async def test_only_committed_units_count_their_events_and_repositories_are_shared() -> None:
    store: dict[str, int] = {}
    units = FakeUnitsOfWork(counters=store)
    tenant = uuid.uuid4()
    async with units(tenant) as uow:
        uow.counters["a"] = 1
        envelope = await uow.emit(_graded())
    with pytest.raises(RuntimeError):
        async with units(tenant) as failing:
            await failing.emit(_graded())
            raise RuntimeError("boom")
    assert [u.committed for u in units.opened] == [True, False]
    assert failing.rolled_back
    assert len(units.emitted) == 1 and envelope.tenant_id == tenant
    assert units(tenant).counters is store
    assert uow.events_of(AttemptGraded) and not uow.events_of(int)


async def test_an_event_needs_a_tenant() -> None:
    async with FakeUnitsOfWork()(None) as uow:
        with pytest.raises(ValueError, match="needs a tenant"):
            await uow.emit(_graded())

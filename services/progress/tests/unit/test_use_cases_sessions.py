"""end_session on the fake unit of work: a student ends their own session, once."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from cuepoint.contracts import progress as events
from cuepoint.progress.domain.sessions import StudentSession
from cuepoint.progress.use_cases.sessions import EndSession, end_session
from cuepoint.runtime.actor import CurrentUser, Role
from cuepoint.runtime.errors import Conflict, NotFound

from .fakes import Store, fake_units

pytestmark = pytest.mark.unit

TENANT = uuid.uuid4()
T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
NOW = T0 + timedelta(hours=1)


def _student() -> CurrentUser:
    return CurrentUser(id=uuid.uuid4(), tenant_id=TENANT, role=Role.STUDENT)


def _session(store: Store, student: CurrentUser, *, ended_at=None) -> StudentSession:
    session = StudentSession(uuid.uuid4(), student.id, "phone", "test/phone", T0, T0, None, None, 12.0, ended_at)
    store.sessions[session.id] = session
    return session


async def test_a_student_ends_their_session_and_it_is_announced():
    store, student = Store(), _student()
    session = _session(store, student)
    units = fake_units(store)
    async with units(TENANT) as uow:
        ended = await end_session(EndSession(student, session.id), uow, now=NOW)
    assert ended.ended_at == NOW and not ended.active
    assert [(e.event, e.actor_id) for e in units.emitted] == [
        (events.SessionEndedV2(student_id=student.id, session_id=session.id, ended_at=NOW), student.id)]


async def test_another_students_session_is_not_found_and_nothing_is_announced():
    store = Store()
    session = _session(store, _student())
    units = fake_units(store)
    with pytest.raises(NotFound):
        async with units(TENANT) as uow:
            await end_session(EndSession(_student(), session.id), uow, now=NOW)
    assert units.emitted == [] and store.sessions[session.id].ended_at is None


async def test_a_session_ends_once():
    store, student = Store(), _student()
    session = _session(store, student, ended_at=T0)
    units = fake_units(store)
    with pytest.raises(Conflict):
        async with units(TENANT) as uow:
            await end_session(EndSession(student, session.id), uow, now=NOW)
    assert units.emitted == [] and store.sessions[session.id].ended_at == T0

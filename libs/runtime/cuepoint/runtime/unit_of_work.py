"""The unit of work: one use case's transaction. What the use case reads and writes, and the
events it announces, commit together or not at all.

A use case is a plain async function that takes a command and a unit of work::

    async def rename_lesson(command: RenameLesson, uow: ContentUnitOfWork) -> Lesson:
        lesson = await uow.lessons.get(command.lesson_id)
        lesson.rename(command.title)                       # the rule lives in domain/
        await uow.lessons.save(lesson)
        uow.emit(events.LessonUpdated(...), actor_id=command.actor_id)
        return lesson

and runs it inside ``async with units(tenant_id) as uow:``. The real unit of work is a tenant
transaction (row-level security set for the tenant, :mod:`cuepoint.runtime.db`); ``emit`` writes
the event into the service's outbox in that same transaction (:mod:`cuepoint.runtime.outbox`), so
an event is published if and only if what it announces was committed. A service subclasses
:class:`UnitOfWork` to hang its repositories on the session (``_open``); its unit tests use a
:class:`FakeUnitOfWork` with in-memory repositories and assert on ``emitted`` and ``committed``.

Events of several keys in one unit of work: emit them in a stable order (say, by key). Each key's
outbox lock is taken when its event is emitted, so two transactions emitting two keys in opposite
orders deadlock, and PostgreSQL aborts one of them (found by tests/faults/test_relay_and_api_kills.py,
whose writers now emit in sorted order; no use case emits for several keys in varying order today).

Why ``emit`` writes at once instead of collecting events for the commit: the outbox takes a
per-key advisory lock when an event is added, so events of one key are ordered as the transactions
that wrote them; writing at commit would take those locks later, in a different order than the
rows they announce were locked.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, Self, TypeVar
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cuepoint.contracts.envelope import Envelope, Event, new_envelope

from .db import set_tenant
from .outbox import Outbox

@dataclass(frozen=True)
class Emitted:
    """An event a use case announced, as its unit of work recorded it."""

    event: Event
    actor_id: UUID | None = None
    causation_id: UUID | None = None


class UnitOfWork:
    """A tenant transaction plus the outbox. Use it once: ``async with units(tenant) as uow``.

    ``tenant_id=None`` opens a transaction without a tenant: row-level security then shows no
    tenant's rows, only tables without it (e.g. identity's tenants, looked up by slug at sign-in).
    Leaving the block commits; an exception rolls everything back, events included.
    """

    session: AsyncSession

    def __init__(self, sessions: async_sessionmaker[AsyncSession] | None, outbox: Outbox,
                 tenant_id: UUID | None) -> None:
        self._sessions = sessions
        self._outbox = outbox
        self.tenant_id = tenant_id
        self.emitted: list[Emitted] = []
        self.committed = False
        self._joined = False
        self.on_commit: Callable[[], None] | None = None  # UnitsOfWork's: told after each commit

    @classmethod
    def joining(cls, session: AsyncSession, outbox: Outbox, tenant_id: UUID | None) -> Self:
        """A unit of work inside a transaction another opened and ends: a consumer's, which commits
        the use case's writes with the event's inbox row and then acknowledges the record. The same
        repositories and ``emit``; entering and leaving it neither begins nor commits anything."""
        uow = cls(None, outbox, tenant_id)
        uow.session = session
        uow._joined = True
        uow._open(session)
        return uow

    async def __aenter__(self) -> Self:
        if self._joined:
            return self
        assert self._sessions is not None
        self.session = self._sessions()
        await self.session.begin()
        if self.tenant_id is not None:
            await set_tenant(self.session, self.tenant_id)
        self._open(self.session)
        return self

    def _open(self, session: AsyncSession) -> None:
        """Where a service's unit of work builds its repositories on the session."""

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: Any) -> None:
        if self._joined:
            return  # its owner commits or rolls back (an exception goes on to it)
        try:
            if kind is None:
                await self.session.commit()
                self.committed = True
                if self.on_commit is not None:
                    self.on_commit()
            else:
                await self.session.rollback()
        finally:
            await self.session.close()

    async def emit(self, event: Event, *, actor_id: UUID | None = None, causation_id: UUID | None = None,
                   tenant_id: UUID | None = None) -> Envelope[Any]:
        """Announces ``event`` for this transaction's tenant (or ``tenant_id``, for a transaction
        without one); the envelope gets the request's correlation id."""
        tenant = tenant_id or self.tenant_id
        if tenant is None:
            raise ValueError("an event needs a tenant: this unit of work has none, and none was given")
        self.emitted.append(Emitted(event, actor_id, causation_id))
        return await self._outbox.emit(self.session, event, tenant_id=tenant, actor_id=actor_id,
                                       causation_id=causation_id)

    async def tombstone(self, topic: str, key: str) -> None:
        """Erases every earlier record of ``key`` on a compacted topic (see Outbox.tombstone)."""
        await self._outbox.tombstone(self.session, topic, key, tenant_id=self.tenant_id)


U = TypeVar("U", bound=UnitOfWork)


class UnitsOfWork(Generic[U]):
    """Makes a service's units of work: ``units(tenant_id)``. Built once, in the composition root."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], outbox: Outbox,
                 kind: type[U] = UnitOfWork, *,  # type: ignore[assignment]
                 on_commit: Callable[[], None] | None = None) -> None:
        """``on_commit``: called after each of its units commits, before the caller goes on (e.g. to
        forget what an in-process cache kept of the rows it wrote)."""
        self.sessions = sessions
        self.outbox = outbox
        self.kind = kind
        self.on_commit = on_commit

    def __call__(self, tenant_id: UUID | None) -> U:
        unit = self.kind(self.sessions, self.outbox, tenant_id)
        unit.on_commit = self.on_commit
        return unit


class FakeUnitOfWork:
    """A unit of work for unit tests of use cases: no database, no Kafka. Give it in-memory
    repositories as attributes (``FakeUnitOfWork(tenant_id, lessons=FakeLessons())``); it records
    what was emitted and whether the block ended in a commit (an exception means a rollback, and
    a fake repository can drop what it staged in ``rolled_back``)."""

    def __init__(self, tenant_id: UUID | None = None, **repositories: Any) -> None:
        self.tenant_id = tenant_id
        self.emitted = []
        self.committed = False
        self.rolled_back = False
        self.tombstones: list[tuple[str, str]] = []
        for name, repository in repositories.items():
            setattr(self, name, repository)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: Any) -> None:
        self.committed = kind is None
        self.rolled_back = kind is not None

    async def emit(self, event: Event, *, actor_id: UUID | None = None, causation_id: UUID | None = None,
                   tenant_id: UUID | None = None) -> Envelope[Any]:
        tenant = tenant_id or self.tenant_id
        if tenant is None:
            raise ValueError("an event needs a tenant: this unit of work has none, and none was given")
        self.emitted.append(Emitted(event, actor_id, causation_id))
        return new_envelope(event, tenant_id=tenant, producer="test", actor_id=actor_id, causation_id=causation_id)

    async def tombstone(self, topic: str, key: str) -> None:
        self.tombstones.append((topic, key))

    def events_of(self, kind: type) -> list[Event]:
        """The emitted events of one type, in order: what a unit test asserts on."""
        return [e.event for e in self.emitted if isinstance(e.event, kind)]


class FakeUnitsOfWork:
    """``units(tenant_id)`` for unit tests: hands out one FakeUnitOfWork per call, sharing the
    same repositories, and keeps them in ``opened`` for the test to look into."""

    def __init__(self, **repositories: Any) -> None:
        self.repositories = repositories
        self.opened: list[FakeUnitOfWork] = []

    def __call__(self, tenant_id: UUID | None) -> FakeUnitOfWork:
        uow = FakeUnitOfWork(tenant_id, **self.repositories)
        self.opened.append(uow)
        return uow

    @property
    def emitted(self) -> list[Emitted]:
        return [e for uow in self.opened if uow.committed for e in uow.emitted]

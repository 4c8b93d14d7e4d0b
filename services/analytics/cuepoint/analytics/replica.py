"""Where analytics' dashboards and exports read: the streaming replica named by ``CUEPOINT_ANALYTICS_READ_URL``,
or the primary when none is named or while the replica does not answer (docs/decisions/0008).

A read on the replica is the same tenant transaction as on the primary: the analytics runtime role (the
replica is a physical copy: same roles, same row-level security) with ``app.tenant_id`` set for the
transaction. Setting it and reading the replica's lag are one round trip. Writes never come here.

The metrics are defined here rather than in cuepoint/runtime/metrics.py: they are analytics' own. The
primary's prometheus-postgres-exporter already exposes the replica's lag in bytes
(``pg_stat_replication_pg_wal_lsn_diff``, ``pg_replication_slots_pg_wal_lsn_diff``); this is the lag in
seconds as analytics' reads see it.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Any, ParamSpec, TypeVar
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from cuepoint.runtime import db
from cuepoint.runtime.http import database_unavailable
from cuepoint.runtime.metrics import READ_REPLICA_LAG, READ_REPLICA_UP
from cuepoint.runtime.metrics import READS_BY_SOURCE as READS

REPLICA_LAG, REPLICA_UP = READ_REPLICA_LAG.labels("analytics"), READ_REPLICA_UP.labels("analytics")

log = logging.getLogger(__name__)


# 0 on a primary (no replica named); on a standby, 0 once it has replayed everything it received, else the age
# of the last transaction it replayed.
LAG = """CASE WHEN NOT pg_is_in_recovery() OR pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
             ELSE COALESCE(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()), 0) END"""
OPEN = text(f"SELECT set_config('app.tenant_id', :tenant_id, true), {LAG} AS lag").execution_options(
    statement_name="analytics_replica_open")
MEASURE = text(f"SELECT {LAG} AS lag").execution_options(statement_name="analytics_replica_lag")


P = ParamSpec("P")
R = TypeVar("R")
_primary_only: ContextVar[bool] = ContextVar("analytics_reads_primary_only", default=False)


class ReplicaLost(Exception):
    """The replica went away in the middle of a read (the read may be run again on the primary)."""


def on_primary_if_the_replica_is_lost(read: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """A view method that, when the replica goes away in the middle of it, runs once more on the primary: reads
    are idempotent, so the request is answered rather than failed."""

    @functools.wraps(read)
    async def reading(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await read(*args, **kwargs)
        except ReplicaLost:
            token = _primary_only.set(True)
            try:
                return await read(*args, **kwargs)
            finally:
                _primary_only.reset(token)

    return reading


def sqlalchemy_url(url: str) -> str:
    """``postgresql://…`` (as libpq tools take it) → ``postgresql+psycopg://…``."""
    scheme, rest = url.split("://", 1)
    return "postgresql+psycopg://" + rest if scheme in ("postgresql", "postgres") else url


def _where(url: str) -> str:
    return url.rsplit("@", 1)[-1]  # host:port/database, never the password


class Reads:
    """Tenant transactions for the dashboards and exports: on the replica when there is one and it answers,
    else on the primary. A replica that cannot be reached (refused, gone away, shutting down) sends reads to
    the primary for ``retry_after`` seconds, then the next read tries it again; each change of source is
    logged once. A read that the replica drops midway raises ``ReplicaLost``: the views run it again on the
    primary (``on_primary_if_the_replica_is_lost``)."""

    def __init__(self, primary: async_sessionmaker[AsyncSession], replica: async_sessionmaker[AsyncSession] | None = None,
                 *, where: str = "", max_lag: float = 10.0, retry_after: float = 5.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.primary = primary
        self.replica = replica
        self.where = where
        self.max_lag = max_lag
        self.retry_after = retry_after
        self.clock = clock
        self.lag: float | None = None
        self._down_since: float | None = None
        if replica is not None:
            REPLICA_UP.set(1)

    @classmethod
    def from_settings(cls, primary: async_sessionmaker[AsyncSession], settings: Any, *,
                      pool_size: int = 10) -> tuple[Reads, AsyncEngine | None]:
        """The reads of ``settings`` (AnalyticsSettings) and the replica's engine to dispose of, if any."""
        url = settings.analytics_read_url
        if not url:
            return cls(primary), None
        engine = db.create_engine(sqlalchemy_url(url), pool_size=pool_size,
                                  application_name="cuepoint-analytics-replica", connect_timeout=3)
        return cls(primary, db.session_factory(engine), where=_where(url), max_lag=settings.analytics_read_max_lag,
                   retry_after=settings.analytics_read_retry), engine

    @property
    def on_replica(self) -> bool:
        return self.replica is not None and self._down_since is None

    def _seen(self, lag: float) -> None:
        self.lag = float(lag)
        REPLICA_LAG.set(self.lag)
        if self._down_since is not None:
            log.info("analytics reads: the replica answers again; reading from it", extra={"replica": self.where})
            self._down_since = None
            REPLICA_UP.set(1)

    def _lost(self, error: BaseException) -> None:
        if self._down_since is None:
            log.warning("analytics reads: the replica does not answer; reading from the primary",
                        extra={"replica": self.where, "error": str(error).splitlines()[0] if str(error) else repr(error)})
            REPLICA_UP.set(0)
        self._down_since = self.clock()

    def _worth_trying(self) -> bool:
        return self.replica is not None and not _primary_only.get() and (
            self._down_since is None or self.clock() - self._down_since >= self.retry_after)

    async def _open_on_replica(self, tenant_id: UUID | str) -> AsyncSession | None:
        assert self.replica is not None
        session = self.replica()
        try:
            lag = (await session.execute(OPEN, {"tenant_id": str(tenant_id)})).one().lag
        except Exception as error:
            await session.close()
            if not database_unavailable(error):  # refused, terminated, shutting down, timed out
                raise
            self._lost(error)
            return None
        except BaseException:
            await session.close()
            raise
        self._seen(lag)
        return session

    @asynccontextmanager
    async def transaction(self, tenant_id: UUID | str) -> AsyncIterator[AsyncSession]:
        """One read-only transaction in which only ``tenant_id``'s rows are visible. If the replica goes away
        in the middle of it, ``ReplicaLost`` (``on_primary_if_the_replica_is_lost`` runs the read again)."""
        session = await self._open_on_replica(tenant_id) if self._worth_trying() else None
        if session is None:
            READS.labels("primary").inc()
            async with db.tenant_transaction(self.primary, tenant_id) as on_primary:
                yield on_primary
            return
        READS.labels("replica").inc()
        try:
            yield session
            await session.commit()
        except Exception as error:
            if not database_unavailable(error):
                raise
            self._lost(error)
            raise ReplicaLost(str(error).splitlines()[0] if str(error) else repr(error)) from error
        finally:
            await session.close()

    async def readiness(self) -> str | None:
        """For /readyz: None when reads are as they should be, else what degrades them (the replica away,
        or further behind than ``max_lag``). Never a failure: the primary answers meanwhile."""
        if self.replica is None:
            return None
        try:
            async with self.replica() as session:
                lag = float((await session.execute(MEASURE)).scalar_one())
        except Exception as error:
            if not database_unavailable(error):
                raise
            self._lost(error)
            return f"the read replica ({self.where}) does not answer: dashboards read from the primary"
        self._seen(lag)
        if lag > self.max_lag:
            return f"the read replica is {lag:.1f} s behind the primary (more than {self.max_lag:g} s)"
        return None

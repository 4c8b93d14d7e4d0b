"""The composition root of the analytics service: everything it runs is assembled here."""

import weakref
from pathlib import Path

from fastapi import APIRouter

from cuepoint.runtime.http import DegradationCheck
from cuepoint.runtime.service import BackgroundTask, ServiceContext, ServiceSpec
from cuepoint.runtime.unit_of_work import UnitsOfWork

from . import api, consumers
from .consumers import input_consumers
from .operations import COMMANDS, REBUILT, ensure_partitions, keep_partitions_ahead, rebuild
from .replica import Reads
from .settings import AnalyticsSettings
from .stream import ClientEventStream
from .unit_of_work import AnalyticsUnitOfWork
from .views import AuditLog, Dashboards

# Imported from here by tests/ and bench/.
__all__ = ["REBUILT", "ensure_partitions", "input_consumers", "rebuild", "spec"]


def background(context: ServiceContext) -> list[BackgroundTask]:
    return [keep_partitions_ahead(context)]


_READS: weakref.WeakKeyDictionary[ServiceContext, Reads] = weakref.WeakKeyDictionary()


def reads(context: ServiceContext) -> Reads:
    """Where this process's dashboards and exports read (the replica of CUEPOINT_ANALYTICS_READ_URL, if any):
    one per context, shared by the routes and /readyz."""
    if context not in _READS:
        found, engine = Reads.from_settings(context.sessions, context.settings, pool_size=context.settings.db_pool_size)
        if engine is not None:
            context.on_close(engine.dispose)
        _READS[context] = found
    return _READS[context]


def routers(context: ServiceContext) -> list[APIRouter]:
    stream = ClientEventStream(context.settings.bootstrap_servers, topic_prefix=context.settings.topic_prefix)
    context.on_close(stream.close)
    # Writes (the ingest's outbox, projections, the audit chain) use the primary's sessions; reads, reads().
    units = UnitsOfWork(context.sessions, context.outbox, AnalyticsUnitOfWork)
    return api.routers(units, stream, Dashboards(reads(context)), AuditLog(reads(context)), context.verifier)


def degradations(context: ServiceContext) -> dict[str, DegradationCheck]:
    """/readyz says degraded (200) while the read replica is away or further behind than allowed."""
    return {"read_replica": reads(context).readiness} if context.settings.analytics_read_url else {}


def spec() -> ServiceSpec:
    return ServiceSpec(
        name="analytics",
        description="Client event ingest, analytics and audit projections, dashboards.",
        settings=AnalyticsSettings,
        migrations=Path(__file__).parent / "migrations",
        routers=routers,
        consumers=consumers.subscribe,
        background=background,
        degradations=degradations,
        commands=COMMANDS,
    )

"""The composition root of the analytics service: everything it runs is assembled here."""

from pathlib import Path

from fastapi import APIRouter

from cuepoint.runtime.service import BackgroundTask, ServiceContext, ServiceSpec
from cuepoint.runtime.unit_of_work import UnitsOfWork

from . import api, consumers
from .consumers import input_consumers
from .operations import COMMANDS, REBUILT, ensure_partitions, keep_partitions_ahead, rebuild
from .settings import AnalyticsSettings
from .stream import ClientEventStream
from .unit_of_work import AnalyticsUnitOfWork
from .views import AuditLog, Dashboards

# Imported from here by tests/ and bench/.
__all__ = ["REBUILT", "ensure_partitions", "input_consumers", "rebuild", "spec"]


def background(context: ServiceContext) -> list[BackgroundTask]:
    return [keep_partitions_ahead(context)]


def routers(context: ServiceContext) -> list[APIRouter]:
    stream = ClientEventStream(context.settings.bootstrap_servers, topic_prefix=context.settings.topic_prefix)
    context.on_close(stream.close)
    units = UnitsOfWork(context.sessions, context.outbox, AnalyticsUnitOfWork)
    return api.routers(units, stream, Dashboards(context.sessions), AuditLog(context.sessions), context.verifier)


def spec() -> ServiceSpec:
    return ServiceSpec(
        name="analytics",
        description="Client event ingest, analytics and audit projections, dashboards.",
        settings=AnalyticsSettings,
        migrations=Path(__file__).parent / "migrations",
        routers=routers,
        consumers=consumers.subscribe,
        background=background,
        commands=COMMANDS,
    )

"""The composition root of the progress service: everything it runs is assembled here."""

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from fastapi import APIRouter
from faststream.kafka import KafkaBroker

from cuepoint.contracts.topics import CLIENT_EVENTS, IDENTITY_EVENTS
from cuepoint.runtime.consumer import DeadLetters
from cuepoint.runtime.db import libpq_dsn
from cuepoint.runtime import replay
from cuepoint.runtime.replay import AlreadyDeadLettered, confirmed
from cuepoint.runtime.service import Command, ServiceContext, ServiceSpec
from cuepoint.runtime.unit_of_work import UnitsOfWork

from . import api, orm
from .consumers import export_consumer, input_consumers
from .live import LiveHub
from .settings import ProgressSettings
from .unit_of_work import ProgressUnitOfWork
from .views import Views

__all__ = ["ProgressSettings", "input_consumers", "rebuild", "spec"]  # what tests/ and bench/ import from here


def consumers(context: ServiceContext, broker: KafkaBroker, dead_letters: DeadLetters) -> None:
    for topic, consumer in input_consumers(context, dead_letters, emit=True).items():
        context.subscribe(consumer, broker, topic)
    context.subscribe(export_consumer(context, dead_letters), broker, IDENTITY_EVENTS.name)


def routers(context: ServiceContext) -> list[APIRouter]:
    views = Views(sessions=context.sessions, reads=context.reads)
    units = UnitsOfWork(context.sessions, context.outbox, ProgressUnitOfWork)
    hub = LiveHub(libpq_dsn(context.settings.runtime_database_url))  # one LISTEN connection, on the first stream
    context.on_close(hub.close)
    return api.routers(views, units, hub, context.verifier)


def _rebuild_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--yes", action="store_true", help="do not ask for confirmation")


def _rebuild(context: ServiceContext, args: argparse.Namespace) -> int:
    refused = confirmed(args.yes, "progress's projections")
    return refused if refused is not None else asyncio.run(rebuild(context))


async def rebuild(context: ServiceContext, *, out: Any = sys.stderr) -> int:
    """Progress's own events are not emitted again (``emit=False``)."""
    dead = AlreadyDeadLettered()
    return await replay.rebuild(context, input_consumers(context, dead, emit=False),
                                tables=[table.name for table in orm.PROJECTIONS], client_topic=CLIENT_EVENTS.name,
                                dead=dead, out=out)


def spec() -> ServiceSpec:
    return ServiceSpec(
        name="progress",
        description="Cross-device sessions, resume and lesson progress (projections of events).",
        settings=ProgressSettings,
        migrations=Path(__file__).parent / "migrations",
        routers=routers,
        consumers=consumers,
        commands={"rebuild": Command(help="empty the projections and replay every input topic from offset 0",
                                     run=_rebuild, arguments=_rebuild_arguments)},
    )

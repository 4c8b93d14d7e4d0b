"""The composition root of the progress service: everything it runs is assembled here."""

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from fastapi import APIRouter
from faststream.kafka import KafkaBroker

from cuepoint.contracts.topics import ASSESSMENT_EVENTS, CLIENT_EVENTS, CONTENT_EVENTS, PROGRESS_EVENTS, USER_PROFILES
from cuepoint.runtime.consumer import BatchConsumer, DeadLetters, IdempotentConsumer
from cuepoint.runtime.db import libpq_dsn
from cuepoint.runtime import replay
from cuepoint.runtime.replay import AlreadyDeadLettered, confirmed
from cuepoint.runtime.service import Command, ServiceContext, ServiceSpec

from . import api, orm
from .live import LiveHub
from .names import DisplayNames, ProfileConsumer
from .projection import Projection
from .reads import Reads
from .settings import ProgressSettings


def input_consumers(context: ServiceContext, dead_letters: Any, *, emit: bool) -> dict[str, Any]:
    """Topic name (unprefixed) → the consumer that projects it; the worker and `rebuild` share these."""
    projection = Projection(context.outbox, emit=emit)
    common = {"sessions": context.sessions, "schema": "progress", "dead_letters": dead_letters,
              "max_tries": context.settings.consumer_max_tries}
    return {
        CONTENT_EVENTS.name: IdempotentConsumer(group_id="progress.content", handlers=projection.catalog_handlers(),
                                                **common),
        ASSESSMENT_EVENTS.name: IdempotentConsumer(group_id="progress.assessment",
                                                   handlers=projection.assessment_handlers(), **common),
        PROGRESS_EVENTS.name: IdempotentConsumer(group_id="progress.sessions", handlers=projection.own_handlers(),
                                                 **common),
        CLIENT_EVENTS.name: BatchConsumer(group_id="progress.playback", handler=projection.playback,
                                          event_types=["analytics.client_event.recorded.v1"], **common),
        USER_PROFILES.name: ProfileConsumer(group_id="progress.profiles", names=DisplayNames(), **common),
    }


def consumers(context: ServiceContext, broker: KafkaBroker, dead_letters: DeadLetters) -> None:
    for topic, consumer in input_consumers(context, dead_letters, emit=True).items():
        context.subscribe(consumer, broker, topic)


def routers(context: ServiceContext) -> list[APIRouter]:
    reads = Reads(sessions=context.sessions, outbox=context.outbox)
    hub = LiveHub(libpq_dsn(context.settings.runtime_database_url))  # one LISTEN connection, on the first stream
    context.on_close(hub.close)
    return api.routers(reads, hub, context.verifier)


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

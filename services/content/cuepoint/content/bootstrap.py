"""The composition root of the content service: everything it runs is assembled here."""

from pathlib import Path

from faststream.kafka import KafkaBroker
from fastapi import APIRouter

from cuepoint.contracts.topics import ASSESSMENT_EVENTS
from cuepoint.runtime.consumer import DeadLetters, IdempotentConsumer
from cuepoint.runtime.service import ServiceContext, ServiceSpec

from . import api
from .consumers import HANDLERS
from .handlers import Content
from .settings import ContentSettings
from .storage import VideoStorage


def build_content(context: ServiceContext) -> Content:
    settings = context.settings
    assert isinstance(settings, ContentSettings)
    return Content(sessions=context.sessions, outbox=context.outbox, storage=VideoStorage(settings), settings=settings,
                   config=context.config, reads=context.reads)


def routers(context: ServiceContext) -> list[APIRouter]:
    return api.routers(build_content(context), context.verifier)


def consumers(context: ServiceContext, broker: KafkaBroker, dead_letters: DeadLetters) -> None:
    context.subscribe(IdempotentConsumer(
        sessions=context.sessions, schema="content", group_id="content.questions-projection", handlers=HANDLERS,
        dead_letters=dead_letters, max_tries=context.settings.consumer_max_tries), broker, ASSESSMENT_EVENTS.name)


def spec() -> ServiceSpec:
    return ServiceSpec(
        name="content",
        description="Lessons, chapters, videos on object storage, milestones and transcripts.",
        settings=ContentSettings,
        migrations=Path(__file__).parent / "migrations",
        routers=routers,
        consumers=consumers,
    )

"""The composition root of the assessment service: everything it runs is assembled here."""

import logging
from pathlib import Path

from fastapi import APIRouter
from faststream.kafka import KafkaBroker

from cuepoint.contracts.topics import CONTENT_EVENTS, SYSTEM_CONFIGS
from cuepoint.runtime.consumer import DeadLetters, IdempotentConsumer
from cuepoint.runtime.secrets import LOCAL_DEVELOPMENT_KEY, SecretBox
from cuepoint.runtime.service import BackgroundTask, ServiceContext, ServiceSpec

from . import api
from .consumers import handlers
from .generation import Generation
from .handlers import Assessment
from .settings import AssessmentSettings

log = logging.getLogger(__name__)


def _settings(context: ServiceContext) -> AssessmentSettings:
    settings = context.settings
    assert isinstance(settings, AssessmentSettings)
    return settings


def _box(settings: AssessmentSettings) -> SecretBox:
    if settings.secret_key.get_secret_value() == LOCAL_DEVELOPMENT_KEY:
        log.warning("CUEPOINT_SECRET_KEY is the local development key: set a real one in production")
    return SecretBox(settings.secret_key.get_secret_value())


def build_generation(context: ServiceContext) -> Generation:
    settings = _settings(context)
    return Generation(sessions=context.sessions, outbox=context.outbox, box=_box(settings), settings=settings,
                      config=context.config)


def build_assessment(context: ServiceContext) -> Assessment:
    generation = build_generation(context)
    return Assessment(sessions=context.sessions, outbox=context.outbox, box=generation.box, generation=generation,
                      config=context.config)


def routers(context: ServiceContext) -> list[APIRouter]:
    return api.routers(build_assessment(context), context.verifier)


def consumers(context: ServiceContext, broker: KafkaBroker, dead_letters: DeadLetters) -> None:
    projection = handlers(build_generation(context), auto_generate_count=_settings(context).auto_generate_count)
    context.subscribe(IdempotentConsumer(
        sessions=context.sessions, schema="assessment", group_id="assessment.content-projection", handlers=projection,
        dead_letters=dead_letters, max_tries=context.settings.consumer_max_tries), broker, CONTENT_EVENTS.name)
    # Grades follow a changed passing threshold (their `passed`); the compacted topic keeps every latest value.
    context.subscribe(IdempotentConsumer(
        sessions=context.sessions, schema="assessment", group_id="assessment.grading-configs",
        handlers={"identity.system_config.changed.v1": build_assessment(context).passing_threshold_changed},
        dead_letters=dead_letters, max_tries=context.settings.consumer_max_tries), broker, SYSTEM_CONFIGS.name)


def background(context: ServiceContext) -> list[BackgroundTask]:
    return [build_generation(context).run]


def spec() -> ServiceSpec:
    return ServiceSpec(
        name="assessment",
        description="AI question generation and review, attempts and grading.",
        settings=AssessmentSettings,
        migrations=Path(__file__).parent / "migrations",
        routers=routers,
        consumers=consumers,
        background=background,
    )

"""The composition root of the assessment service: everything it runs is assembled here."""

import argparse
import logging
from dataclasses import dataclass
from pathlib import Path

from fastapi import APIRouter
from faststream.kafka import KafkaBroker

from cuepoint.runtime.consumer import DeadLetters
from cuepoint.runtime.secrets import LOCAL_DEVELOPMENT_KEY, Keyring, SecretBox
from cuepoint.runtime.service import BackgroundTask, Command, ServiceContext, ServiceSpec
from cuepoint.runtime.unit_of_work import UnitsOfWork

from . import api
from . import consumers as subscriptions
from .runner import GenerationRunner
from .settings import AssessmentSettings
from .unit_of_work import AssessmentUnitOfWork
from .use_cases.policies import ConfigLookup

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Assessment:
    """What the use cases are called with: the units of work and the named dependencies."""

    units: UnitsOfWork[AssessmentUnitOfWork]
    box: SecretBox
    settings: AssessmentSettings
    config: ConfigLookup


def _settings(context: ServiceContext) -> AssessmentSettings:
    settings = context.settings
    assert isinstance(settings, AssessmentSettings)
    return settings


def _box(settings: AssessmentSettings) -> SecretBox:
    if settings.secret_key.get_secret_value() == LOCAL_DEVELOPMENT_KEY:
        log.warning("CUEPOINT_SECRET_KEY is the local development key: set a real one in production")
    return Keyring.from_settings(settings)


def build_assessment(context: ServiceContext) -> Assessment:
    settings = _settings(context)
    return Assessment(units=UnitsOfWork(context.sessions, context.outbox, AssessmentUnitOfWork), box=_box(settings),
                      settings=settings, config=context.config)


def build_generation(context: ServiceContext) -> GenerationRunner:
    assessment = build_assessment(context)
    return GenerationRunner(units=assessment.units, box=assessment.box, settings=assessment.settings,
                      config=assessment.config)


def routers(context: ServiceContext) -> list[APIRouter]:
    assessment = build_assessment(context)
    return api.routers(assessment.units, context.verifier, config=assessment.config, box=assessment.box,
                       settings=assessment.settings)


def consumers(context: ServiceContext, broker: KafkaBroker, dead_letters: DeadLetters) -> None:
    subscriptions.subscribe(context, broker, dead_letters, auto_generate_count=_settings(context).auto_generate_count)


def background(context: ServiceContext) -> list[BackgroundTask]:
    """The generation runner's loop, and its sampling of the queue's depth and age into the metrics."""
    runner = build_generation(context)
    return [runner.run, runner.sample_queue]


def rotate_secrets_command(context: ServiceContext, args: argparse.Namespace) -> int:
    from .rotation import rotate_api_keys

    settings = _settings(context)
    keyring = _box(settings)
    changed = rotate_api_keys(settings, keyring, batch_size=args.batch_size)
    print(f"ai_configurations: {changed} rows re-encrypted; everything is now under key {keyring.current_id}"
          + ("; CUEPOINT_PREVIOUS_SECRET_KEYS can be emptied" if keyring.previous else ""))
    return 0


def _rotate_secrets_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--batch-size", type=int, default=500,
                        help="rows re-encrypted per transaction (default: %(default)s)")


def spec() -> ServiceSpec:
    return ServiceSpec(
        name="assessment",
        description="AI question generation and review, attempts and grading.",
        settings=AssessmentSettings,
        migrations=Path(__file__).parent / "migrations",
        routers=routers,
        consumers=consumers,
        background=background,
        commands={"rotate-secrets": Command(
            "re-encrypt every AI provider API key under the current CUEPOINT_SECRET_KEY, reading older ones with "
            "CUEPOINT_PREVIOUS_SECRET_KEYS; idempotent. Run it after making a new key current, then drop the "
            "previous keys", rotate_secrets_command, _rotate_secrets_arguments)},
    )

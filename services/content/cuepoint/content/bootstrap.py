"""The composition root of the content service: everything it runs is assembled here."""

from pathlib import Path

from fastapi import APIRouter

from cuepoint.runtime.db import libpq_dsn
from cuepoint.runtime.service import ServiceContext, ServiceSpec
from cuepoint.runtime.unit_of_work import UnitsOfWork

from . import api
from .consumers import subscribe as consumers
from .ffprobe import Prober
from .lookup_cache import LookupCache
from .settings import ContentSettings
from .storage import VideoStorage
from .unit_of_work import ContentUnitOfWork

__all__ = ["build_content", "consumers", "routers", "spec"]


def build_content(context: ServiceContext) -> api.Dependencies:
    settings = context.settings
    assert isinstance(settings, ContentSettings)
    storage = VideoStorage(settings)
    kept = LookupCache(libpq_dsn(settings.runtime_database_url))  # one LISTEN connection, on the first lookup
    context.on_close(kept.close)
    units = UnitsOfWork(context.sessions, context.outbox, ContentUnitOfWork, on_commit=kept.changed)
    return api.Dependencies(units=units, sessions=context.sessions, lookups=context.reads, kept_lookups=kept,
                            storage=storage, settings=settings,
                            config=context.config, probe=Prober(storage, settings.probe_timeout_seconds))


def routers(context: ServiceContext) -> list[APIRouter]:
    return api.routers(build_content(context), context.verifier)


def spec() -> ServiceSpec:
    return ServiceSpec(
        name="content",
        description="Lessons, chapters, videos on object storage, milestones and transcripts.",
        settings=ContentSettings,
        migrations=Path(__file__).parent / "migrations",
        routers=routers,
        consumers=consumers,
    )

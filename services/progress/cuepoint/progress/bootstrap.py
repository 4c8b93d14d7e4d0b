"""The composition root of the progress service: everything it runs is assembled here."""

from pathlib import Path

from cuepoint.runtime.service import ServiceSpec

from .settings import ProgressSettings


def spec() -> ServiceSpec:
    return ServiceSpec(
        name="progress",
        description="Cross-device sessions, resume and lesson progress (projections of events).",
        settings=ProgressSettings,
        migrations=Path(__file__).parent / "migrations",
    )

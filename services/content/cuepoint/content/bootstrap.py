"""The composition root of the content service: everything it runs is assembled here."""

from pathlib import Path

from cuepoint.runtime.service import ServiceSpec

from .settings import ContentSettings


def spec() -> ServiceSpec:
    return ServiceSpec(
        name="content",
        description="Lessons, chapters, videos on object storage, milestones and transcripts.",
        settings=ContentSettings,
        migrations=Path(__file__).parent / "migrations",
    )

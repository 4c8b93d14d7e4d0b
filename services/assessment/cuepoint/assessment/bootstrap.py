"""The composition root of the assessment service: everything it runs is assembled here."""

from pathlib import Path

from cuepoint.runtime.service import ServiceSpec

from .settings import AssessmentSettings


def spec() -> ServiceSpec:
    return ServiceSpec(
        name="assessment",
        description="AI question generation and review, attempts and grading.",
        settings=AssessmentSettings,
        migrations=Path(__file__).parent / "migrations",
    )

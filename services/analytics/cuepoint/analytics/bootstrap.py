"""The composition root of the analytics service: everything it runs is assembled here."""

from pathlib import Path

from cuepoint.runtime.service import ServiceSpec

from .settings import AnalyticsSettings


def spec() -> ServiceSpec:
    return ServiceSpec(
        name="analytics",
        description="Client event ingest, analytics and audit projections, dashboards.",
        settings=AnalyticsSettings,
        migrations=Path(__file__).parent / "migrations",
    )

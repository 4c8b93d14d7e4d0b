"""The composition root of the identity service: everything it runs is assembled here."""

from pathlib import Path

from cuepoint.runtime.service import ServiceSpec

from .settings import IdentitySettings


def spec() -> ServiceSpec:
    return ServiceSpec(
        name="identity",
        description="Tenants, users, roles, sessions, preferences and system configuration.",
        settings=IdentitySettings,
        migrations=Path(__file__).parent / "migrations",
    )

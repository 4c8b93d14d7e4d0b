"""The composition root of the identity service: everything it runs is assembled here."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import logging
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from uuid import UUID

from fastapi import APIRouter
from faststream.kafka import KafkaBroker
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cuepoint.runtime.auth import TokenVerifier
from cuepoint.runtime.consumer import DeadLetters
from cuepoint.runtime.secrets import LOCAL_DEVELOPMENT_KEY, Keyring
from cuepoint.runtime.service import ServiceContext, ServiceSpec
from cuepoint.runtime.unit_of_work import UnitsOfWork

from . import api, operations, runner
from .consumers import subscribe
from .demo import seed_demo  # noqa: F401  (tests seed through the composition root)
from .domain.tenants import Tenant
from .domain.users import User
from .mail import OutgoingMail, mailer_for
from .projections import Notifications
from .security import Passwords, SigningKeys
from .sensitive import SensitiveFields
from .settings import IdentitySettings
from .unit_of_work import IdentityUnitOfWork
from .use_cases import accounts, tenants, weekly_summaries

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Identity:
    """What identity's routes, commands and seeding run on, built once per process."""

    units: UnitsOfWork[IdentityUnitOfWork]
    sessions: async_sessionmaker[AsyncSession]
    passwords: Passwords
    keys: SigningKeys
    mail: OutgoingMail
    settings: IdentitySettings
    unsubscribe_key: bytes
    keyring: Keyring

    async def ensure_tenant(self, *, slug: str, name: str, is_platform: bool = False) -> Tenant:
        return await tenants.ensure_tenant(tenants.EnsureTenant(slug, name, is_platform), self.units,
                                           mail=self.mail, settings=self.settings)

    async def ensure_user(self, *, tenant_id: UUID, email: str, password: str, display_name: str, role: str,
                          platform_admin: bool = False) -> tuple[User, bool]:
        command = accounts.EnsureUser(tenant_id, email, password, display_name, role, platform_admin)
        return await accounts.ensure_user(command, self.units, passwords=self.passwords)

    async def weekly_summaries(self, *, week_start: date) -> int:
        return await weekly_summaries.send_weekly_summaries(
            weekly_summaries.SendWeeklySummaries(week_start), self.units, mail=self.mail, settings=self.settings,
            unsubscribe_key=self.unsubscribe_key)

    async def run_weekly(self, stop: asyncio.Event) -> None:
        await runner.run_weekly(stop, self.units, mail=self.mail, settings=self.settings,
                                unsubscribe_key=self.unsubscribe_key)

    async def run_export_sweep(self, stop: asyncio.Event) -> None:
        await runner.run_export_sweep(stop, self.units, settings=self.settings)


def build_identity(context: ServiceContext) -> Identity:
    settings = context.settings
    assert isinstance(settings, IdentitySettings)
    if settings.secret_key.get_secret_value() == LOCAL_DEVELOPMENT_KEY:
        log.warning("CUEPOINT_SECRET_KEY is the local development key: set a real one outside development")
    keyring = Keyring.from_settings(settings)
    keys = SigningKeys(context.sessions, keyring, rotation=timedelta(days=settings.signing_key_rotation_days))
    return Identity(units=UnitsOfWork(context.sessions, context.outbox, IdentityUnitOfWork.with_keyring(keyring)),
                    sessions=context.sessions, passwords=Passwords(), keys=keys,
                    mail=OutgoingMail(mailer_for(settings)), settings=settings,
                    unsubscribe_key=_unsubscribe_key(settings), keyring=keyring)


def _unsubscribe_key(settings: IdentitySettings) -> bytes:
    """Unsubscribe links are signed with a key derived from the master key (one secret to configure)."""
    master = base64.urlsafe_b64decode(settings.secret_key.get_secret_value())
    return hmac.new(master, b"identity.unsubscribe-links", hashlib.sha256).digest()


def notifications_for(context: ServiceContext) -> Identity:
    """What the worker's weekly summaries run on (tests send them through it)."""
    return build_identity(context)


def consumers(context: ServiceContext, broker: KafkaBroker, dead_letters: DeadLetters) -> None:
    settings = context.settings
    assert isinstance(settings, IdentitySettings)
    subscribe(context, broker, dead_letters, Notifications(mail=OutgoingMail(mailer_for(settings)), settings=settings,
                                                           unsubscribe_key=_unsubscribe_key(settings),
                                                           fields=SensitiveFields(Keyring.from_settings(settings))),
              box=build_identity(context).keys.box, export_ttl=timedelta(days=settings.export_ttl_days))


def routers(context: ServiceContext) -> list[APIRouter]:
    identity = build_identity(context)
    verifier = TokenVerifier(identity.keys, audience=context.settings.jwt_audience, revocations=context.revocations)
    return api.routers(identity, verifier, identity.keys.jwks)


def spec() -> ServiceSpec:
    return ServiceSpec(
        name="identity",
        description="Tenants, users, roles, sessions, preferences and system configuration.",
        settings=IdentitySettings,
        migrations=Path(__file__).parent / "migrations",
        routers=routers,
        consumers=consumers,
        background=lambda context: [notifications_for(context).run_weekly, build_identity(context).run_export_sweep],
        commands=operations.commands(build_identity),
    )

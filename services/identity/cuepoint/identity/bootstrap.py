"""The composition root of the identity service: everything it runs is assembled here."""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
from datetime import timedelta
from pathlib import Path

from fastapi import APIRouter
from faststream.kafka import KafkaBroker

from cuepoint.runtime.auth import TokenVerifier
from cuepoint.runtime.consumer import DeadLetters
from cuepoint.runtime.secrets import LOCAL_DEVELOPMENT_KEY, SecretBox
from cuepoint.runtime.service import ServiceContext, ServiceSpec

from . import api, operations
from .consumers import subscribe
from .demo import seed_demo  # noqa: F401  (tests seed through the composition root)
from .handlers import Identity
from .mail import mailer_for
from .projections import Notifications
from .security import Passwords, SigningKeys
from .settings import IdentitySettings

log = logging.getLogger(__name__)


def build_identity(context: ServiceContext) -> Identity:
    settings = context.settings
    assert isinstance(settings, IdentitySettings)
    if settings.secret_key.get_secret_value() == LOCAL_DEVELOPMENT_KEY:
        log.warning("CUEPOINT_SECRET_KEY is the local development key: set a real one outside development")
    keys = SigningKeys(context.sessions, SecretBox(settings.secret_key.get_secret_value()),
                       rotation=timedelta(days=settings.signing_key_rotation_days))
    return Identity(sessions=context.sessions, outbox=context.outbox, passwords=Passwords(), keys=keys,
                    mailer=mailer_for(settings), settings=settings, unsubscribe_key=_unsubscribe_key(settings))


def _unsubscribe_key(settings: IdentitySettings) -> bytes:
    """Unsubscribe links are signed with a key derived from the master key (one secret to configure)."""
    master = base64.urlsafe_b64decode(settings.secret_key.get_secret_value())
    return hmac.new(master, b"identity.unsubscribe-links", hashlib.sha256).digest()


def notifications_for(context: ServiceContext) -> Notifications:
    settings = context.settings
    assert isinstance(settings, IdentitySettings)
    return Notifications(sessions=context.sessions, mailer=mailer_for(settings), settings=settings,
                         unsubscribe_key=_unsubscribe_key(settings))


def consumers(context: ServiceContext, broker: KafkaBroker, dead_letters: DeadLetters) -> None:
    subscribe(context, broker, dead_letters, notifications_for(context))


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
        background=lambda context: [notifications_for(context).run_weekly],
        commands=operations.commands(build_identity),
    )

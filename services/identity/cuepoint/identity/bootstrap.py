"""The composition root of the identity service: everything it runs is assembled here."""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import logging
import os
from datetime import timedelta
from pathlib import Path

from fastapi import APIRouter
from faststream.kafka import KafkaBroker

from cuepoint.contracts.topics import ASSESSMENT_EVENTS, CONTENT_EVENTS
from cuepoint.runtime.auth import TokenVerifier
from cuepoint.runtime.consumer import DeadLetters, IdempotentConsumer
from cuepoint.runtime.secrets import LOCAL_DEVELOPMENT_KEY, SecretBox
from cuepoint.runtime.service import Command, ServiceContext, ServiceSpec

from . import api
from .handlers import PLATFORM_TENANT_SLUG, Identity
from .mail import mailer_for
from .notifications import Notifications
from .security import Passwords, SigningKeys
from .settings import IdentitySettings

log = logging.getLogger(__name__)

DEMO_TENANT = ("demo", "Demo School")
DEMO_PASSWORD = "Demo123!"
DEMO_USERS = (
    ("admin@example.com", "Ada Admin", "ADMIN"),
    ("teacher@example.com", "Tom Teacher", "TEACHER"),
    ("student@example.com", "Sam Student", "STUDENT"),
)


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
    settings = context.settings
    handlers = notifications_for(context).handlers()
    for topic in (CONTENT_EVENTS, ASSESSMENT_EVENTS):
        context.subscribe(IdempotentConsumer(
            sessions=context.sessions, schema="identity", group_id=f"identity.notifications.{topic.producer}",
            handlers={t: h for t, h in handlers.items() if t.startswith(f"{topic.producer}.")},
            dead_letters=dead_letters, max_tries=settings.consumer_max_tries), broker, topic.name)


def routers(context: ServiceContext) -> list[APIRouter]:
    identity = build_identity(context)
    verifier = TokenVerifier(identity.keys, audience=context.settings.jwt_audience, revocations=context.revocations)
    return api.routers(identity, verifier, identity.keys.jwks)


async def seed_demo(identity: Identity) -> list[str]:
    """The seed's demo tenant and three users, and a platform admin; idempotent."""
    lines = []
    platform = await identity.ensure_tenant(slug=PLATFORM_TENANT_SLUG, name="Cuepoint platform", is_platform=True)
    email = os.environ.get("CUEPOINT_PLATFORM_ADMIN_EMAIL", "platform-admin@example.com")
    password = os.environ.get("CUEPOINT_PLATFORM_ADMIN_PASSWORD", DEMO_PASSWORD)
    _, created = await identity.ensure_user(tenant_id=platform.id, email=email, password=password,
                                            display_name="Platform Admin", role="ADMIN", platform_admin=True)
    lines.append(f"platform admin {email} (tenant '{PLATFORM_TENANT_SLUG}'): {'created' if created else 'exists'}")
    tenant = await identity.ensure_tenant(slug=DEMO_TENANT[0], name=DEMO_TENANT[1])
    for email, name, role in DEMO_USERS:
        _, created = await identity.ensure_user(tenant_id=tenant.id, email=email, password=DEMO_PASSWORD,
                                                display_name=name, role=role)
        lines.append(f"{role.lower():8} {email} (tenant '{DEMO_TENANT[0]}'): {'created' if created else 'exists'}")
    return lines


def _run(context: ServiceContext, work) -> int:
    async def main() -> int:
        try:
            return await work(build_identity(context))
        finally:
            await context.close()

    return asyncio.run(main())


def _seed_demo_command(context: ServiceContext, args: argparse.Namespace) -> int:
    async def work(identity: Identity) -> int:
        for line in await seed_demo(identity):
            print(line)
        print(f"password of the demo users: {DEMO_PASSWORD}")
        return 0

    return _run(context, work)


def _platform_admin_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--email", required=True)
    parser.add_argument("--display-name", default="Platform Admin")
    parser.add_argument("--password-env", default="CUEPOINT_PLATFORM_ADMIN_PASSWORD",
                        help="environment variable holding the password (default: %(default)s)")


def _platform_admin_command(context: ServiceContext, args: argparse.Namespace) -> int:
    password = os.environ.get(args.password_env)
    if not password:
        print(f"set {args.password_env} to the password first", flush=True)
        return 2

    async def work(identity: Identity) -> int:
        platform = await identity.ensure_tenant(slug=PLATFORM_TENANT_SLUG, name="Cuepoint platform", is_platform=True)
        _, created = await identity.ensure_user(tenant_id=platform.id, email=args.email, password=password,
                                                display_name=args.display_name, role="ADMIN", platform_admin=True)
        print(f"platform admin {args.email}: {'created' if created else 'already exists'}")
        return 0

    return _run(context, work)


def _rotate_keys_command(context: ServiceContext, args: argparse.Namespace) -> int:
    async def work(identity: Identity) -> int:
        print(f"new signing key {await identity.keys.rotate()}; older keys stay published until their tokens expire")
        return 0

    return _run(context, work)


def spec() -> ServiceSpec:
    return ServiceSpec(
        name="identity",
        description="Tenants, users, roles, sessions, preferences and system configuration.",
        settings=IdentitySettings,
        migrations=Path(__file__).parent / "migrations",
        routers=routers,
        consumers=consumers,
        background=lambda context: [notifications_for(context).run_weekly],
        commands={
            "seed-demo": Command("create the demo tenant, its admin, teacher and student, and a platform admin "
                                 "(idempotent)", _seed_demo_command),
            "create-platform-admin": Command("create a platform admin (manages tenants)", _platform_admin_command,
                                             _platform_admin_arguments),
            "rotate-keys": Command("start signing with a new key now", _rotate_keys_command),
        },
    )

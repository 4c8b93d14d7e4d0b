"""identity's operations commands: ``python -m cuepoint.identity seed-demo|create-platform-admin|rotate-keys|
rotate-secrets``."""

from __future__ import annotations

import argparse
import asyncio
import os
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from cuepoint.runtime.service import Command, ServiceContext

from .demo import DEMO_PASSWORD, seed_demo
from .domain.tenants import PLATFORM_TENANT_SLUG
from .use_cases.secrets import RotateSecrets, rotate_secrets

if TYPE_CHECKING:
    from .bootstrap import Identity

Build = Callable[[ServiceContext], "Identity"]


def commands(build: Build) -> dict[str, Command]:
    """The commands, each running on the service ``build`` assembles from the command's context."""

    def run(context: ServiceContext, work: Callable[[Identity], Awaitable[int]]) -> int:
        async def main() -> int:
            try:
                return await work(build(context))
            finally:
                await context.close()

        return asyncio.run(main())

    def seed_demo_command(context: ServiceContext, args: argparse.Namespace) -> int:
        async def work(identity: Identity) -> int:
            for line in await seed_demo(identity):
                print(line)
            print(f"password of the demo users: {DEMO_PASSWORD}")
            return 0

        return run(context, work)

    def platform_admin_command(context: ServiceContext, args: argparse.Namespace) -> int:
        password = os.environ.get(args.password_env)
        if not password:
            print(f"set {args.password_env} to the password first", flush=True)
            return 2

        async def work(identity: Identity) -> int:
            platform = await identity.ensure_tenant(slug=PLATFORM_TENANT_SLUG, name="Cuepoint platform",
                                                    is_platform=True)
            _, created = await identity.ensure_user(tenant_id=platform.id, email=args.email, password=password,
                                                    display_name=args.display_name, role="ADMIN", platform_admin=True)
            print(f"platform admin {args.email}: {'created' if created else 'already exists'}")
            return 0

        return run(context, work)

    def rotate_keys_command(context: ServiceContext, args: argparse.Namespace) -> int:
        async def work(identity: Identity) -> int:
            print(f"new signing key {await identity.keys.rotate()}; older keys stay published until their tokens "
                  "expire")
            return 0

        return run(context, work)

    def rotate_secrets_command(context: ServiceContext, args: argparse.Namespace) -> int:
        async def work(identity: Identity) -> int:
            changed = await rotate_secrets(RotateSecrets(batch_size=args.batch_size), identity.units,
                                           keyring=identity.keyring)
            for table, rows in changed.items():
                print(f"{table}: {rows} rows re-encrypted")
            print(f"{sum(changed.values())} rows changed; everything is now under key {identity.keyring.current_id}"
                  + ("; CUEPOINT_PREVIOUS_SECRET_KEYS can be emptied" if identity.keyring.previous else ""))
            return 0

        return run(context, work)

    return {
        "seed-demo": Command("create the demo tenant, its admin, teacher and student, and a platform admin "
                             "(idempotent)", seed_demo_command),
        "create-platform-admin": Command("create a platform admin (manages tenants)", platform_admin_command,
                                         _platform_admin_arguments),
        "rotate-keys": Command("start signing with a new key now", rotate_keys_command),
        "rotate-secrets": Command(
            "re-encrypt every encrypted column (signing keys, emails, session clients, export keys) and "
            "recompute every blind index under the current CUEPOINT_SECRET_KEY, reading older values with "
            "CUEPOINT_PREVIOUS_SECRET_KEYS; idempotent. Run it after making a new key current, then drop the "
            "previous keys",
            rotate_secrets_command, _rotate_secrets_arguments),
    }


def _platform_admin_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--email", required=True)
    parser.add_argument("--display-name", default="Platform Admin")
    parser.add_argument("--password-env", default="CUEPOINT_PLATFORM_ADMIN_PASSWORD",
                        help="environment variable holding the password (default: %(default)s)")


def _rotate_secrets_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--batch-size", type=int, default=500,
                        help="rows re-encrypted per transaction (default: %(default)s)")

"""The demo data `make up` seeds: the seed's demo tenant with an admin, a teacher and a student,
and a platform admin (idempotent)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from .domain.tenants import PLATFORM_TENANT_SLUG

if TYPE_CHECKING:
    from .bootstrap import Identity

DEMO_TENANT = ("demo", "Demo School")
DEMO_PASSWORD = "Demo123!"
DEMO_USERS = (
    ("admin@example.com", "Ada Admin", "ADMIN"),
    ("teacher@example.com", "Tom Teacher", "TEACHER"),
    ("student@example.com", "Sam Student", "STUDENT"),
)


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

"""Tenants (organisations): who may join one, and which may be suspended."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from cuepoint.runtime.errors import Forbidden, NotFound

PLATFORM_TENANT_SLUG = "platform"
ACTIVE = "ACTIVE"
SUSPENDED = "SUSPENDED"


@dataclass(frozen=True)
class Tenant:
    id: UUID
    slug: str
    name: str
    status: str
    is_platform: bool
    created_at: datetime
    updated_at: datetime


def normalize_slug(slug: str) -> str:
    return slug.strip().lower()


def ensure_status_may_change(tenant: Tenant) -> None:
    """Platform admins sign in through the platform tenant: suspending it would lock everyone out."""
    if tenant.is_platform:
        raise Forbidden("the platform tenant cannot be suspended")


def ensure_open_for_registration(tenant: Tenant | None, slug: str) -> Tenant:
    """Nobody registers into the platform tenant (its admins are created by an operations command)."""
    if tenant is None or tenant.is_platform:
        raise NotFound(f"no organisation {slug!r}")
    if tenant.status != ACTIVE:
        raise Forbidden("this organisation is suspended")
    return tenant

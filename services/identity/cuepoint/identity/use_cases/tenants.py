"""Tenants (organisations), managed by platform admins."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from cuepoint.contracts import identity as events
from cuepoint.runtime.auth import CurrentUser, Role
from cuepoint.runtime.errors import Conflict, NotFound
from cuepoint.runtime.unit_of_work import UnitsOfWork

from ..domain import tenants
from ..domain.tenants import SUSPENDED, Tenant
from ..domain.users import normalize_email
from ..mail import Email, OutgoingMail
from ..settings import IdentitySettings
from ..unit_of_work import IdentityUnitOfWork
from .accounts import create_invitation
from .sessions import announce_ended


@dataclass(frozen=True)
class CreateTenant:
    """With ``admin_email``, the tenant's first admin is invited by email. ``actor`` None: seeding."""

    actor: CurrentUser | None
    slug: str
    name: str
    is_platform: bool = False
    admin_email: str | None = None


@dataclass(frozen=True)
class SetTenantStatus:
    actor: CurrentUser
    tenant_id: uuid.UUID
    status: str


@dataclass(frozen=True)
class EnsureTenant:
    slug: str
    name: str
    is_platform: bool = False


async def create_tenant(command: CreateTenant, units: UnitsOfWork[IdentityUnitOfWork], *, mail: OutgoingMail,
                        settings: IdentitySettings) -> Tenant:
    actor = command.actor
    tenant_id = uuid.uuid4()
    invitation: Email | None = None
    async with units(tenant_id) as uow:
        tenant = await uow.tenants.add(tenant_id=tenant_id, slug=command.slug, name=command.name,
                                       is_platform=command.is_platform)
        await uow.emit(events.TenantCreated(tenant_id=tenant_id, slug=command.slug),
                       actor_id=actor.id if actor else None)
        if command.admin_email and actor is not None:
            _, invitation = await create_invitation(uow, tenant, normalize_email(command.admin_email), Role.ADMIN,
                                                    actor.id, settings)
    if invitation:
        await mail.send(invitation)
    return tenant


async def set_tenant_status(command: SetTenantStatus, uow: IdentityUnitOfWork) -> Tenant:
    """Suspending ends every session of the tenant; its users cannot sign in until it is reactivated."""
    actor, tenant_id, status = command.actor, command.tenant_id, command.status
    tenant = await uow.tenants.get(tenant_id, lock=True)
    if tenant is None:
        raise NotFound(f"no tenant {tenant_id}")
    tenants.ensure_status_may_change(tenant)
    if tenant.status != status:
        await uow.tenants.set_status(tenant_id, status)
        event = (events.TenantSuspended if status == SUSPENDED else events.TenantReactivated)(tenant_id=tenant_id)
        await uow.emit(event, actor_id=actor.id)
        if status == SUSPENDED:
            ended = await uow.auth_sessions.revoke_all("tenant suspended")
            for user_id, session_ids in ended.items():
                await announce_ended(uow, tenant_id, user_id, session_ids, "tenant suspended", actor.id)
    tenant = await uow.tenants.get(tenant_id)
    assert tenant is not None
    return tenant


async def ensure_tenant(command: EnsureTenant, units: UnitsOfWork[IdentityUnitOfWork], *, mail: OutgoingMail,
                        settings: IdentitySettings) -> Tenant:
    """The tenant of this slug, created unless it exists (idempotent seeding)."""
    async with units(None) as uow:
        tenant = await uow.tenants.by_slug(tenants.normalize_slug(command.slug))
    if tenant is not None:
        return tenant
    try:
        return await create_tenant(CreateTenant(None, command.slug, command.name, is_platform=command.is_platform),
                                   units, mail=mail, settings=settings)
    except Conflict:
        async with units(None) as uow:
            tenant = await uow.tenants.by_slug(tenants.normalize_slug(command.slug))
        assert tenant is not None
        return tenant

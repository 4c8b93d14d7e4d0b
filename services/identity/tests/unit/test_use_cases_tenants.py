"""Tenants on the fake unit of work: creating one (with its first admin's invitation), suspending
and reactivating, and seeding idempotently."""

from __future__ import annotations

import uuid

import pytest

from cuepoint.contracts import identity as events
from cuepoint.identity.use_cases import tenants
from cuepoint.identity.use_cases.tenants import CreateTenant, EnsureTenant, SetTenantStatus
from cuepoint.runtime.auth import CurrentUser, Role
from cuepoint.runtime.errors import Conflict, Forbidden, NotFound

from .fakes import SETTINGS, TENANT, FakeMail, fake_units, tenant, user

pytestmark = pytest.mark.unit

PLATFORM = tenant(id=uuid.uuid4(), slug="platform", name="Cuepoint platform", is_platform=True)
PLATFORM_ADMIN = CurrentUser(uuid.uuid4(), PLATFORM.id, Role.ADMIN, platform_admin=True)


def events_of(units, kind):
    return [e.event for e in units.emitted if isinstance(e.event, kind)]


async def test_a_new_tenant_is_announced_and_its_first_admin_invited() -> None:
    units, mail = fake_units(PLATFORM), FakeMail()
    created = await tenants.create_tenant(CreateTenant(PLATFORM_ADMIN, "acme", "Acme", admin_email="Boss@Acme.example"),
                                          units, mail=mail, settings=SETTINGS)
    assert created.slug == "acme" and created.status == "ACTIVE" and not created.is_platform
    assert [type(e.event) for e in units.emitted] == [events.TenantCreated, events.InvitationSent]
    assert all(e.actor_id == PLATFORM_ADMIN.id for e in units.emitted)
    assert units.opened[0].tenant_id == created.id  # the new tenant's own transaction
    invitation = next(iter(units.repositories["invitations"].rows.values()))
    assert (invitation.email, invitation.role, invitation.tenant_id) == ("boss@acme.example", "ADMIN", created.id)
    assert [m.to for m in mail.sent] == ["boss@acme.example"] and "an admin" in mail.sent[0].text


async def test_a_slug_is_one_tenants() -> None:
    units, mail = fake_units(PLATFORM, tenant()), FakeMail()
    with pytest.raises(Conflict):
        await tenants.create_tenant(CreateTenant(PLATFORM_ADMIN, "school", "Again", admin_email="x@y.example"),
                                    units, mail=mail, settings=SETTINGS)
    assert units.emitted == [] and mail.all == []


async def status(units, tenant_id, value):
    async with units(tenant_id) as uow:
        return await tenants.set_tenant_status(SetTenantStatus(PLATFORM_ADMIN, tenant_id, value), uow)


async def test_suspending_ends_every_session_of_the_tenant_per_user() -> None:
    first, second = user(), user()
    units = fake_units(tenant(), first, second)
    sessions = units.repositories["auth_sessions"]
    a, b, c = sessions.open(first), sessions.open(first), sessions.open(second)
    assert (await status(units, TENANT, "SUSPENDED")).status == "SUSPENDED"
    assert isinstance(units.emitted[0].event, events.TenantSuspended)
    ended = {r.user_id: (r.session_ids, r.reason) for r in events_of(units, events.SessionsRevoked)}
    assert ended == {first.id: ([a, b], "tenant suspended"), second.id: ([c], "tenant suspended")}
    await status(units, TENANT, "SUSPENDED")  # no change, nothing more announced
    assert (await status(units, TENANT, "ACTIVE")).status == "ACTIVE"
    assert [type(e.event) for e in units.emitted][-1] is events.TenantReactivated
    assert len(units.emitted) == 4


async def test_the_platform_tenant_is_never_suspended_and_an_unknown_one_is_not_found() -> None:
    units = fake_units(PLATFORM)
    with pytest.raises(Forbidden):
        await status(units, PLATFORM.id, "SUSPENDED")
    with pytest.raises(NotFound):
        await status(units, uuid.uuid4(), "SUSPENDED")
    assert units.emitted == []


async def test_seeding_a_tenant_is_idempotent_and_announced_without_an_actor() -> None:
    units, mail = fake_units(PLATFORM), FakeMail()
    first = await tenants.ensure_tenant(EnsureTenant("demo", "Demo School"), units, mail=mail, settings=SETTINGS)
    again = await tenants.ensure_tenant(EnsureTenant("demo", "Demo School"), units, mail=mail, settings=SETTINGS)
    assert first.id == again.id
    assert [(type(e.event), e.actor_id) for e in units.emitted] == [(events.TenantCreated, None)]

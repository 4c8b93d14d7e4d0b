"""What only SQL keeps, in identity's repositories on the real PostgreSQL: one account per address
in a tenant (whatever its case), one tenant per slug, row-level security between tenants, the
throttle's forgetting, and the ending of sessions."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from cuepoint.identity import orm
from cuepoint.identity.domain import throttle
from cuepoint.identity.domain.users import User
from cuepoint.identity.security import Passwords
from cuepoint.identity.unit_of_work import IdentityUnitOfWork
from cuepoint.runtime.errors import Conflict
from cuepoint.runtime.service import ServiceContext
from cuepoint.runtime.unit_of_work import UnitsOfWork

pytestmark = pytest.mark.integration


@pytest.fixture
def units(context: ServiceContext) -> UnitsOfWork[IdentityUnitOfWork]:
    return UnitsOfWork(context.sessions, context.outbox, IdentityUnitOfWork)


@pytest.fixture(scope="module")
async def password_hash() -> str:
    """A real argon2id hash: other tests check every active account's."""
    return await Passwords().hash("correct horse battery")


async def new_tenant(units) -> uuid.UUID:
    tenant_id = uuid.uuid4()
    async with units(tenant_id) as uow:
        await uow.tenants.add(tenant_id=tenant_id, slug=f"repo-{tenant_id.hex[:12]}", name="Repo", is_platform=False)
    return tenant_id


def account(tenant_id: uuid.UUID, email: str, password_hash: str) -> User:
    moment = datetime.now(UTC)
    return User(id=uuid.uuid4(), tenant_id=tenant_id, email=email, display_name="R", password_hash=password_hash,
                role="STUDENT",
                is_platform_admin=False, status="ACTIVE", email_verified=True, email_verified_at=moment,
                last_login_at=None, erased_at=None, created_at=moment, updated_at=moment)


async def test_one_account_per_address_in_a_tenant_and_none_seen_across_tenants(units, password_hash: str) -> None:
    first, second = await new_tenant(units), await new_tenant(units)
    async with units(first) as uow:
        await uow.users.add(account(first, "Same@Repo.example", password_hash))
    with pytest.raises(Conflict):
        async with units(first) as uow:
            await uow.users.add(account(first, "same@repo.example", password_hash))
    async with units(second) as uow:
        assert await uow.users.by_email("same@repo.example") is None  # row-level security
        await uow.users.add(account(second, "same@repo.example", password_hash))  # another tenant's address is free
    async with units(first) as uow:
        found = await uow.users.by_email("same@repo.example")
        assert found is not None and found.email == "Same@Repo.example"


async def test_a_slug_is_one_tenants_and_tenants_are_found_without_a_tenant(units) -> None:
    tenant_id = await new_tenant(units)
    async with units(None) as uow:
        found = await uow.tenants.by_slug(f"repo-{tenant_id.hex[:12]}")
        assert found is not None and found.id == tenant_id and tenant_id in await uow.tenants.active_ids()
    other = uuid.uuid4()
    with pytest.raises(Conflict):
        async with units(other) as uow:
            await uow.tenants.add(tenant_id=other, slug=f"repo-{tenant_id.hex[:12]}", name="Again", is_platform=False)


async def test_an_email_taken_meanwhile_refuses_the_change_and_keeps_the_transaction(units, password_hash: str) -> None:
    tenant_id = await new_tenant(units)
    mine, theirs = (account(tenant_id, f"{name}@repo.example", password_hash) for name in ("mine", "theirs"))
    async with units(tenant_id) as uow:
        await uow.users.add(mine)
        await uow.users.add(theirs)
    async with units(tenant_id) as uow:
        with pytest.raises(Conflict):
            await uow.users.change_email(mine.id, "theirs@repo.example")
        await uow.users.update(mine.id, display_name="Still usable")  # the savepoint kept the transaction
    async with units(tenant_id) as uow:
        stored = await uow.users.get(mine.id)
        assert stored is not None and (stored.email, stored.display_name) == ("mine@repo.example", "Still usable")


async def test_a_failure_counter_starts_again_once_its_failures_are_forgotten(units) -> None:
    subject = f"repo-test:{uuid.uuid4()}"
    rule = throttle.ACCOUNT_FROM_ADDRESS
    for _ in range(3):
        async with units(None) as uow:
            await uow.throttle.record_failure(rule, subject)
    async with units(None) as uow:
        failures, _ = await uow.throttle.failures(rule, subject)
        assert failures == 3
        stale = datetime.now(UTC) - timedelta(seconds=throttle.FAILURE_MEMORY_SECONDS + 1)
        await uow.session.execute(update(orm.auth_throttle).where(orm.auth_throttle.c.subject == subject)
                                  .values(last_failure_at=stale))
    async with units(None) as uow:
        await uow.throttle.record_failure(rule, subject)
        assert (await uow.throttle.failures(rule, subject))[0] == 1
        await uow.throttle.forget([subject])
        assert await uow.throttle.failures(rule, subject) is None


async def test_ending_sessions_ends_only_open_ones_and_reports_them_by_user(units, password_hash: str) -> None:
    tenant_id = await new_tenant(units)
    first, second = (account(tenant_id, f"{name}@repo.example", password_hash) for name in ("a", "b"))
    ids = [uuid.uuid4() for _ in range(3)]
    async with units(tenant_id) as uow:
        await uow.users.add(first)
        await uow.users.add(second)
        for session_id, owner in zip(ids, (first, first, second), strict=True):
            await uow.auth_sessions.add(session_id=session_id, tenant_id=tenant_id, user_id=owner.id, device_id=None,
                                        user_agent=None, ip_address="192.0.2.1",
                                        expires_at=datetime.now(UTC) + timedelta(days=1))
        assert await uow.auth_sessions.revoke(ids[0], "by hand", user_id=first.id)
        assert not await uow.auth_sessions.revoke(ids[2], "not theirs", user_id=first.id)
        assert await uow.auth_sessions.signed_in_from(first.id, "192.0.2.1")
    async with units(tenant_id) as uow:
        ended = await uow.auth_sessions.revoke_all("tenant suspended")
    assert {user_id: sorted(s) for user_id, s in ended.items()} == {first.id: [ids[1]], second.id: [ids[2]]}

"""identity's rules in domain/ that the use cases ask: who may see or manage whom, the last admin,
which tenant may be joined or suspended, why a right password may not sign in, single-use links,
and which config value applies."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cuepoint.contracts.configs import CONFIG_KEYS
from cuepoint.identity.domain import configs, sessions, tenants, throttle, users
from cuepoint.identity.domain.tokens import ensure_usable
from cuepoint.runtime.auth import CurrentUser, Role
from cuepoint.runtime.errors import Conflict, Forbidden, Gone, Invalid, NotFound, Unauthenticated

from .fakes import FakeAuthSessions, now, tenant, user

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("role", list(Role))
def test_a_user_sees_themselves_and_only_admins_see_others(role: Role) -> None:
    me = CurrentUser(uuid.uuid4(), uuid.uuid4(), role)
    users.ensure_self_or_admin(me, me.id)
    if role is Role.ADMIN:
        users.ensure_self_or_admin(me, uuid.uuid4())
    else:
        with pytest.raises(NotFound):  # not 403: the id must not be confirmed as someone's
            users.ensure_self_or_admin(me, uuid.uuid4())


def test_only_an_active_admin_with_no_other_is_the_last() -> None:
    with pytest.raises(Conflict):
        users.ensure_not_last_admin(user("ADMIN"), 0)
    with pytest.raises(Conflict, match="cannot be deactivated"):
        users.ensure_not_last_admin(user("ADMIN"), 0, users.LAST_ADMIN_DEACTIVATED)
    users.ensure_not_last_admin(user("ADMIN"), 1)
    users.ensure_not_last_admin(user("TEACHER"), 0)


def test_an_erased_user_does_not_exist_for_changes() -> None:
    with pytest.raises(NotFound):
        users.ensure_exists(user(status="ERASED"), uuid.uuid4())
    with pytest.raises(NotFound):
        users.ensure_exists(None, uuid.uuid4())
    deactivated = user(status="DEACTIVATED")
    assert users.ensure_exists(deactivated, deactivated.id) is deactivated


def test_invitations_are_refused_with_who_may_not_invite_whom() -> None:
    with pytest.raises(Forbidden, match="a teacher cannot invite a teacher"):
        users.ensure_may_invite(Role.TEACHER, Role.TEACHER)
    users.ensure_may_invite(Role.ADMIN, Role.TEACHER)


def test_registration_is_into_an_active_tenant_that_is_not_the_platform() -> None:
    open_tenant = tenant()
    assert tenants.ensure_open_for_registration(open_tenant, "school") is open_tenant
    for closed, error in ((None, NotFound), (tenant(is_platform=True), NotFound),
                          (tenant(status=tenants.SUSPENDED), Forbidden)):
        with pytest.raises(error):
            tenants.ensure_open_for_registration(closed, "school")


def test_only_the_platform_tenant_may_not_change_status() -> None:
    tenants.ensure_status_may_change(tenant())
    with pytest.raises(Forbidden):
        tenants.ensure_status_may_change(tenant(is_platform=True))
    assert tenants.normalize_slug(" Demo ") == "demo"


@pytest.mark.parametrize(("tenant_status", "user_status", "verified", "required", "reason"), [
    ("ACTIVE", "ACTIVE", True, True, None),
    ("ACTIVE", "ACTIVE", False, False, None),
    ("ACTIVE", "ACTIVE", False, True, "email-not-verified"),
    ("ACTIVE", "DEACTIVATED", False, True, "deactivated"),
    ("SUSPENDED", "DEACTIVATED", False, True, "organisation-suspended"),
])
def test_why_a_right_password_may_still_not_sign_in(tenant_status, user_status, verified, required, reason) -> None:
    refusal = sessions.sign_in_refusal(tenant(status=tenant_status), user(status=user_status, email_verified=verified),
                                       verification_required=required)
    assert (refusal.reason if refusal else None) == reason
    if refusal:
        assert isinstance(refusal.error, Forbidden)


def test_a_session_refreshes_while_open_and_for_an_active_account_of_an_active_tenant() -> None:
    repository = FakeAuthSessions()
    me = user()
    session = repository.rows[repository.open(me)]
    sessions.ensure_open(session, now())
    with pytest.raises(Unauthenticated):
        sessions.ensure_open(session, now() + timedelta(days=2))
    sessions.ensure_may_refresh(me, tenant())
    for who, where in ((user(status="DEACTIVATED"), tenant()), (me, tenant(status="SUSPENDED"))):
        with pytest.raises(Unauthenticated):
            sessions.ensure_may_refresh(who, where)


def test_a_link_works_once_and_until_it_expires() -> None:
    moment = now()
    ensure_usable(None, moment + timedelta(seconds=1), moment, what="reset link")
    with pytest.raises(Gone, match="this reset link was already used"):
        ensure_usable(moment, moment + timedelta(hours=1), moment, what="reset link")
    with pytest.raises(Gone, match="this invitation has expired"):
        ensure_usable(None, moment - timedelta(seconds=1), moment, what="invitation")


@given(st.integers(min_value=0, max_value=100), st.integers(min_value=0, max_value=2 * 15 * 60))
def test_the_wait_shrinks_with_time_and_failures_are_forgotten(failures: int, seconds_ago: int) -> None:
    moment = now()
    rule = throttle.ACCOUNT_FROM_ADDRESS
    wait = throttle.remaining_wait(rule, failures, moment - timedelta(seconds=seconds_ago), moment)
    if seconds_ago > throttle.FAILURE_MEMORY_SECONDS:
        assert wait == 0
    else:
        assert wait == throttle.required_delay(rule, failures) - seconds_ago


def test_the_tenants_value_wins_over_the_platforms_over_the_default() -> None:
    key = "identity.requireEmailVerification"
    by_key = {entry["key"]: entry for entry in configs.effective({key: False}, {key: True})}
    assert (by_key[key]["value"], by_key[key]["source"]) == (False, "tenant")
    by_key = {entry["key"]: entry for entry in configs.effective({}, {key: False})}
    assert (by_key[key]["value"], by_key[key]["source"]) == (False, "platform")
    everything = configs.effective({}, {})
    assert [e["key"] for e in everything] == list(CONFIG_KEYS) and {e["source"] for e in everything} == {"default"}


def test_a_config_change_knows_its_keys_and_values() -> None:
    assert configs.stored_value("identity.requireEmailVerification", None) is None
    assert configs.stored_value("identity.requireEmailVerification", True) is True
    with pytest.raises(NotFound):
        configs.stored_value("nope", None)
    with pytest.raises(Invalid):
        configs.validated("identity.requireEmailVerification", {"a": 1})

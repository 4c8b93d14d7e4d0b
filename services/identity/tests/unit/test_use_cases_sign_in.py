"""Signing in, refreshing and ending sessions on the fake unit of work: the throttle, the audited
refusals, the rotation of refresh tokens, and what each ending announces."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import jwt
import pytest

from cuepoint.contracts import identity as events
from cuepoint.identity.domain import throttle
from cuepoint.identity.use_cases import sessions, sign_in
from cuepoint.identity.use_cases.sessions import ClientInfo, Logout, Refresh, RevokeSession
from cuepoint.identity.use_cases.sign_in import SignIn
from cuepoint.runtime.errors import Forbidden, NotFound, TooManyRequests, Unauthenticated

from .fakes import PASSWORD, SETTINGS, FakeKeys, FakePasswords, actor, fake_units, now, tenant, user

pytestmark = pytest.mark.unit

CLIENT = ClientInfo(ip_address="192.0.2.7", user_agent="test", device_id="laptop")


def events_of(units, kind):
    return [e.event for e in units.emitted if isinstance(e.event, kind)]


async def signed_in(units, email: str, password: str = PASSWORD, slug: str = "school", client=CLIENT):
    return await sign_in.sign_in(SignIn(slug, email, password, client), units, passwords=FakePasswords(),
                                 keys=FakeKeys(), settings=SETTINGS)


async def test_the_right_password_opens_a_session_with_tokens_for_the_role() -> None:
    teacher = user("TEACHER", email="t@school.example")
    units = fake_units(teacher)
    pair = await signed_in(units, " T@School.example ")
    claims = jwt.decode(pair.access_token, options={"verify_signature": False})
    assert claims["sub"] == str(teacher.id) and claims["role"] == "teacher" and claims["sid"] == str(pair.session_id)
    assert events_of(units, events.UserSignedIn)[0].session_id == pair.session_id
    stored = units.repositories["auth_sessions"].rows[pair.session_id]
    assert stored.ip_address == "192.0.2.7" and stored.device_id == "laptop"
    assert units.repositories["users"].rows[teacher.id].last_login_at is not None


async def test_a_wrong_password_is_counted_and_audited_without_an_actor() -> None:
    student = user(email="s@school.example")
    units = fake_units(student)
    with pytest.raises(Unauthenticated, match="email or password"):
        await signed_in(units, "s@school.example", "wrong password!")
    failed = [e for e in units.emitted if isinstance(e.event, events.UserSignInFailed)]
    assert [(e.event.reason, e.actor_id) for e in failed] == [("wrong-password", None)]
    scopes = {scope for scope, _ in units.repositories["throttle"].rows}
    assert scopes == {throttle.ACCOUNT_FROM_ADDRESS.scope, throttle.ADDRESS.scope,
                      throttle.ACCOUNT_FROM_NEW_ADDRESS.scope}
    assert not events_of(units, events.UserSignedIn)


async def test_an_unknown_address_answers_as_a_wrong_password_and_audits_nothing() -> None:
    units = fake_units()
    with pytest.raises(Unauthenticated, match="email or password"):
        await signed_in(units, "nobody@school.example")
    with pytest.raises(Unauthenticated, match="email or password"):
        await signed_in(units, "nobody@school.example", slug="nowhere")
    assert units.emitted == []


async def test_failures_past_the_free_ones_make_the_client_wait() -> None:
    student = user(email="s@school.example")
    units = fake_units(student)
    for _ in range(throttle.ACCOUNT_FROM_ADDRESS.free_failures + 1):
        with pytest.raises(Unauthenticated):
            await signed_in(units, "s@school.example", "wrong password!")
    with pytest.raises(TooManyRequests) as waiting:
        await signed_in(units, "s@school.example")  # even with the right password
    assert waiting.value.retry_after >= 1


async def test_a_success_forgets_the_accounts_failures() -> None:
    student = user(email="s@school.example")
    units = fake_units(student)
    with pytest.raises(Unauthenticated):
        await signed_in(units, "s@school.example", "wrong password!")
    await signed_in(units, "s@school.example")
    assert {scope for scope, _ in units.repositories["throttle"].rows} == {throttle.ADDRESS.scope}


@pytest.mark.parametrize(("rows", "reason"), [
    ((tenant(status="SUSPENDED"), user(email="x@school.example")), "organisation-suspended"),
    ((tenant(), user(email="x@school.example", status="DEACTIVATED")), "deactivated"),
])
async def test_a_right_password_is_told_why_the_account_cannot_sign_in(rows, reason) -> None:
    units = fake_units(*rows)
    with pytest.raises(Forbidden):
        await signed_in(units, "x@school.example")
    assert [e.reason for e in events_of(units, events.UserSignInFailed)] == [reason]
    assert not events_of(units, events.UserSignedIn)


async def test_an_unverified_address_signs_in_only_where_verification_is_not_required() -> None:
    pending = user(email="p@school.example", email_verified=False, email_verified_at=None)
    units = fake_units(pending)
    with pytest.raises(Forbidden) as refused:  # required by default
        await signed_in(units, "p@school.example")
    assert refused.value.extensions["reason"] == "email-not-verified"
    assert [e.reason for e in events_of(units, events.UserSignInFailed)] == ["email-not-verified"]
    units.repositories["configs"].platform["identity.requireEmailVerification"] = False
    await signed_in(units, "p@school.example")
    units.repositories["configs"].tenant["identity.requireEmailVerification"] = True  # the tenant's value wins
    with pytest.raises(Forbidden):
        await signed_in(units, "p@school.example")


async def test_an_erased_account_never_signs_in() -> None:
    gone = user(email="erased@school.example", status="ERASED")
    units = fake_units(gone)
    with pytest.raises(Unauthenticated):
        await signed_in(units, "erased@school.example")
    assert [e.reason for e in events_of(units, events.UserSignInFailed)] == ["erased"]


async def test_an_old_hash_is_replaced_at_sign_in() -> None:
    student = user(email="s@school.example", password_hash="$legacy$")
    units = fake_units(student)
    passwords = FakePasswords()
    passwords.verify = lambda stored, password: _true()  # the legacy hash verifies
    await sign_in.sign_in(SignIn("school", "s@school.example", PASSWORD, CLIENT), units, passwords=passwords,
                          keys=FakeKeys(), settings=SETTINGS)
    assert units.repositories["users"].rows[student.id].password_hash == FakePasswords.hashed(PASSWORD)


async def _true() -> bool:
    return True


async def refreshed(units, token: str):
    return await sessions.refresh(Refresh(token), units, keys=FakeKeys(), settings=SETTINGS)


async def test_a_refresh_token_rotates_and_a_reused_one_ends_the_session() -> None:
    student = user(email="s@school.example")
    units = fake_units(student)
    first = await signed_in(units, "s@school.example")
    second = await refreshed(units, first.refresh_token)
    assert second.session_id == first.session_id and second.refresh_token != first.refresh_token
    with pytest.raises(Unauthenticated, match="already used"):
        await refreshed(units, first.refresh_token)
    revoked = events_of(units, events.SessionsRevoked)
    assert [(r.session_ids, r.reason) for r in revoked] == [([first.session_id], "refresh token reused")]
    with pytest.raises(Unauthenticated, match="ended"):
        await refreshed(units, second.refresh_token)
    with pytest.raises(Unauthenticated, match="already used"):  # a second reuse announces nothing more
        await refreshed(units, first.refresh_token)
    assert len(events_of(units, events.SessionsRevoked)) == 1


async def test_no_refresh_for_an_expired_session_a_deactivated_account_or_a_bad_token() -> None:
    student = user(email="s@school.example")
    units = fake_units(student)
    pair = await signed_in(units, "s@school.example")
    stored = units.repositories["auth_sessions"].rows
    stored[pair.session_id] = replace(stored[pair.session_id], expires_at=now() - timedelta(seconds=1))
    with pytest.raises(Unauthenticated, match="ended"):
        await refreshed(units, pair.refresh_token)
    other = await signed_in(units, "s@school.example")
    await units.repositories["users"].update(student.id, status="DEACTIVATED")
    with pytest.raises(Unauthenticated, match="no longer"):
        await refreshed(units, other.refresh_token)
    for bad in ("garbage", f"{student.tenant_id}." + "x" * 40):
        with pytest.raises(Unauthenticated):
            await refreshed(units, bad)


async def test_a_user_ends_only_their_own_sessions_and_logging_out_twice_is_fine() -> None:
    mine, theirs = user(), user()
    units = fake_units(mine, theirs)
    repository = units.repositories["auth_sessions"]
    session, other = repository.open(mine), repository.open(theirs)
    with pytest.raises(NotFound):
        async with units(mine.tenant_id) as uow:
            await sessions.revoke_session(RevokeSession(actor(mine), other), uow)
    async with units(mine.tenant_id) as uow:
        await sessions.revoke_session(RevokeSession(actor(mine), session), uow)
    assert [(r.session_ids, r.reason) for r in events_of(units, events.SessionsRevoked)] == [
        ([session], "revoked by user")]
    current = repository.open(mine)
    await sessions.logout(Logout(actor(mine, current)), units)
    await sessions.logout(Logout(actor(mine, current)), units)
    assert [r.reason for r in events_of(units, events.SessionsRevoked)] == ["revoked by user", "logout"]
    assert repository.rows[other].revoked_at is None

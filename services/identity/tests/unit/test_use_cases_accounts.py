"""Registering, inviting and verifying on the fake unit of work: what is refused, what is emitted,
and that the answer never tells whether an address has an account."""

from __future__ import annotations

from datetime import timedelta

import pytest

from cuepoint.contracts import identity as events
from cuepoint.identity.use_cases import accounts
from cuepoint.identity.use_cases.accounts import EnsureUser, Invite, Register, ResendVerification, VerifyEmail
from cuepoint.runtime.errors import Conflict, Forbidden, Gone, Invalid, NotFound, TooManyRequests

from .fakes import PASSWORD, SETTINGS, TENANT, FakeMail, FakePasswords, actor, fake_units, tenant, user

pytestmark = pytest.mark.unit


def register(units, mail, command):
    return accounts.register(command, units, passwords=FakePasswords(), mail=mail, settings=SETTINGS)


def events_of(units, kind):
    return [e.event for e in units.emitted if isinstance(e.event, kind)]


async def test_a_self_registered_student_is_announced_and_gets_a_verification_link() -> None:
    units, mail = fake_units(), FakeMail()
    created = await register(units, mail, Register("school", " New@School.example ", PASSWORD, " Nora "))
    assert created is not None and created.email == "new@school.example" and created.display_name == "Nora"
    assert created.role == "STUDENT" and not created.email_verified
    assert [type(e.event) for e in units.emitted] == [events.UserRegistered, events.UserProfile]
    assert created.id in units.repositories["preferences"].rows
    assert [m.to for m in mail.later] == ["new@school.example"] and "verify-email?token=" in mail.later[0].text
    assert len(units.repositories["verifications"].rows) == 1


async def test_an_address_that_has_an_account_is_told_by_email_and_nothing_is_created() -> None:
    known = user(email="known@school.example")
    units, mail = fake_units(known), FakeMail()
    assert await register(units, mail, Register("school", "KNOWN@school.example", PASSWORD, "Again")) is None
    assert units.emitted == [] and len(units.repositories["users"].rows) == 1
    assert [m.subject for m in mail.later] == ["Someone tried to create a Cuepoint account with your address"]


@pytest.mark.parametrize(("rows", "slug", "error"), [
    ((), "nowhere", NotFound), ((tenant(status="SUSPENDED"),), "school", Forbidden),
    ((tenant(slug="platform", is_platform=True),), "platform", NotFound),
])
async def test_registration_needs_an_active_organisation_that_is_not_the_platform(rows, slug, error) -> None:
    units, mail = fake_units(*rows), FakeMail()
    with pytest.raises(error):
        await register(units, mail, Register(slug, "new@school.example", PASSWORD, "Nora"))
    assert units.emitted == [] and mail.all == []


async def test_a_weak_password_is_refused_before_anything_is_looked_up() -> None:
    units = fake_units()
    with pytest.raises(Invalid) as refused:
        await register(units, FakeMail(), Register("school", "nora@school.example", "nora@school.example", "Nora"))
    assert refused.value.extensions["errors"][0]["location"] == "body.password"
    assert units.opened == []


async def test_an_invitation_gives_its_role_and_a_verified_address_once() -> None:
    admin = user("ADMIN")
    units, mail = fake_units(admin), FakeMail()
    token = units.repositories["invitations"].invite(admin, "teach@school.example", "TEACHER")
    created = await register(units, mail, Register("school", "teach@school.example", PASSWORD, "Teach", token))
    assert created is not None and created.role == "TEACHER" and created.email_verified
    registered = events_of(units, events.UserRegistered)[0]
    assert registered.invited_by_id == admin.id
    assert events_of(units, events.UserVerified) and mail.all == []
    with pytest.raises(Gone):
        await register(units, mail, Register("school", "teach@school.example", PASSWORD, "Teach", token))


async def test_an_invitation_is_for_its_address_only_and_expires() -> None:
    admin = user("ADMIN")
    units = fake_units(admin)
    invitations = units.repositories["invitations"]
    with pytest.raises(Invalid):
        await register(units, FakeMail(), Register("school", "other@school.example", PASSWORD, "X",
                                                   invitations.invite(admin, "teach@school.example")))
    with pytest.raises(Gone):
        await register(units, FakeMail(), Register("school", "late@school.example", PASSWORD, "X",
                                                   invitations.invite(admin, "late@school.example",
                                                                      expires_in=timedelta(seconds=-1))))
    with pytest.raises(Invalid):
        await register(units, FakeMail(), Register("school", "x@school.example", PASSWORD, "X", "not-a-token"))
    assert units.emitted == []


@pytest.mark.parametrize(("inviter", "role", "allowed"), [
    ("ADMIN", "TEACHER", True), ("ADMIN", "STUDENT", True), ("ADMIN", "ADMIN", False),
    ("TEACHER", "STUDENT", True), ("TEACHER", "TEACHER", False), ("STUDENT", "STUDENT", False),
])
async def test_who_may_invite_whom(inviter: str, role: str, allowed: bool) -> None:
    sender = user(inviter)
    units, mail = fake_units(sender), FakeMail()
    command = Invite(actor(sender), "Invitee@school.example", role)
    if not allowed:
        with pytest.raises(Forbidden):
            await accounts.invite(command, units, mail=mail, settings=SETTINGS)
        assert units.opened == [] and mail.all == []
        return
    invitation = await accounts.invite(command, units, mail=mail, settings=SETTINGS)
    assert invitation.email == "invitee@school.example" and invitation.role == role
    assert events_of(units, events.InvitationSent)[0].invitation_id == invitation.id
    assert [m.to for m in mail.sent] == ["invitee@school.example"]


async def test_nobody_is_invited_who_has_an_account() -> None:
    admin, known = user("ADMIN"), user(email="known@school.example")
    units, mail = fake_units(admin, known), FakeMail()
    with pytest.raises(Conflict):
        await accounts.invite(Invite(actor(admin), "known@school.example", "TEACHER"), units, mail=mail,
                              settings=SETTINGS)
    assert units.emitted == [] and mail.all == []


async def test_a_verification_link_verifies_once() -> None:
    pending = user(email_verified=False, email_verified_at=None)
    units = fake_units(pending)
    token = units.repositories["verifications"].issue(pending)
    verified = await accounts.verify_email(VerifyEmail(token), units)
    assert verified.email_verified and events_of(units, events.UserVerified)[0].user_id == pending.id
    with pytest.raises(Gone):
        await accounts.verify_email(VerifyEmail(token), units)
    expired = units.repositories["verifications"].issue(pending, expires_in=timedelta(seconds=-1))
    with pytest.raises(Gone):
        await accounts.verify_email(VerifyEmail(expired), units)
    with pytest.raises(Invalid):
        await accounts.verify_email(VerifyEmail("garbage"), units)
    assert len(units.emitted) == 1


async def test_a_verified_address_verified_again_is_not_announced_again() -> None:
    done = user()
    units = fake_units(done)
    await accounts.verify_email(VerifyEmail(units.repositories["verifications"].issue(done)), units)
    assert units.emitted == []


async def test_resending_verification_says_nothing_and_is_limited() -> None:
    pending = user(email="pending@school.example", email_verified=False, email_verified_at=None)
    units, mail = fake_units(pending), FakeMail()
    for address in ("nobody@school.example", "pending@school.example"):
        await accounts.resend_verification(ResendVerification("school", address), units, mail=mail,
                                           settings=SETTINGS)
    await accounts.resend_verification(ResendVerification("nowhere", "pending@school.example"), units, mail=mail,
                                       settings=SETTINGS)
    assert [m.to for m in mail.sent] == ["pending@school.example"]
    for _ in range(SETTINGS.verification_resend_per_hour - 1):
        await accounts.resend_verification(ResendVerification("school", "pending@school.example"), units,
                                           mail=mail, settings=SETTINGS)
    with pytest.raises(TooManyRequests):
        await accounts.resend_verification(ResendVerification("school", "pending@school.example"), units,
                                           mail=mail, settings=SETTINGS)


async def test_seeding_a_user_is_idempotent() -> None:
    units = fake_units()
    command = EnsureUser(TENANT, "Seed@school.example", PASSWORD, "Seed", "TEACHER")
    created, was_new = await accounts.ensure_user(command, units, passwords=FakePasswords())
    again, new_again = await accounts.ensure_user(command, units, passwords=FakePasswords())
    assert was_new and not new_again and again.id == created.id and created.email_verified
    assert [type(e.event) for e in units.emitted] == [events.UserRegistered, events.UserVerified, events.UserProfile]

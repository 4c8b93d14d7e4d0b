"""Changing and resetting a password, changing the address, on the fake unit of work: what must be
proven first, which sessions end, and what each announces or mails."""

from __future__ import annotations

from datetime import timedelta

import pytest

from cuepoint.contracts import identity as events
from cuepoint.identity.use_cases import passwords
from cuepoint.identity.use_cases.passwords import (ChangePassword, ConfirmEmailChange, RequestEmailChange,
                                                   RequestPasswordReset, ResetPassword)
from cuepoint.runtime.errors import Conflict, Forbidden, Gone, Invalid

from .fakes import PASSWORD, SETTINGS, FakeMail, FakePasswords, actor, fake_units, tenant, user

pytestmark = pytest.mark.unit
NEW = "a brand new passphrase"


def events_of(units, kind):
    return [e.event for e in units.emitted if isinstance(e.event, kind)]


async def test_changing_the_password_ends_the_other_sessions_only() -> None:
    me = user()
    units = fake_units(me)
    sessions = units.repositories["auth_sessions"]
    current, other = sessions.open(me), sessions.open(me)
    await passwords.change_password(ChangePassword(actor(me, current), PASSWORD, NEW), units,
                                    passwords=FakePasswords())
    assert units.repositories["users"].rows[me.id].password_hash == FakePasswords.hashed(NEW)
    assert [(r.session_ids, r.reason) for r in events_of(units, events.SessionsRevoked)] == [
        ([other], "password changed")]
    assert events_of(units, events.UserPasswordChanged)[0].method == "changed"


@pytest.mark.parametrize(("current", "new", "error"), [("wrong one!", NEW, Forbidden), (PASSWORD, "short", Invalid)])
async def test_a_password_change_needs_the_current_password_and_a_good_new_one(current, new, error) -> None:
    me = user()
    units = fake_units(me)
    with pytest.raises(error):
        await passwords.change_password(ChangePassword(actor(me), current, new), units, passwords=FakePasswords())
    assert units.emitted == [] and units.repositories["users"].rows[me.id].password_hash == me.password_hash


async def request_reset(units, mail, email, slug="school"):
    await passwords.request_password_reset(RequestPasswordReset(slug, email), units, mail=mail, settings=SETTINGS)


async def test_a_reset_link_goes_only_to_an_active_account_and_only_so_often() -> None:
    me, off = user(email="me@school.example"), user(email="off@school.example", status="DEACTIVATED")
    units, mail = fake_units(me, off), FakeMail()
    for address in ("nobody@school.example", "off@school.example", "ME@school.example"):
        await request_reset(units, mail, address)
    await request_reset(units, mail, "me@school.example", slug="nowhere")
    assert [m.to for m in mail.later] == ["me@school.example"] and "reset-password?token=" in mail.later[0].text
    for _ in range(SETTINGS.password_reset_per_hour + 2):
        await request_reset(units, mail, "me@school.example")
    assert len(mail.later) == SETTINGS.password_reset_per_hour  # past the limit, silently no more
    assert units.emitted == []


async def test_no_reset_link_in_a_suspended_organisation() -> None:
    units, mail = fake_units(tenant(status="SUSPENDED"), user(email="me@school.example")), FakeMail()
    await request_reset(units, mail, "me@school.example")
    assert mail.all == []


async def test_a_reset_sets_the_password_proves_the_address_and_ends_every_session() -> None:
    me = user(email_verified=False, email_verified_at=None)
    units, mail = fake_units(me), FakeMail()
    resets = units.repositories["password_resets"]
    token, other_link = resets.issue(me), resets.issue(me)
    session = units.repositories["auth_sessions"].open(me)
    await passwords.reset_password(ResetPassword(token, NEW), units, passwords=FakePasswords(), mail=mail)
    stored = units.repositories["users"].rows[me.id]
    assert stored.password_hash == FakePasswords.hashed(NEW) and stored.email_verified
    assert [type(e.event) for e in units.emitted] == [events.UserVerified, events.UserPasswordChanged,
                                                      events.SessionsRevoked]
    assert events_of(units, events.SessionsRevoked)[0].session_ids == [session]
    assert [m.subject for m in mail.sent] == ["Your Cuepoint password was changed"]
    for used in (token, other_link):  # every open link of the account is used up
        with pytest.raises(Gone):
            await passwords.reset_password(ResetPassword(used, NEW), units, passwords=FakePasswords(), mail=mail)


async def test_a_reset_is_refused_for_an_expired_link_a_weak_password_or_a_deactivated_account() -> None:
    me, off = user(), user(status="DEACTIVATED")
    units, mail = fake_units(me, off), FakeMail()
    resets = units.repositories["password_resets"]
    with pytest.raises(Gone):
        await passwords.reset_password(ResetPassword(resets.issue(me, expires_in=timedelta(seconds=-1)), NEW),
                                       units, passwords=FakePasswords(), mail=mail)
    with pytest.raises(Invalid) as weak:
        await passwords.reset_password(ResetPassword(resets.issue(me), "password123"), units,
                                       passwords=FakePasswords(), mail=mail)
    assert weak.value.extensions["errors"][0]["location"] == "body.new_password"
    with pytest.raises(Gone, match="no longer"):
        await passwords.reset_password(ResetPassword(resets.issue(off), NEW), units, passwords=FakePasswords(),
                                       mail=mail)
    assert units.emitted == [] and mail.all == []


async def request_change(units, mail, who, new_email, password=PASSWORD):
    await passwords.request_email_change(RequestEmailChange(actor(who), new_email, password), units,
                                         passwords=FakePasswords(), mail=mail, settings=SETTINGS)


async def test_an_email_change_is_confirmed_from_the_new_mailbox_and_the_old_one_is_told() -> None:
    me = user(email="old@school.example")
    units, mail = fake_units(me), FakeMail()
    await request_change(units, mail, me, "New@School.example")
    assert [m.to for m in mail.later] == ["new@school.example", "old@school.example"]
    assert units.emitted == []
    token = mail.later[0].text.split("Confirmation token: ")[1].split("\n")[0]
    changed = await passwords.confirm_email_change(ConfirmEmailChange(token), units)
    assert changed.email == "new@school.example" and changed.email_verified
    assert [type(e.event) for e in units.emitted] == [events.UserEmailChanged, events.UserProfile]
    with pytest.raises(Gone):
        await passwords.confirm_email_change(ConfirmEmailChange(token), units)


async def test_an_address_another_account_has_gets_a_note_not_a_link() -> None:
    me, other = user(email="me@school.example"), user(email="taken@school.example")
    units, mail = fake_units(me, other), FakeMail()
    await request_change(units, mail, me, "taken@school.example")
    assert [(m.to, m.subject) for m in mail.later] == [
        ("taken@school.example", "Someone tried to use your address on Cuepoint")]
    assert units.repositories["email_changes"].rows == {}


@pytest.mark.parametrize(("new_email", "password", "error"), [
    ("new@school.example", "wrong one!", Forbidden), ("ME@school.example", PASSWORD, Invalid)])
async def test_an_email_change_needs_the_password_and_a_new_address(new_email, password, error) -> None:
    me = user(email="me@school.example")
    units, mail = fake_units(me), FakeMail()
    with pytest.raises(error):
        await request_change(units, mail, me, new_email, password)
    assert mail.all == []


async def test_a_confirmation_loses_to_an_account_that_took_the_address_meanwhile() -> None:
    me = user(email="me@school.example")
    units = fake_units(me)
    token = units.repositories["email_changes"].issue(me, new_email="new@school.example")
    await units.repositories["users"].add(user(email="new@school.example"))
    with pytest.raises(Conflict):
        await passwords.confirm_email_change(ConfirmEmailChange(token), units)
    assert units.emitted == []

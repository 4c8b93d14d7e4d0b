"""A forgotten password is reset by an emailed link (single-use, short-lived, every session ended);
an email address is changed only once the new address is confirmed."""

from __future__ import annotations

import psycopg
import pytest

from tests.support.mail import Mailbox, body
from tests.support.platform import Infra, eventually

from .conftest import PASSWORD, bearer, email_index, login

pytestmark = pytest.mark.integration


async def _new_user(api, infra: Infra, email: str, password: str = "a long enough phrase") -> dict:
    created = await api.post("/v1/auth/register", json={"tenant": "demo", "email": email, "password": password,
                                                        "display_name": "Forgetful Person"})
    assert created.status_code == 202, created.text
    with psycopg.connect(infra.admin_database_url(), autocommit=True) as admin:
        admin.execute("UPDATE identity.users SET email_verified = true WHERE email_index = %s", (email_index(email),))
    return created.json()


def _emails_to(mailbox: Mailbox, address: str) -> list[str]:
    return [body(m) for m in mailbox.messages if m["To"] == address]


async def _token(mailbox: Mailbox, address: str, subject: str) -> str:
    """The token of the newest email to ``address`` whose subject has ``subject`` (it is sent in the background)."""
    import asyncio
    import re

    for _ in range(200):
        for message in reversed(mailbox.messages):
            if message["To"] == address and subject in message["Subject"]:
                return re.search(r"token: (\S+)", body(message)).group(1)
        await asyncio.sleep(0.05)
    raise AssertionError(f"no email about {subject!r} to {address}")


async def test_a_forgotten_password_is_reset_once_by_an_emailed_link(api, mailbox: Mailbox, infra: Infra) -> None:
    email = "forgetful@example.com"
    await _new_user(api, infra, email)
    laptop = await login(api, email, "a long enough phrase", device_id="laptop")
    phone = await login(api, email, "a long enough phrase", device_id="phone")

    known = await api.post("/v1/auth/password-reset", json={"tenant": "demo", "email": email.upper()})
    unknown = await api.post("/v1/auth/password-reset", json={"tenant": "demo", "email": "nobody@example.com"})
    no_tenant = await api.post("/v1/auth/password-reset", json={"tenant": "nowhere", "email": email})
    assert known.status_code == unknown.status_code == no_tenant.status_code == 202
    assert known.json() == unknown.json() == no_tenant.json(), "the answer never tells whether the account exists"
    token = await _token(mailbox, email, "Reset")
    assert f"http://cuepoint.test/reset-password?token={token}" in _emails_to(mailbox, email)[-1]
    assert "30 minutes" in _emails_to(mailbox, email)[-1], "short-lived"
    assert not _emails_to(mailbox, "nobody@example.com")

    weak = await api.post("/v1/auth/password-reset/confirm", json={"token": token, "new_password": "password123"})
    assert weak.status_code == 422 and weak.json()["errors"][0]["location"] == "body.new_password"
    reset = await api.post("/v1/auth/password-reset/confirm", json={"token": token, "new_password": "a brand new phrase"})
    assert reset.status_code == 204, reset.text
    again = await api.post("/v1/auth/password-reset/confirm", json={"token": token, "new_password": "another new one"})
    assert again.status_code == 410, "a reset link is single-use"

    # Every session ended: refresh tokens are dead and the ended sessions are announced to every service.
    for tokens in (laptop, phone):
        assert (await api.post("/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})).status_code == 401
    with psycopg.connect(infra.admin_database_url(), autocommit=True) as admin:
        announced = admin.execute(
            "SELECT value::jsonb->'data' FROM identity.outbox WHERE event_type = 'identity.sessions.revoked.v1' "
            "AND value::jsonb->'data'->>'reason' = 'password reset' AND key = %s", (laptop_user := _sub(laptop),)).fetchall()
        changed = admin.execute("SELECT value::jsonb->'data'->>'method' FROM identity.outbox WHERE key = %s AND event_type = "
                                "'identity.user.password_changed.v1'", (laptop_user,)).fetchall()
    assert announced and set(announced[0][0]["session_ids"]) == {laptop["session_id"], phone["session_id"]}
    assert changed == [("reset",)]
    refused = await api.post("/v1/auth/login", json={"tenant": "demo", "email": email, "password": "a long enough phrase"})
    assert refused.status_code == 401
    await login(api, email, "a brand new phrase")
    assert "password was changed" in _emails_to(mailbox, email)[-1], "the owner is told"


def _sub(tokens: dict) -> str:
    import jwt

    return jwt.decode(tokens["access_token"], options={"verify_signature": False})["sub"]


async def test_reset_links_expire(api, mailbox: Mailbox, infra: Infra) -> None:
    email = "slow.reader@example.com"
    await _new_user(api, infra, email)
    assert (await api.post("/v1/auth/password-reset", json={"tenant": "demo", "email": email})).status_code == 202
    token = await _token(mailbox, email, "Reset")
    with psycopg.connect(infra.admin_database_url(), autocommit=True) as admin:
        admin.execute("UPDATE identity.password_reset_tokens SET expires_at = now() - interval '1 second' "
                      "WHERE user_id = (SELECT id FROM identity.users WHERE email_index = %s)", (email_index(email),))
    expired = await api.post("/v1/auth/password-reset/confirm", json={"token": token, "new_password": "too late now"})
    assert expired.status_code == 410 and "expired" in expired.json()["detail"]
    assert (await api.post("/v1/auth/password-reset/confirm", json={"token": "x", "new_password": "whatever it is"})
            ).status_code == 422
    await login(api, email, "a long enough phrase")


async def test_an_email_change_waits_for_the_new_address_to_be_confirmed(api, mailbox: Mailbox, infra: Infra) -> None:
    old, new = "mover@example.com", "moved@example.com"
    await _new_user(api, infra, old)
    tokens = await login(api, old, "a long enough phrase")
    wrong = await api.post("/v1/users/me/email", json={"new_email": new, "current_password": "not my password"},
                           headers=bearer(tokens))
    assert wrong.status_code == 403
    asked = await api.post("/v1/users/me/email", json={"new_email": new, "current_password": "a long enough phrase"},
                           headers=bearer(tokens))
    assert asked.status_code == 202, asked.text
    assert (await api.get("/v1/users/me", headers=bearer(tokens))).json()["email"] == old, "nothing changes yet"
    token = await _token(mailbox, new, "Confirm your new email")
    assert f"http://cuepoint.test/confirm-email-change?token={token}" in _emails_to(mailbox, new)[-1]
    # Both emails are sent in the background, each on its own: the second may land after the first.
    async def old_address_told() -> bool:
        return any(new in text for text in _emails_to(mailbox, old))

    await eventually(old_address_told, timeout=10, message="the old address is told of the change")

    confirmed = await api.post("/v1/auth/email-change/confirm", json={"token": token})
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["email"] == new and confirmed.json()["email_verified"] is True
    assert (await api.post("/v1/auth/email-change/confirm", json={"token": token})).status_code == 410
    await login(api, new, "a long enough phrase")
    refused = await api.post("/v1/auth/login", json={"tenant": "demo", "email": old, "password": "a long enough phrase"})
    assert refused.status_code == 401

    # Someone else's address: the same answer, no link; the address's owner is told instead.
    taken = await api.post("/v1/users/me/email", json={"new_email": "teacher@example.com",
                                                       "current_password": "a long enough phrase"},
                           headers=bearer(await login(api, new, "a long enough phrase")))
    assert taken.status_code == 202 and taken.json() == asked.json()
    admin = await login(api, "admin@example.com", PASSWORD)
    me = (await api.get("/v1/users/me", headers=bearer(admin))).json()
    assert me["email"] == "admin@example.com"

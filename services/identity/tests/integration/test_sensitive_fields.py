"""Sensitive fields at rest (issue 16): what PostgreSQL holds of an account and its sessions says neither
the address, nor where or with what the person signed in; features still find accounts by email (in any
case), and survive a rotation of CUEPOINT_SECRET_KEY."""

from __future__ import annotations

from collections.abc import AsyncIterator

import psycopg
import pytest
from pydantic import SecretStr

from cuepoint.identity.bootstrap import build_identity, spec
from cuepoint.identity.settings import IdentitySettings
from cuepoint.identity.use_cases.secrets import RotateSecrets, rotate_secrets
from cuepoint.runtime.secrets import Keyring
from cuepoint.runtime.service import ServiceContext, build_app
from tests.support.platform import Infra

from .conftest import PASSWORD, bearer, client_for, login

USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) SensitiveFieldsProbe/1.0"


def identity_rows(infra: Infra) -> list[tuple]:
    """Every row of the tables that hold addresses and session clients, read past row-level security."""
    with psycopg.connect(infra.admin_database_url(), autocommit=True) as admin:
        return [row for table in ("users", "invitations", "email_change_tokens", "auth_sessions", "auth_throttle")
                for row in admin.execute(f"SELECT * FROM identity.{table}").fetchall()]


def holds(rows: list[tuple], needle: str) -> bool:
    needle = needle.lower()
    return any(needle in str(value).lower() for row in rows for value in row if value is not None)


async def test_rows_hold_no_plaintext_email_address_or_user_agent(app, api, infra: Infra) -> None:
    address = "10.77.88.99"
    async with client_for(app, address) as client:
        await client.post("/v1/auth/register", json={"tenant": "demo", "email": "Private.Person@Example.com",
                                                     "password": "a long enough phrase", "display_name": "Pat"})
        tokens = await login(client, "teacher@example.com")
        await client.post("/v1/users/me/email", headers={**bearer(tokens), "User-Agent": USER_AGENT},
                          json={"new_email": "moving.teacher@example.org", "current_password": PASSWORD})
        refused = await client.post("/v1/auth/login", json={"tenant": "demo", "email": "admin@example.com",
                                                            "password": "not the password"})
        assert refused.status_code == 401  # counted in auth_throttle, under keyed hashes
        signed_in = await client.post("/v1/auth/login", headers={"User-Agent": USER_AGENT},
                                      json={"tenant": "demo", "email": "admin@example.com", "password": PASSWORD,
                                            "device_id": "device-probe-1234"})
        assert signed_in.status_code == 200
        invited = await client.post("/v1/invitations", headers=bearer(signed_in.json()),
                                    json={"email": "invited.person@example.net", "role": "STUDENT"})
        assert invited.status_code == 201, invited.text
        # What the person sees is the plaintext, decrypted on the way out.
        sessions = (await client.get("/v1/auth/sessions", headers=bearer(signed_in.json()))).json()
        assert any(s["user_agent"] == USER_AGENT and s["ip_address"] == address and s["device_id"] == "device-probe-1234"
                   for s in sessions)
        me = (await client.get("/v1/users/me", headers=bearer(signed_in.json()))).json()
        assert me["email"] == "admin@example.com"
    rows = identity_rows(infra)
    for plaintext in ("private.person@example.com", "teacher@example.com", "admin@example.com",
                      "moving.teacher@example.org", "invited.person@example.net", address, USER_AGENT,
                      "SensitiveFieldsProbe", "device-probe-1234"):
        assert not holds(rows, plaintext), f"{plaintext!r} is stored in plaintext"
    assert holds(rows, "v2."), "the encrypted values are there"


async def test_an_account_is_found_by_its_address_in_any_case(app, api, infra: Infra) -> None:
    async with client_for(app) as client:
        tokens = await login(client, "TEACHER@Example.COM")
        assert (await client.get("/v1/users/me", headers=bearer(tokens))).json()["email"] == "teacher@example.com"
        # Someone whose name is much like the address: the name search finds them too, after the account
        # whose address it is (in CI other tests' "Teacher …" accounts share the organisation).
        await client.post("/v1/auth/register", json={"tenant": "demo", "email": "lookalike@example.org",
                                                     "password": "a long enough phrase",
                                                     "display_name": "Teacher Example"})
        admin = await login(client, "admin@example.com")
        found = (await client.get("/v1/users", params={"q": "Teacher@EXAMPLE.com"}, headers=bearer(admin))).json()
        emails = [u["email"] for u in found["items"]]
        assert emails[0] == "teacher@example.com", f"the exact address, through its index, comes first: {emails}"
        assert "lookalike@example.org" in emails, "and names like it after it"
        by_name = (await client.get("/v1/users", params={"q": "techer"}, headers=bearer(admin))).json()
        assert "teacher@example.com" in [u["email"] for u in by_name["items"]], "names stay typo-tolerant"
        taken = await client.post("/v1/invitations", headers=bearer(admin),
                                  json={"email": "Student@EXAMPLE.com", "role": "STUDENT"})
        assert taken.status_code == 409, "an invitation to an address that has an account, whatever its case"


@pytest.fixture
async def rotated(identity_settings: IdentitySettings, identity) -> AsyncIterator[tuple[IdentitySettings, str]]:
    """Settings with a new current key and the tests' key moved to the previous ones; afterwards everything
    is rotated back under the tests' key (the other tests of the run read the same database)."""
    old = identity_settings.secret_key.get_secret_value()
    new = Keyring.generate_key()
    settings = identity_settings.model_copy(update={"secret_key": SecretStr(new),
                                                    "previous_secret_keys": SecretStr(old)})
    yield settings, old
    back = identity_settings.model_copy(update={"previous_secret_keys": SecretStr(new)})
    context = ServiceContext("identity", back)
    try:
        service = build_identity(context)
        await rotate_secrets(RotateSecrets(), service.units, keyring=service.keyring)
    finally:
        await context.close()


async def test_sign_in_by_email_works_after_rotate_secrets_with_the_old_key_moved_to_previous(
        rotated: tuple[IdentitySettings, str], infra: Infra) -> None:
    settings, old = rotated
    context = ServiceContext("identity", settings)
    try:
        service = build_identity(context)
        async with client_for(build_app(spec(), context)) as client:
            await login(client, "student@example.com")  # before rotating: found by the old key's index
            changed = await rotate_secrets(RotateSecrets(batch_size=7), service.units, keyring=service.keyring)
            assert changed["users"] >= 4 and changed["auth_sessions"] >= 1 and changed["signing_keys"] >= 1
            assert sum((await rotate_secrets(RotateSecrets(), service.units, keyring=service.keyring)).values()) == 0
            with psycopg.connect(infra.admin_database_url(), autocommit=True) as admin:
                prefixes = {row[0] for row in admin.execute("SELECT left(email, 12) FROM identity.users")}
            assert prefixes == {service.keyring.current_prefix}
    finally:
        await context.close()
    # The old key can go: everything opens, and is found, under the new one alone.
    alone = ServiceContext("identity", settings.model_copy(update={"previous_secret_keys": SecretStr("")}))
    try:
        build_identity(alone)
        async with client_for(build_app(spec(), alone)) as client:
            tokens = await login(client, "Student@Example.com")
            assert (await client.get("/v1/users/me", headers=bearer(tokens))).json()["email"] == "student@example.com"
            assert (await client.get("/v1/auth/sessions", headers=bearer(tokens))).status_code == 200
    finally:
        await alone.close()
    assert old != settings.secret_key.get_secret_value()

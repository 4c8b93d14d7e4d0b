"""Access tokens, refresh rotation, password storage, throttling, sessions."""

from __future__ import annotations

import base64
import json
import time
import uuid

import jwt
import psycopg
import pytest
from argon2 import PasswordHasher, Type
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.support.platform import Infra

from .conftest import PASSWORD, bearer, client_for, email_index, login

pytestmark = pytest.mark.integration


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _claims(tokens: dict) -> dict:
    return jwt.decode(tokens["access_token"], options={"verify_signature": False})


async def test_forged_and_stale_tokens_are_rejected(api, identity) -> None:
    tokens = await login(api, "student@example.com")
    claims = _claims(tokens)
    header = jwt.get_unverified_header(tokens["access_token"])
    jwks = (await api.get("/.well-known/jwks.json")).json()
    public_key = jwks["keys"][0]["x"]
    stranger = Ed25519PrivateKey.generate()
    now = int(time.time())
    forged = {
        "alg=none": f"{_b64({'alg': 'none', 'typ': 'JWT', 'kid': header['kid']})}.{_b64(claims)}.",
        "HS256 with the public key": jwt.encode(claims, public_key, algorithm="HS256", headers={"kid": header["kid"]}),
        "another key, same kid": jwt.encode(claims, stranger, algorithm="EdDSA", headers={"kid": header["kid"]}),
        "unknown kid": jwt.encode(claims, stranger, algorithm="EdDSA", headers={"kid": "not-a-published-key"}),
        "wrong audience": jwt.encode({**claims, "aud": "someone-else"}, stranger, algorithm="EdDSA",
                                     headers={"kid": header["kid"]}),
    }
    for label, token in forged.items():
        response = await api.get("/v1/users/me", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, label
        assert response.headers["WWW-Authenticate"].startswith("Bearer"), label
        assert response.headers["content-type"] == "application/problem+json", label
    # Properly signed by identity's own key (the same table the app reads), but stale or off.
    key = await identity.keys.current()
    for label, changes in {"wrong aud": {"aud": "other"}, "expired": {"exp": now - 60, "iat": now - 1000},
                           "no jti": {"jti": None}}.items():
        token_claims = {k: v for k, v in {**claims, **changes}.items() if v is not None}
        token = jwt.encode(token_claims, key.private_key, algorithm="EdDSA", headers={"kid": key.kid})
        response = await api.get("/v1/users/me", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, label
    assert (await api.get("/v1/users/me")).status_code == 401
    assert (await api.get("/v1/users/me", headers=bearer(tokens))).status_code == 200


async def test_access_token_claims(api) -> None:
    tokens = await login(api, "teacher@example.com")
    claims = _claims(tokens)
    assert {"sub", "tid", "role", "aud", "exp", "iat", "jti", "sid"} <= set(claims)
    assert claims["role"] == "teacher" and claims["aud"] == "cuepoint"
    assert 0 < claims["exp"] - claims["iat"] <= 15 * 60
    assert jwt.get_unverified_header(tokens["access_token"])["alg"] == "EdDSA"


def test_passwords_are_stored_as_argon2id_with_the_required_parameters(infra: Infra, identity) -> None:
    with psycopg.connect(infra.admin_database_url(), autocommit=True) as admin:
        hashes = [row[0] for row in admin.execute("SELECT password_hash FROM identity.users WHERE status = 'ACTIVE'")]
    assert hashes
    for stored in hashes:
        assert stored.startswith("$argon2id$v=19$"), stored[:20]
        params = dict(part.split("=") for part in stored.split("$")[3].split(","))
        assert int(params["m"]) >= 19 * 1024 and int(params["t"]) >= 2


async def test_login_rehashes_a_password_stored_with_weaker_parameters(api, infra: Infra) -> None:
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1, type=Type.ID).hash(PASSWORD)
    with psycopg.connect(infra.admin_database_url(), autocommit=True) as admin:
        admin.execute("UPDATE identity.users SET password_hash = %s WHERE email_index = %s",
                      (weak, email_index("teacher@example.com")))
        await login(api, "teacher@example.com")
        stored = admin.execute("SELECT password_hash FROM identity.users WHERE email_index = %s",
                               (email_index("teacher@example.com"),)).fetchone()[0]
    assert stored != weak and "m=19456,t=2" in stored


async def test_refresh_rotates_and_reuse_revokes_the_whole_family(api) -> None:
    first = await login(api, "student@example.com")
    second = (await api.post("/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})).json()
    assert second["refresh_token"] != first["refresh_token"]
    assert second["session_id"] == first["session_id"]
    third = (await api.post("/v1/auth/refresh", json={"refresh_token": second["refresh_token"]})).json()

    replay = await api.post("/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert replay.status_code == 401
    assert "already used" in replay.json()["detail"]
    # The legitimate newest token is dead too: the family is revoked.
    after = await api.post("/v1/auth/refresh", json={"refresh_token": third["refresh_token"]})
    assert after.status_code == 401
    sessions = (await api.get("/v1/auth/sessions", headers=bearer(await login(api, "student@example.com")))).json()
    assert first["session_id"] not in {s["id"] for s in sessions}
    assert (await api.post("/v1/auth/refresh", json={"refresh_token": "garbage"})).status_code == 401


async def test_unknown_email_and_wrong_password_look_the_same(api) -> None:
    unknown = await api.post("/v1/auth/login", json={"tenant": "demo", "email": "nobody@example.com",
                                                     "password": "whatever-it-is"})
    wrong = await api.post("/v1/auth/login", json={"tenant": "demo", "email": "student@example.com",
                                                   "password": "whatever-it-is"})
    other_tenant = await api.post("/v1/auth/login", json={"tenant": "no-such-school", "email": "student@example.com",
                                                          "password": "whatever-it-is"})
    bodies = [{k: v for k, v in r.json().items() if k != "request_id"} for r in (unknown, wrong, other_tenant)]
    assert [r.status_code for r in (unknown, wrong, other_tenant)] == [401, 401, 401]
    assert bodies[0] == {**bodies[1], "instance": bodies[0]["instance"]} == {**bodies[2], "instance": bodies[0]["instance"]}


async def test_failed_logins_are_delayed_not_locked_out(app) -> None:
    attacker = client_for(app, "203.0.113.7")
    victim = client_for(app, "198.51.100.9")
    async with attacker, victim:
        await login(victim, "admin@example.com", device_id="victim-laptop")
        statuses = []
        for _ in range(8):
            response = await attacker.post("/v1/auth/login", json={"tenant": "demo", "email": "admin@example.com",
                                                                    "password": "not-the-password"})
            statuses.append(response.status_code)
        assert 429 in statuses, statuses
        throttled = next(r for r in [await attacker.post("/v1/auth/login", json={
            "tenant": "demo", "email": "admin@example.com", "password": PASSWORD})] if r.status_code == 429)
        assert int(throttled.headers["Retry-After"]) >= 1
        # Even the right password waits: the attacker learns nothing by guessing faster.
        # The victim, from a device the account knows, is not locked out.
        assert (await victim.post("/v1/auth/login", json={"tenant": "demo", "email": "admin@example.com",
                                                          "password": PASSWORD, "device_id": "victim-laptop"})
                ).status_code == 200


async def test_password_change_ends_the_other_sessions_only(api) -> None:
    phone = await login(api, "student@example.com", device_id="phone")
    laptop = await login(api, "student@example.com", device_id="laptop")
    changed = await api.post("/v1/auth/password", json={"current_password": PASSWORD,
                                                        "new_password": "a much better passphrase"},
                             headers=bearer(laptop))
    assert changed.status_code == 204, changed.text
    assert (await api.post("/v1/auth/refresh", json={"refresh_token": phone["refresh_token"]})).status_code == 401
    assert (await api.post("/v1/auth/refresh", json={"refresh_token": laptop["refresh_token"]})).status_code == 200
    await login(api, "student@example.com", "a much better passphrase")
    restored = await api.post("/v1/auth/password", json={"current_password": "a much better passphrase",
                                                         "new_password": PASSWORD}, headers=bearer(laptop))
    assert restored.status_code == 204
    weak = await api.post("/v1/auth/password", json={"current_password": PASSWORD, "new_password": "password123"},
                          headers=bearer(laptop))
    assert weak.status_code == 422 and "common" in weak.json()["detail"]


async def test_sessions_can_be_listed_revoked_and_logged_out(api) -> None:
    phone = await login(api, "teacher@example.com", device_id="phone")
    laptop = await login(api, "teacher@example.com", device_id="laptop")
    listed = (await api.get("/v1/auth/sessions", headers=bearer(laptop))).json()
    mine = {s["id"]: s for s in listed}
    assert phone["session_id"] in mine and mine[laptop["session_id"]]["current"] is True
    assert mine[phone["session_id"]]["device_id"] == "phone"
    assert all(s["created_at"].endswith("Z") and s["last_used_at"].endswith("Z") for s in listed)
    assert (await api.delete(f"/v1/auth/sessions/{phone['session_id']}", headers=bearer(laptop))).status_code == 204
    assert (await api.post("/v1/auth/refresh", json={"refresh_token": phone["refresh_token"]})).status_code == 401
    assert (await api.delete(f"/v1/auth/sessions/{uuid.uuid4()}", headers=bearer(laptop))).status_code == 404
    assert (await api.post("/v1/auth/logout", headers=bearer(laptop))).status_code == 204
    assert (await api.post("/v1/auth/refresh", json={"refresh_token": laptop["refresh_token"]})).status_code == 401


async def test_key_rotation_keeps_old_tokens_valid_and_publishes_both_keys(api, identity) -> None:
    before = await login(api, "student@example.com")
    old_kid = jwt.get_unverified_header(before["access_token"])["kid"]
    new_kid = await identity.keys.rotate()
    assert new_kid != old_kid
    jwks = (await identity.keys.jwks())["keys"]
    assert {old_kid, new_kid} <= {key["kid"] for key in jwks}
    assert all(set(key) >= {"kty", "crv", "x", "kid", "alg"} and "d" not in key for key in jwks), "private part leaked"
    assert (await api.get("/v1/users/me", headers=bearer(before))).status_code == 200
    # A token signed with the new key verifies too (the app loads an unknown kid on demand).
    after = await login(api, "student@example.com")
    assert (await api.get("/v1/users/me", headers=bearer(after))).status_code == 200
    fresh = await identity.keys.current()
    assert fresh.kid == new_kid


async def test_an_ended_sessions_access_token_is_refused_within_seconds(api, identity_settings, infra: Infra) -> None:
    """The access token of a logged-out session is refused, not honoured until it expires: identity
    announces the ended session and every verifier (identity's own here) refuses its `sid`."""
    import asyncio

    from cuepoint.runtime import db
    from cuepoint.runtime.outbox import OutboxRelay
    from tests.support.platform import eventually

    stop = asyncio.Event()
    relay = OutboxRelay(dsn=db.libpq_dsn(identity_settings.runtime_database_url), schema="identity",
                        bootstrap_servers=infra.bootstrap_servers, poll_interval=0.3)
    relay_task = asyncio.create_task(relay.run(stop))
    try:
        kept = await login(api, "teacher@example.com", device_id="kept")
        ended = await login(api, "teacher@example.com", device_id="ended")
        assert _claims(ended)["sid"] == ended["session_id"]
        assert (await api.get("/v1/users/me", headers=bearer(ended))).status_code == 200
        assert (await api.post("/v1/auth/logout", headers=bearer(ended))).status_code == 204

        async def refused() -> bool:
            return (await api.get("/v1/users/me", headers=bearer(ended))).status_code == 401

        await eventually(refused, timeout=5, message="the logged-out token was still accepted")
        answer = await api.get("/v1/users/me", headers=bearer(ended))
        assert answer.headers["content-type"] == "application/problem+json" and "ended" in answer.json()["detail"]
        assert (await api.get("/v1/users/me", headers=bearer(kept))).status_code == 200, "other sessions go on"
    finally:
        stop.set()
        await relay_task


async def test_a_device_id_the_account_used_does_not_lift_the_account_wide_limit(app) -> None:
    """Issue 16, finding 6: guesses from ever new addresses naming the victim's device id (a string the
    client chooses) were all heard. The account-wide counter now spares only an address the account
    signed in from."""
    victim = client_for(app, "198.51.100.10")
    async with victim:
        await login(victim, "teacher@example.com", device_id="victim-tablet")
    statuses = []
    for attempt in range(16):
        async with client_for(app, f"203.0.113.{attempt + 1}") as attacker:
            statuses.append((await attacker.post("/v1/auth/login", json={
                "tenant": "demo", "email": "teacher@example.com", "password": f"guess-{attempt}",
                "device_id": "victim-tablet"})).status_code)
    assert 429 in statuses, statuses
    async with client_for(app, "198.51.100.10") as victim:  # the victim, where they signed in before
        assert (await victim.post("/v1/auth/login", json={"tenant": "demo", "email": "teacher@example.com",
                                                          "password": PASSWORD})).status_code == 200

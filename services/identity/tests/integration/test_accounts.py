"""Registration, verification, invitations, user management, preferences, GDPR."""

from __future__ import annotations

import psycopg
import pytest

from tests.support.platform import Infra

from tests.support.mail import Mailbox, body

from .conftest import PASSWORD, bearer, email_index, login, new_tenant, sensitive

pytestmark = pytest.mark.integration


async def _register(api, email: str, password: str = "a long enough phrase", tenant: str = "demo", **extra):
    return await api.post("/v1/auth/register", json={"tenant": tenant, "email": email, "password": password,
                                                     "display_name": extra.pop("display_name", "New Person"), **extra})


async def test_registration_needs_a_verified_email_before_login(api, mailbox: Mailbox) -> None:
    created = await _register(api, "Newcomer@Example.com")
    assert created.status_code == 202, created.text

    refused = await api.post("/v1/auth/login", json={"tenant": "demo", "email": "newcomer@example.com",
                                                     "password": "a long enough phrase"})
    assert refused.status_code == 403 and refused.json()["reason"] == "email-not-verified"

    token = await mailbox.token_for("newcomer@example.com")
    message = next(m for m in mailbox.messages if m["To"] == "newcomer@example.com")
    assert f"http://cuepoint.test/verify-email?token={token}" in body(message)
    verified = await api.post("/v1/auth/verify-email", json={"token": token})
    assert verified.status_code == 200 and verified.json()["email_verified"] is True
    assert verified.json()["email"] == "newcomer@example.com" and verified.json()["role"] == "STUDENT"
    again = await api.post("/v1/auth/verify-email", json={"token": token})
    assert again.status_code == 410, "a verification token is single-use"
    await login(api, "newcomer@example.com", "a long enough phrase")


async def test_verification_tokens_expire_and_resends_are_limited(api, mailbox: Mailbox, infra: Infra) -> None:
    assert (await _register(api, "late@example.com")).status_code == 202
    token = await mailbox.token_for("late@example.com")
    with psycopg.connect(infra.admin_database_url(), autocommit=True) as admin:
        admin.execute("UPDATE identity.email_verification_tokens SET expires_at = now() - interval '1 minute' "
                      "WHERE user_id = (SELECT id FROM identity.users WHERE email_index = %s)",
                      (email_index("late@example.com"),))
    expired = await api.post("/v1/auth/verify-email", json={"token": token})
    assert expired.status_code == 410 and "expired" in expired.json()["detail"]
    statuses = [(await api.post("/v1/auth/resend-verification", json={"tenant": "demo", "email": "late@example.com"}
                                )).status_code for _ in range(3)]
    assert statuses == [202, 202, 429], "one on registration plus two resends, then limited"
    fresh = await mailbox.token_for("late@example.com")
    assert fresh != token
    assert (await api.post("/v1/auth/verify-email", json={"token": fresh})).status_code == 200
    # Unknown addresses get the same answer: no account enumeration.
    assert (await api.post("/v1/auth/resend-verification", json={"tenant": "demo", "email": "ghost@example.com"})
            ).status_code == 202
    assert (await api.post("/v1/auth/verify-email", json={"token": "not-a-token"})).status_code == 422


async def test_registration_answers_alike_for_a_known_and_a_new_email(api, mailbox: Mailbox) -> None:
    """Issue 16, finding 7: a 409 for a known email told anyone which addresses have accounts. Both now
    answer 202 with the same body; the known address's owner is told by email, and nothing changes."""
    known = await _register(api, "STUDENT@example.com", display_name="Someone Else")
    new = await _register(api, "brand.new@example.com")
    assert (known.status_code, new.status_code) == (202, 202), (known.text, new.text)
    assert ({k: v for k, v in known.json().items() if k != "request_id"}
            == {k: v for k, v in new.json().items() if k != "request_id"})
    note = await _email_to(mailbox, "student@example.com", "already")
    assert "Nothing changed" in body(note) and "forgot-password" in body(note)
    assert "token:" not in body(note)
    await login(api, "student@example.com")  # the account is as it was
    assert (await _email_to(mailbox, "brand.new@example.com", "Confirm"))["Subject"].startswith("Confirm")


async def _email_to(mailbox: Mailbox, address: str, subject_has: str, timeout: float = 10):
    """The newest email to ``address`` whose subject or body mentions ``subject_has``."""
    import asyncio

    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        for message in reversed(mailbox.messages):
            if message["To"] == address and (subject_has in message["Subject"] or subject_has in body(message)):
                return message
        await asyncio.sleep(0.05)
    raise AssertionError(f"no email to {address} about {subject_has!r}")


async def test_bad_registrations_get_clear_errors(api) -> None:
    common = await _register(api, "c@example.com", password="password123")
    assert common.status_code == 422 and common.json()["errors"][0]["location"] == "body.password"
    short = await _register(api, "s@example.com", password="short")
    assert short.status_code == 422 and "at least 8" in short.json()["detail"]
    invalid = await _register(api, "not-an-email")
    assert invalid.status_code == 422 and invalid.json()["errors"][0]["location"] == "body.email"
    unknown_tenant = await _register(api, "x@example.com", tenant="nowhere")
    assert unknown_tenant.status_code == 404
    extra = await api.post("/v1/auth/register", json={"tenant": "demo", "email": "e@example.com",
                                                      "password": "long enough phrase", "display_name": "E",
                                                      "role": "ADMIN"})
    assert extra.status_code == 422, "a client cannot choose its own role"
    long_ok = await _register(api, "long@example.com", password="x" * 40 + " spaces and ünïcode " + "y" * 60)
    assert long_ok.status_code == 202, "long passphrases with any characters are allowed"


async def test_invitations_follow_the_role_rules(api, mailbox: Mailbox) -> None:
    admin, teacher, student = [await login(api, f"{r}@example.com") for r in ("admin", "teacher", "student")]
    assert (await api.post("/v1/invitations", json={"email": "t2@example.com", "role": "TEACHER"},
                           headers=bearer(admin))).status_code == 201
    assert (await api.post("/v1/invitations", json={"email": "t3@example.com", "role": "TEACHER"},
                           headers=bearer(teacher))).status_code == 403
    assert (await api.post("/v1/invitations", json={"email": "s2@example.com", "role": "STUDENT"},
                           headers=bearer(student))).status_code == 403
    assert (await api.post("/v1/invitations", json={"email": "s2@example.com", "role": "STUDENT"},
                           headers=bearer(teacher))).status_code == 201
    assert (await api.post("/v1/invitations", json={"email": "student@example.com", "role": "STUDENT"},
                           headers=bearer(teacher))).status_code == 409

    token = await mailbox.token_for("t2@example.com")
    wrong_email = await _register(api, "someone-else@example.com", invitation_token=token)
    assert wrong_email.status_code == 422
    joined = await _register(api, "t2@example.com", invitation_token=token)
    assert joined.status_code == 201 and joined.json()["role"] == "TEACHER" and joined.json()["email_verified"]
    assert (await _register(api, "t2b@example.com", invitation_token=token)).status_code in (410, 422)
    await login(api, "t2@example.com", "a long enough phrase")


async def test_admins_manage_users_and_changes_take_effect_at_once(api) -> None:
    admin = await login(api, "admin@example.com")
    assert (await _register(api, "managed@example.com", display_name="Managed Person")).status_code == 202
    found = (await api.get("/v1/users", params={"q": "managd persn"}, headers=bearer(admin))).json()
    assert [u["email"] for u in found["items"]] == ["managed@example.com"], "search tolerates typos"
    user_id = found["items"][0]["id"]
    page = (await api.get("/v1/users", params={"limit": 2, "offset": 0}, headers=bearer(admin))).json()
    assert len(page["items"]) == 2 and page["total"] >= 4

    promoted = await api.put(f"/v1/users/{user_id}/role", json={"role": "TEACHER"}, headers=bearer(admin))
    assert promoted.status_code == 200 and promoted.json()["role"] == "TEACHER"
    assert (await api.put(f"/v1/users/{user_id}/role", json={"role": "OWNER"}, headers=bearer(admin))).status_code == 422

    teacher = await login(api, "teacher@example.com")
    assert (await api.get("/v1/users", headers=bearer(teacher))).status_code == 403

    other = await login(api, "student@example.com", device_id="tablet")
    student_id = (await api.get("/v1/users/me", headers=bearer(other))).json()["id"]
    deactivated = await api.post(f"/v1/users/{student_id}/deactivate", headers=bearer(admin))
    assert deactivated.json()["status"] == "DEACTIVATED"
    assert (await api.post("/v1/auth/refresh", json={"refresh_token": other["refresh_token"]})).status_code == 401
    refused = await api.post("/v1/auth/login", json={"tenant": "demo", "email": "student@example.com",
                                                     "password": PASSWORD})
    assert refused.status_code == 403 and "deactivated" in refused.json()["detail"]
    assert (await api.post(f"/v1/users/{student_id}/reactivate", headers=bearer(admin))).json()["status"] == "ACTIVE"
    await login(api, "student@example.com")

    me = (await api.get("/v1/users/me", headers=bearer(admin))).json()
    last_admin = await api.put(f"/v1/users/{me['id']}/role", json={"role": "STUDENT"}, headers=bearer(admin))
    assert last_admin.status_code == 409


async def test_preferences_are_typed_and_validated(api) -> None:
    tokens = await login(api, "student@example.com")
    defaults = (await api.get("/v1/users/me/preferences", headers=bearer(tokens))).json()
    assert defaults["playback_speed"] == 1.0 and defaults["theme"] == "system"
    patched = await api.patch("/v1/users/me/preferences", headers=bearer(tokens), json={
        "playback_speed": 1.5, "captions_enabled": True, "captions_language": "pt-BR",
        "notifications": {"email_weekly_summary": True}})
    assert patched.status_code == 200, patched.text
    saved = patched.json()
    assert saved["playback_speed"] == 1.5 and saved["captions_language"] == "pt-BR"
    assert saved["notifications"]["email_weekly_summary"] is True and saved["notifications"]["in_app"] is True
    for bad in ({"playback_speed": 7}, {"theme": "neon"}, {"captions_language": "english!"}, {"unknown": 1},
                {"learning": {"daily_goal_minutes": -5}}):
        response = await api.patch("/v1/users/me/preferences", headers=bearer(tokens), json=bad)
        assert response.status_code == 422, bad
        assert response.json()["errors"][0]["location"].startswith("body."), response.json()
    assert (await api.get("/v1/users/me/preferences", headers=bearer(tokens))).json() == saved


async def test_system_configs_are_typed_per_tenant_with_platform_defaults(api, mailbox: Mailbox) -> None:
    # A tenant of its own: the demo tenant's configs are the demo's (make seed sets them).
    _, admin = await new_tenant(api, mailbox, "configs")
    listed = {c["key"]: c for c in (await api.get("/v1/system-configs", headers=bearer(admin))).json()}
    assert {"video.maxFileSize", "ai.defaultProvider", "grading.passingThreshold",
            "grading.defaultMaxAttempts"} <= set(listed)
    assert listed["grading.defaultMaxAttempts"] == {**listed["grading.defaultMaxAttempts"], "value": 3,
                                                    "source": "default"}
    updated = await api.put("/v1/system-configs/grading.defaultMaxAttempts", json={"value": 5}, headers=bearer(admin))
    assert {c["key"]: c for c in updated.json()}["grading.defaultMaxAttempts"]["value"] == 5
    for key, bad in (("grading.defaultMaxAttempts", 0), ("ai.defaultProvider", "SKYNET"),
                     ("grading.passingThreshold", 101)):
        response = await api.put(f"/v1/system-configs/{key}", json={"value": bad}, headers=bearer(admin))
        assert response.status_code == 422 and key in response.json()["detail"]
    assert (await api.put("/v1/system-configs/no.such.key", json={"value": 1}, headers=bearer(admin))).status_code == 404
    teacher = await login(api, "teacher@example.com")  # a teacher of (their own) demo tenant
    assert (await api.put("/v1/system-configs/grading.defaultMaxAttempts", json={"value": 4},
                          headers=bearer(teacher))).status_code == 403
    reset = await api.delete("/v1/system-configs/grading.defaultMaxAttempts", headers=bearer(admin))
    assert {c["key"]: c for c in reset.json()}["grading.defaultMaxAttempts"]["source"] == "default"

    platform = await login(api, "platform-admin@example.com", tenant="platform")
    assert (await api.put("/v1/platform/system-configs/grading.passingThreshold", json={"value": 65},
                          headers=bearer(platform))).status_code == 204
    assert (await api.put("/v1/platform/system-configs/grading.passingThreshold", json={"value": 65},
                          headers=bearer(admin))).status_code == 403
    listed = {c["key"]: c for c in (await api.get("/v1/system-configs", headers=bearer(admin))).json()}
    assert listed["grading.passingThreshold"]["value"] == 65 and listed["grading.passingThreshold"]["source"] == "platform"
    # Put back: the platform value reaches every organisation of the run, assessment's tests' too.
    assert (await api.put("/v1/platform/system-configs/grading.passingThreshold", json={"value": None},
                          headers=bearer(platform))).status_code == 204
    listed = {c["key"]: c for c in (await api.get("/v1/system-configs", headers=bearer(admin))).json()}
    assert listed["grading.passingThreshold"]["source"] == "default"


async def test_suspended_tenants_cannot_log_in(api, mailbox: Mailbox) -> None:
    tenant, admin = await new_tenant(api, mailbox, "suspend-me")
    platform = await login(api, "platform-admin@example.com", tenant="platform")
    suspended = await api.post(f"/v1/tenants/{tenant['id']}/suspend", headers=bearer(platform))
    assert suspended.json()["status"] == "SUSPENDED"
    refused = await api.post("/v1/auth/login", json={"tenant": "suspend-me", "email": "admin@suspend-me.example",
                                                     "password": "correct horse battery"})
    assert refused.status_code == 403 and "suspended" in refused.json()["detail"]
    assert (await api.post("/v1/auth/refresh", json={"refresh_token": admin["refresh_token"]})).status_code == 401
    assert (await api.post(f"/v1/tenants/{tenant['id']}/reactivate", headers=bearer(platform))).json()["status"] == "ACTIVE"
    await login(api, "admin@suspend-me.example", "correct horse battery", tenant="suspend-me")
    tenants = (await api.get("/v1/tenants", headers=bearer(platform))).json()
    assert "suspend-me" in {t["slug"] for t in tenants["items"]}
    assert (await api.get("/v1/tenants", headers=bearer(admin))).status_code == 403
    duplicate = await api.post("/v1/tenants", json={"slug": "suspend-me", "name": "Again"}, headers=bearer(platform))
    assert duplicate.status_code == 409


async def test_export_and_erasure(api, infra: Infra) -> None:
    assert (await _register(api, "leaving@example.com", display_name="Leaving Person")).status_code == 202
    admin = await login(api, "admin@example.com")
    user_id = (await api.get("/v1/users", params={"q": "leaving"}, headers=bearer(admin))).json()["items"][0]["id"]
    exported = (await api.get(f"/v1/users/{user_id}/export", headers=bearer(admin))).json()
    assert exported["user"]["email"] == "leaving@example.com" and "password_hash" not in exported["user"]
    assert exported["preferences"]["theme"] == "system"
    # Typed: every timestamp in UTC with Z, and nothing beyond what the schema names (no token hashes).
    assert exported["exported_at"].endswith("Z") and exported["user"]["created_at"].endswith("Z")
    assert all(s["created_at"].endswith("Z") and s["expires_at"].endswith("Z") for s in exported["sessions"])
    assert set(exported) == {"exported_at", "user", "preferences", "sessions", "invitations_sent"}

    assert (await api.post(f"/v1/users/{user_id}/erase", headers=bearer(admin))).status_code == 204
    with psycopg.connect(infra.admin_database_url(), autocommit=True) as db:
        row = db.execute("SELECT email, display_name, status, password_hash, email_index FROM identity.users "
                         "WHERE id = %s", (user_id,)).fetchone()
        assert (sensitive().open("users", {"email": row[0]})["email"], *row[1:4]) == (
            f"erased-{user_id}@erased.invalid", "Erased user", "ERASED", "!")
        assert bytes(row[4]) == email_index(f"erased-{user_id}@erased.invalid")
        assert db.execute("SELECT count(*) FROM identity.user_preferences WHERE user_id = %s", (user_id,)).fetchone()[0] == 0
    assert (await api.post(f"/v1/users/{user_id}/erase", headers=bearer(admin))).status_code == 404
    assert (await api.post("/v1/auth/register", json={"tenant": "demo", "email": "leaving@example.com",
                                                      "password": "a long enough phrase", "display_name": "Back"})
            ).status_code == 202, "an erased address is free again"

    me = await login(api, "teacher@example.com")
    own = (await api.get("/v1/users/me/export", headers=bearer(me))).json()
    assert own["user"]["email"] == "teacher@example.com" and own["sessions"]


async def test_typo_tolerant_search_finds_a_new_tenants_invited_teacher(api, mailbox: Mailbox) -> None:
    """In a new tenant the emails are long (`new.teacher@<slug>.example`): the whole-string similarity of
    "techer" to "new teacher new.teacher@…" fell under the threshold, so nothing was found; a typo in
    one word must match that word."""
    _, admin = await new_tenant(api, mailbox, "typo-school")
    message = next(m for m in mailbox.messages if m["To"] == "admin@typo-school.example")
    assert "as an admin" in body(message), "the invitation's grammar: an admin"
    invited = await api.post("/v1/invitations", json={"email": "new.teacher@typo-school.example", "role": "TEACHER"},
                             headers=bearer(admin))
    assert invited.status_code == 201
    token = await mailbox.token_for("new.teacher@typo-school.example")
    message = next(m for m in mailbox.messages if m["To"] == "new.teacher@typo-school.example")
    assert "as a teacher" in body(message)
    joined = await _register(api, "new.teacher@typo-school.example", tenant="typo-school", display_name="New Teacher",
                             invitation_token=token)
    assert joined.status_code == 201, joined.text
    for query in ("techer", "New Techer", "teacher", "new.teacher@typo"):
        found = (await api.get("/v1/users", params={"q": query}, headers=bearer(admin))).json()
        assert [u["display_name"] for u in found["items"]][:1] == ["New Teacher"], query
    nothing = (await api.get("/v1/users", params={"q": "zzzqqq"}, headers=bearer(admin))).json()
    assert nothing["items"] == []

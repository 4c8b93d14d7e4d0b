"""A session identity ends is ended everywhere: after logout, a reused refresh token, deactivation,
erasure or a password reset, the session's access token (valid for up to 15 more minutes by its signature) is refused
with 401 by every one of the five services within seconds, through the gateway."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.support.platform import eventually

pytestmark = pytest.mark.e2e

PASSWORD = "Demo123!"
# One authenticated read per service that an admin may make with no other data in place.
READS = {
    "identity": "/api/identity/v1/users/me",
    "content": "/api/content/v1/lessons",
    "assessment": "/api/assessment/v1/ai-usage",
    "progress": "/api/progress/v1/dashboard",
    "analytics": "/api/analytics/v1/dashboards/rates",
}


async def _statuses(client: httpx.AsyncClient, access_token: str) -> dict[str, int]:
    headers = {"Authorization": f"Bearer {access_token}"}
    return {service: (await client.get(path, headers=headers)).status_code for service, path in READS.items()}


async def _login(client: httpx.AsyncClient, email: str) -> dict:
    response = await client.post("/api/identity/v1/auth/login",
                                 json={"tenant": "demo", "email": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return response.json()


async def _fresh_admin(client: httpx.AsyncClient, accounts, email: str | None = None) -> tuple[str, dict]:
    """A new admin of the demo tenant (admins may read every service's route above) and its tokens,
    which every service accepts."""
    identity = accounts.client._transport.app.state.identity  # noqa: SLF001
    tenant = await identity.ensure_tenant(slug="demo", name="Demo School")
    email = email or f"revoked-{uuid.uuid4().hex[:8]}@example.com"
    user, _ = await identity.ensure_user(tenant_id=tenant.id, email=email, password=PASSWORD,
                                         display_name="Rita Revoked", role="ADMIN")
    tokens = await _login(client, email)
    assert set((await _statuses(client, tokens["access_token"])).values()) == {200}
    return str(user.id), tokens


async def _refused_everywhere(client: httpx.AsyncClient, access_token: str, why: str) -> None:
    seen: dict[str, int] = {}

    async def refused() -> bool:
        seen.update(await _statuses(client, access_token))
        return set(seen.values()) == {401}

    await eventually(refused, timeout=5, interval=0.25, message=f"after {why}, the old token still got {seen}")


async def test_a_revoked_sessions_token_is_refused_by_every_service(platform, accounts) -> None:
    async with httpx.AsyncClient(base_url=platform.gateway, timeout=30) as client:
        admin = await _login(client, "admin@example.com")
        admin_headers = {"Authorization": f"Bearer {admin['access_token']}"}

        _, tokens = await _fresh_admin(client, accounts)
        response = await client.post("/api/identity/v1/auth/logout",
                                     headers={"Authorization": f"Bearer {tokens['access_token']}"})
        assert response.status_code == 204
        await _refused_everywhere(client, tokens["access_token"], "logout")

        _, tokens = await _fresh_admin(client, accounts)
        rotated = await client.post("/api/identity/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
        assert rotated.status_code == 200
        reused = await client.post("/api/identity/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
        assert reused.status_code == 401
        # Both the first access token and the one the rotation gave belong to the ended session.
        await _refused_everywhere(client, tokens["access_token"], "a reused refresh token")
        await _refused_everywhere(client, rotated.json()["access_token"], "a reused refresh token")

        user_id, tokens = await _fresh_admin(client, accounts)
        assert (await client.post(f"/api/identity/v1/users/{user_id}/deactivate", headers=admin_headers)).status_code == 200
        await _refused_everywhere(client, tokens["access_token"], "deactivation")

        user_id, tokens = await _fresh_admin(client, accounts)
        assert (await client.post(f"/api/identity/v1/users/{user_id}/erase", headers=admin_headers)).status_code == 204
        await _refused_everywhere(client, tokens["access_token"], "erasure")

        # A password reset by the emailed link ends every session of the account, this one included.
        email = f"forgot-{uuid.uuid4().hex[:8]}@example.com"
        _, tokens = await _fresh_admin(client, accounts, email)
        asked = await client.post("/api/identity/v1/auth/password-reset", json={"tenant": "demo", "email": email})
        assert asked.status_code == 202
        token = await platform.mailbox.token_for(email)
        reset = await client.post("/api/identity/v1/auth/password-reset/confirm",
                                  json={"token": token, "new_password": "a fresh passphrase"})
        assert reset.status_code == 204, reset.text
        await _refused_everywhere(client, tokens["access_token"], "a password reset")

        # The admin's own session was never revoked: its token still works everywhere.
        assert set((await _statuses(client, admin["access_token"])).values()) == {200}

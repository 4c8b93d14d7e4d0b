"""Every way a session ends early is announced (identity.sessions.revoked.v1), so that every service
refuses its access tokens: here, what identity writes to its outbox for each."""

from __future__ import annotations

import json

import pytest

from tests.support.mail import Mailbox

from .conftest import bearer, login, new_tenant

pytestmark = pytest.mark.integration


def _announced(admin_connection, user_id: str) -> list[dict]:
    rows = admin_connection.execute(
        "SELECT value FROM identity.outbox WHERE event_type = 'identity.sessions.revoked.v1' AND key = %s "
        "ORDER BY created_at", (user_id,)).fetchall()
    return [json.loads(value)["data"] for (value,) in rows]


async def test_each_early_end_of_a_session_is_announced(api, mailbox: Mailbox, admin_connection) -> None:
    _, admin = await new_tenant(api, mailbox, "ending-school")
    me = (await api.get("/v1/users/me", headers=bearer(admin))).json()
    other = await login(api, "admin@ending-school.example", "correct horse battery", tenant="ending-school")
    third = await login(api, "admin@ending-school.example", "correct horse battery", tenant="ending-school")

    # Revoking one of my sessions from another; changing my password ends all but the current one.
    assert (await api.delete(f"/v1/auth/sessions/{other['session_id']}", headers=bearer(admin))).status_code == 204
    changed = await api.post("/v1/auth/password", headers=bearer(admin),
                             json={"current_password": "correct horse battery", "new_password": "another good phrase"})
    assert changed.status_code == 204
    announced = _announced(admin_connection, me["id"])
    assert [(a["reason"], a["session_ids"]) for a in announced] == [
        ("revoked by user", [other["session_id"]]), ("password changed", [third["session_id"]])]

    # A suspended organisation: every remaining session of each of its users.
    platform = await login(api, "platform-admin@example.com", tenant="platform")
    suspended = await api.post(f"/v1/tenants/{me['tenant_id']}/suspend", headers=bearer(platform))
    assert suspended.status_code == 200
    last = _announced(admin_connection, me["id"])[-1]
    assert last == {"user_id": me["id"], "session_ids": [admin["session_id"]], "reason": "tenant suspended"}

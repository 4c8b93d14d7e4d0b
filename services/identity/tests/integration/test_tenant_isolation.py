"""A tenant B admin can read or change nothing of tenant A, through any endpoint."""

from __future__ import annotations

import re

import pytest

from tests.support.mail import Mailbox

from .conftest import bearer, login, new_tenant

pytestmark = pytest.mark.integration

BODIES = {"role": {"role": "STUDENT"}}


async def test_no_endpoint_reaches_another_tenants_objects(app, api, mailbox: Mailbox) -> None:
    _, intruder = await new_tenant(api, mailbox, "intruders")
    victim_admin = await login(api, "admin@example.com")
    victim = await login(api, "student@example.com", device_id="victim-phone")
    victim_id = (await api.get("/v1/users/me", headers=bearer(victim)))
    ids = {"user_id": victim_id.json()["id"], "session_id": victim["session_id"],
           "tenant_id": victim_id.json()["tenant_id"],
           "export_id": (await api.post("/v1/users/me/exports", headers=bearer(victim))).json()["id"]}

    probed = 0
    # Every documented endpoint with an object id in its path (a new one is probed automatically).
    for template, operations in app.openapi()["paths"].items():
        params = set(re.findall(r"{(\w+)}", template))
        if not params & set(ids):
            continue
        path = template
        for name in params:
            path = path.replace("{" + name + "}", ids[name])
        for method in operations:
            body = next((v for k, v in BODIES.items() if template.endswith(k)), None)
            response = await api.request(method.upper(), path, headers=bearer(intruder), json=body)
            probed += 1
            expected = 403 if "tenant_id" in params else 404  # tenants: platform admins only
            assert response.status_code == expected, f"{method} {template}: {response.status_code} {response.text}"
    assert probed >= 8, f"only {probed} endpoints probed"

    listed = (await api.get("/v1/users", headers=bearer(intruder))).json()
    assert {u["tenant_id"] for u in listed["items"]} == {(await api.get("/v1/users/me", headers=bearer(intruder))
                                                          ).json()["tenant_id"]}
    assert (await api.get("/v1/users", params={"q": "student"}, headers=bearer(intruder))).json()["total"] == 0

    # Nothing changed for the victim: still active, same role, session alive.
    still = (await api.get(f"/v1/users/{ids['user_id']}", headers=bearer(victim_admin))).json()
    assert still["status"] == "ACTIVE" and still["role"] == "STUDENT"
    assert (await api.post("/v1/auth/refresh", json={"refresh_token": victim["refresh_token"]})).status_code == 200

    # Tenant-scoped settings stay in their tenant.
    await api.put("/v1/system-configs/grading.defaultMaxAttempts", json={"value": 9}, headers=bearer(intruder))
    mine = {c["key"]: c for c in (await api.get("/v1/system-configs", headers=bearer(victim_admin))).json()}
    assert mine["grading.defaultMaxAttempts"]["value"] != 9
    await api.delete("/v1/system-configs/grading.defaultMaxAttempts", headers=bearer(intruder))

    # A refresh token is bound to its tenant: tampering with the tenant part finds nothing.
    forged = intruder["refresh_token"].split(".", 1)
    tampered = f"{ids['tenant_id']}.{forged[1]}"
    assert (await api.post("/v1/auth/refresh", json={"refresh_token": tampered})).status_code == 401

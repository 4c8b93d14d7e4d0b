"""identity's events on Kafka: one per change, ids only on identity.events, profiles
and tombstones on the compacted identity.user-profiles, configs followed by every service."""

from __future__ import annotations

import asyncio
import json

import pytest
from aiokafka import AIOKafkaConsumer

from cuepoint.runtime import db
from cuepoint.runtime.config_view import SystemConfigView
from cuepoint.runtime.outbox import OutboxRelay
from tests.support.platform import Infra, eventually

from .conftest import bearer, email_index, login

pytestmark = pytest.mark.integration


async def _read_all(infra: Infra, topic: str, *, settle: float = 1.5) -> list:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=infra.bootstrap_servers, auto_offset_reset="earliest",
                                enable_auto_commit=False)
    await consumer.start()
    records: list = []
    try:
        idle_since = asyncio.get_running_loop().time()
        while asyncio.get_running_loop().time() - idle_since < settle:
            batch = await consumer.getmany(timeout_ms=300)
            for part in batch.values():
                records.extend(part)
                idle_since = asyncio.get_running_loop().time()
    finally:
        await consumer.stop()
    return records


async def test_each_change_is_published_once_without_personal_data(api, identity_settings, infra: Infra,
                                                                   admin_connection) -> None:
    stop = asyncio.Event()
    relay = OutboxRelay(dsn=db.libpq_dsn(identity_settings.runtime_database_url), schema="identity",
                        bootstrap_servers=infra.bootstrap_servers, poll_interval=0.3)
    relay_task = asyncio.create_task(relay.run(stop))
    view = SystemConfigView(infra.bootstrap_servers, topic_prefix=infra.topic_prefix)
    try:
        email, name = "evented.person@example.com", "Evelyn Eventful"
        registered = await api.post("/v1/auth/register", json={"tenant": "demo", "email": email,
                                                               "password": "a long enough phrase",
                                                               "display_name": name})
        assert registered.status_code == 202, registered.text
        user_id, tenant_id = (str(value) for value in admin_connection.execute(
            "SELECT id, tenant_id FROM identity.users WHERE email_index = %s", (email_index(email),)).fetchone())
        admin_connection.execute("UPDATE identity.users SET email_verified = true WHERE id = %s", (user_id,))
        admin = await login(api, "admin@example.com")
        person = await login(api, email, "a long enough phrase")
        person_first_session = person["session_id"]
        await api.put(f"/v1/users/{user_id}/role", json={"role": "TEACHER"}, headers=bearer(admin))
        await api.post(f"/v1/users/{user_id}/deactivate", headers=bearer(admin))
        await api.post(f"/v1/users/{user_id}/reactivate", headers=bearer(admin))
        person = await login(api, email, "a long enough phrase")
        await api.patch("/v1/users/me/preferences", json={"theme": "dark"}, headers=bearer(person))
        await api.put("/v1/system-configs/video.maxFileSize", json={"value": 500 * 1024 * 1024}, headers=bearer(admin))
        await api.post(f"/v1/users/{user_id}/erase", headers=bearer(admin))
        invited = await api.post("/v1/invitations", json={"email": "invited.someone@example.com", "role": "TEACHER"},
                                 headers=bearer(admin))
        assert invited.status_code == 201, invited.text

        await eventually(lambda: _ready(admin_connection.execute(
            "SELECT count(*) FROM identity.outbox WHERE published_at IS NULL").fetchone()[0] == 0),
            timeout=30, message="identity's outbox was not relayed")

        await view.start()
        assert view.get("video.maxFileSize", tenant_id) == 500 * 1024 * 1024
        assert view.get("video.maxFileSize", "another-tenant") == 2 * 1024**3, "other tenants keep the default"
        await api.delete("/v1/system-configs/video.maxFileSize", headers=bearer(admin))
        await eventually(lambda: _ready(view.get("video.maxFileSize", tenant_id) == 2 * 1024**3), timeout=15,
                         message="the config view did not follow the reset")
    finally:
        await view.stop()
        stop.set()
        await relay_task

    domain = await _read_all(infra, infra.topic_prefix + "identity.events")
    mine = [json.loads(r.value) for r in domain if r.key == user_id.encode()]
    assert [e["event_type"] for e in mine] == [
        "identity.user.registered.v1", "identity.user.signed_in.v1", "identity.user.role_changed.v1",
        "identity.sessions.revoked.v1", "identity.user.deactivated.v1", "identity.user.reactivated.v1",
        "identity.user.signed_in.v1", "identity.preferences.updated.v1", "identity.sessions.revoked.v1",
        "identity.user.erased.v1",
    ]
    assert len({e["event_id"] for e in mine}) == len(mine)
    # A sign-in is announced (so it is audited) by its session and the person as actor.
    assert mine[1]["data"] == {"user_id": user_id, "session_id": person_first_session}
    assert mine[1]["actor_id"] == user_id
    assert mine[2]["actor_id"] is not None and mine[2]["data"] == {"user_id": user_id, "old_role": "STUDENT",
                                                                    "new_role": "TEACHER"}
    # Ended sessions are announced by id (every service refuses their tokens), with why and by whom.
    assert mine[3]["data"] == {"user_id": user_id, "session_ids": [person_first_session], "reason": "role changed"}
    assert mine[3]["actor_id"] == mine[2]["actor_id"]
    assert mine[8]["data"]["reason"] == "account erased" and mine[8]["data"]["session_ids"] == [person["session_id"]]
    # An invitation is announced (so it is audited), by id and role: the email stays in identity.
    invitation = [json.loads(r.value) for r in domain if r.key == invited.json()["id"].encode()]
    assert [e["event_type"] for e in invitation] == ["identity.invitation.sent.v1"]
    assert invitation[0]["data"]["role"] == "TEACHER" and invitation[0]["actor_id"] is not None
    for record in domain:  # no personal data anywhere on the domain topic
        blob = (record.value or b"") + (record.key or b"") + b"".join(v for _, v in record.headers)
        for secret in (email.encode(), name.encode(), b"@example.com"):
            assert secret not in blob, f"personal data on identity.events: {record.value[:200]}"
        headers = dict(record.headers)
        assert {"event_type", "event_id", "tenant_id"} <= set(headers)

    profiles = [r for r in await _read_all(infra, infra.topic_prefix + "identity.user-profiles")
                if r.key == user_id.encode()]
    assert profiles[0].value and json.loads(profiles[0].value)["data"]["email"] == email
    assert profiles[-1].value is None, "erasure must end with a tombstone"
    assert dict(profiles[-1].headers)["tombstone"] == b"true"

    configs = [json.loads(r.value) for r in await _read_all(infra, infra.topic_prefix + "identity.system-configs")
               if r.key == f"{tenant_id}:video.maxFileSize".encode()]
    assert [(c["data"]["value"], c["data"]["is_default"]) for c in configs] == [(500 * 1024 * 1024, False), (None, True)]
    # Each change says what it replaced, for the audit log: nothing of the organisation's own, then 500 MiB.
    assert [c["data"]["previous_value"] for c in configs] == [None, 500 * 1024 * 1024]


async def _ready(value: object) -> object:
    return value

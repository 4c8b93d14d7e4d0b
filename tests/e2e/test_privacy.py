"""Privacy, whole (issue 16). Erasure is whole: once identity erases a person, their email, name, device ids and user agent
are in no row of any table of any schema, and on no topic but the two whose bounds the README
states (the compacted identity.user-profiles until compaction, the raw client events until their
retention). Everything the person did goes through the real platform (gateway, Kafka, every
service's worker); the search looks behind every service's back, as the database's superuser."""

from __future__ import annotations

import contextlib
import subprocess
import uuid
from pathlib import Path

import httpx
import psycopg
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from cuepoint.contracts.topics import CLIENT_EVENTS, USER_PROFILES
from tests.support.platform import eventually

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "Demo123!"
# The topics allowed to keep the person's data a while, each for the bound the README states.
BOUNDED = {USER_PROFILES.name, CLIENT_EVENTS.name}


def _search_tables(connection: psycopg.Connection, needles: list[str]) -> list[str]:
    """Every row of every table of every schema, as text (all its columns, JSON and arrays included),
    that holds one of the needles: 'schema.table: needle'."""
    tables = connection.execute("""
        SELECT table_schema, table_name FROM information_schema.tables
        WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema')""").fetchall()
    found = []
    for schema, table in tables:
        for needle in needles:
            hit = connection.execute(f'SELECT 1 FROM "{schema}"."{table}" t WHERE strpos(t::text, %s) > 0 LIMIT 1',
                                     (needle,)).fetchone()
            if hit:
                found.append(f"{schema}.{table}: {needle}")
    return found


async def _search_topics(bootstrap: str, topics: list[str], needles: list[str]) -> set[tuple[str, str]]:
    """Reads every topic from its start to its end: (topic, needle) for each needle a record holds."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    found: set[tuple[str, str]] = set()
    try:
        partitions = [TopicPartition(topic, p) for topic in topics
                      for p in (consumer.partitions_for_topic(topic) or await _partitions(consumer, topic))]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        pending = {tp for tp in partitions if ends[tp] > 0}
        while pending:
            batches = await consumer.getmany(*pending, timeout_ms=2000)
            for tp, records in batches.items():
                for record in records:
                    text = b" ".join(filter(None, [record.key, record.value])).decode(errors="replace")
                    found.update((tp.topic, needle) for needle in needles if needle in text)
                    if record.offset + 1 >= ends[tp]:
                        pending.discard(tp)
            if not batches:
                pending = {tp for tp in pending if await consumer.position(tp) < ends[tp]}
    finally:
        await consumer.stop()
    return found


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    await consumer._client.force_metadata_update()  # noqa: SLF001 - the metadata of topics not subscribed to
    return consumer.partitions_for_topic(topic) or set()


async def test_an_erased_person_is_in_no_table_and_no_unbounded_topic(platform, accounts, topics,
                                                                       tmp_path: Path) -> None:
    seeded = subprocess.run([str(ROOT / ".venv/bin/python"), str(ROOT / "deploy/local/demo.py"),
                             "--video-dir", str(tmp_path)],
                            capture_output=True, text=True, timeout=300, check=False, env=platform.env)
    assert seeded.returncode == 0, seeded.stdout + seeded.stderr

    mark = uuid.uuid4().hex[:10]
    email, name = f"erasable-{mark}@example.com", f"Erin Erasable {mark}"
    device, agent = f"device-{mark}", f"ErasureProbe/{mark}"
    needles = [email, name, device, agent]

    identity = accounts.client._transport.app.state.identity  # noqa: SLF001
    tenant = await identity.ensure_tenant(slug="demo", name="Demo School")
    student, _ = await identity.ensure_user(tenant_id=tenant.id, email=email, password=PASSWORD,
                                            display_name=name, role="STUDENT")

    async with httpx.AsyncClient(base_url=platform.gateway, timeout=30, headers={"User-Agent": agent}) as client:
        async def login(who: str, password: str = PASSWORD, device_id: str | None = None,
                        user_agent: str = agent) -> httpx.Response:
            return await client.post("/api/identity/v1/auth/login", headers={"User-Agent": user_agent}, json={
                "tenant": "demo", "email": who, "password": password, "device_id": device_id})

        assert (await login(email, "not the password", device)).status_code == 401  # a failed sign-in too
        signed_in = await login(email, device_id=device)
        assert signed_in.status_code == 200, signed_in.text
        me = {"Authorization": f"Bearer {signed_in.json()['access_token']}"}
        # The admin signs in from a browser of their own: their session is not the person's to erase.
        admin_login = await login("admin@example.com", user_agent="AdminBrowser/1")
        admin = {"Authorization": f"Bearer {admin_login.json()['access_token']}"}

        lessons = (await client.get("/api/content/v1/lessons", headers=admin)).json()["items"]
        lesson = next(found for found in [(await client.get(f"/api/content/v1/lessons/{item['id']}", headers=admin)).json()
                                          for item in lessons] if found["videos"])  # the demo's
        video = lesson["videos"][0]["id"]
        # Telemetry on two devices, free text a client may send among it (an error naming the person).
        for device_id in (device, f"{device}-2"):
            sent = await client.post("/api/analytics/v1/events", headers=me, json={"device_id": device_id, "events": [
                {"type": "video.heartbeat", "lesson_id": lesson["id"], "video_id": video, "position": 5,
                 "played": [{"start": 0, "end": 5}]},
                {"type": "navigation", "path": f"/lessons/{lesson['id']}", "referrer": f"/search?q={name}"},
                {"type": "error", "message": f"could not save the notes of {email}", "source": "notes"}]})
            assert sent.status_code == 202, sent.text

        async def both_sessions():
            response = await client.get("/api/progress/v1/sessions", headers=me)
            return response.json()["items"] if response.status_code == 200 and response.json()["total"] == 2 else None
        await eventually(both_sessions, timeout=20, message="progress did not record both device sessions")
        ended = [s for s in await both_sessions() if s["device_id"] == f"{device}-2"][0]
        assert (await client.post(f"/api/progress/v1/sessions/{ended['id']}/end", headers=me)).status_code == 200

        with psycopg.connect(platform.infra.admin_database_url(), autocommit=True) as connection:
            before = _search_tables(connection, needles)
            # The search finds what it looks for: each needle is stored somewhere before the erasure.
            assert {hit.split(": ", 1)[1] for hit in before} == set(needles), before
            # At rest identity keeps the email and the sessions' devices and user agents encrypted (README,
            # "Sensitive fields"); of the four only the name is plain text in its accounts and sessions.
            in_the_clear = {hit for hit in before if hit.split(": ", 1)[0] in (
                "identity.users", "identity.auth_sessions", "identity.auth_throttle") and not hit.endswith(name)}
            assert not in_the_clear, in_the_clear

            erased = await client.post(f"/api/identity/v1/users/{student.id}/erase", headers=admin)
            assert erased.status_code == 204, erased.text

            left: list[str] = []

            async def nothing_left():
                left[:] = _search_tables(connection, needles)
                return not left
            with contextlib.suppress(AssertionError):  # what is left is the message
                await eventually(nothing_left, timeout=30, interval=1)
            assert not left, f"still stored 30 s after the erasure: {left}"

    prefix = platform.infra.topic_prefix
    ours = [topic for topic in topics if topic.startswith(prefix)]
    on_topics = await _search_topics(platform.infra.bootstrap_servers, ours, needles)
    unbounded = sorted(hit for hit in on_topics if hit[0].removeprefix(prefix) not in BOUNDED)
    assert not unbounded, f"the person's data on topics that keep it with no stated bound: {unbounded}"

    # The bounds are the brokers' own: compaction soon after the tombstone, the raw events' retention.
    admin_client = AIOKafkaAdminClient(bootstrap_servers=platform.infra.bootstrap_servers)
    await admin_client.start()
    try:
        described = await admin_client.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, prefix + USER_PROFILES.name),
             ConfigResource(ConfigResourceType.TOPIC, prefix + CLIENT_EVENTS.name)])
    finally:
        await admin_client.close()
    configs = {}
    for response in described:
        for resource in response.resources:
            configs[resource[3].removeprefix(prefix)] = {entry[0]: entry[1] for entry in resource[4]}
    for topic in (USER_PROFILES, CLIENT_EVENTS):
        for key, value in topic.config().items():
            assert configs[topic.name][key] == value, (topic.name, key)
    assert {"segment.ms", "min.cleanable.dirty.ratio", "max.compaction.lag.ms"} <= USER_PROFILES.config().keys()


async def test_what_an_auditor_asks_for_is_in_the_audit_log_with_actor_and_change(platform, accounts) -> None:
    """Sign-ins and refused ones, password and email changes, a role change, a session revoked, an
    export, a system config change and an erasure: each an entry of the audit log, by whom, with the
    event as its details (before and after where there is a before)."""
    mark = uuid.uuid4().hex[:10]
    email = f"audited-{mark}@example.com"
    identity = accounts.client._transport.app.state.identity  # noqa: SLF001
    tenant = await identity.ensure_tenant(slug="demo", name="Demo School")
    user, _ = await identity.ensure_user(tenant_id=tenant.id, email=email, password=PASSWORD,
                                         display_name=f"Audrey {mark}", role="STUDENT")
    user_id = str(user.id)
    key = "video.maxFileSize"

    async with httpx.AsyncClient(base_url=platform.gateway, timeout=30) as client:
        async def login(who: str, password: str = PASSWORD) -> httpx.Response:
            return await client.post("/api/identity/v1/auth/login",
                                     json={"tenant": "demo", "email": who, "password": password})

        async def call(method: str, path: str, token: str, expect: int, **kwargs) -> httpx.Response:
            response = await client.request(method, f"/api/identity/v1{path}",
                                            headers={"Authorization": f"Bearer {token}"}, **kwargs)
            assert response.status_code == expect, f"{method} {path}: {response.text}"
            return response

        admin = (await login("admin@example.com")).json()["access_token"]
        admin_id = (await call("GET", "/users/me", admin, 200)).json()["id"]
        assert (await login(email, "a wrong password")).status_code == 401
        mine = (await login(email)).json()["access_token"]
        await call("POST", "/auth/password", mine, 204,
                   json={"current_password": PASSWORD, "new_password": "another passphrase"})
        new_email = f"audited-{mark}-new@example.com"
        await call("POST", "/users/me/email", mine, 202, json={"new_email": new_email,
                                                               "current_password": "another passphrase"})
        token = await platform.mailbox.token_for(new_email)
        assert (await client.post("/api/identity/v1/auth/email-change/confirm", json={"token": token})).status_code == 200
        await call("PUT", f"/users/{user_id}/role", admin, 200, json={"role": "TEACHER"})
        second = (await login(new_email, "another passphrase")).json()["access_token"]
        await call("POST", "/auth/logout", second, 204)
        await call("GET", f"/users/{user_id}/export", admin, 200)
        await call("PUT", f"/system-configs/{key}", admin, 200, json={"value": 3 * 2**30})
        await call("PUT", f"/system-configs/{key}", admin, 200, json={"value": 4 * 2**30})
        await call("POST", f"/users/{user_id}/erase", admin, 204)

        entries: dict[str, list[dict]] = {}
        wanted = {"identity.user.sign_in_failed", "identity.user.signed_in", "identity.user.password_changed",
                  "identity.user.email_changed", "identity.user.role_changed", "identity.sessions.revoked",
                  "identity.user.data_exported", "identity.user.erased", "identity.system_config.changed"}

        async def audited() -> bool:
            entries.clear()
            for target in (user_id, f"{tenant.id}:{key}"):
                response = await client.get("/api/analytics/v1/audit-logs", params={"target_id": target, "limit": 100},
                                            headers={"Authorization": f"Bearer {admin}"})
                assert response.status_code == 200, response.text
                for item in response.json()["items"]:
                    entries.setdefault(item["action"], []).append(item)
            return wanted <= entries.keys()
        with contextlib.suppress(AssertionError):
            await eventually(audited, timeout=20, interval=0.5)
        assert wanted <= entries.keys(), f"not audited: {sorted(wanted - entries.keys())}"

    def one(action: str) -> dict:
        return entries[action][-1]  # newest first: the first of its kind

    # By whom: the person themselves, an admin for them, nobody for a refused sign-in.
    for action in ("identity.user.signed_in", "identity.user.password_changed", "identity.user.email_changed"):
        assert one(action)["actor_id"] == user_id, action
    for action in ("identity.user.role_changed", "identity.user.data_exported", "identity.user.erased",
                   "identity.system_config.changed"):
        assert one(action)["actor_id"] == admin_id, action
    failed = one("identity.user.sign_in_failed")
    assert failed["actor_id"] is None and failed["data"]["reason"] == "wrong-password"
    assert "session_id" in one("identity.user.signed_in")["data"]
    assert one("identity.user.password_changed")["data"]["method"] == "changed"
    # Before and after.
    role = one("identity.user.role_changed")["data"]
    assert (role["old_role"], role["new_role"]) == ("STUDENT", "TEACHER")
    revoked = [e["data"] for e in entries["identity.sessions.revoked"]]
    assert any(d["reason"] == "logout" for d in revoked), revoked
    configs = [e["data"] for e in entries["identity.system_config.changed"]]
    assert {(c["previous_value"], c["value"]) for c in configs} >= {(3 * 2**30, 4 * 2**30)}, configs
    # Nothing personal in what the audit log shows.
    assert email not in str(entries) and new_email not in str(entries)

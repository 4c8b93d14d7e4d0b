"""Privacy, whole (issue 16): a person's export holds everything every service keeps about them.

A student who failed to sign in once, signed in, sent telemetry (a progress session) and answered a
question asks for their export through the gateway; identity asks every service for its part
(identity.user.export_requested.v1), each answers sealed on privacy.export-parts, and identity
assembles the archive: the status reaches READY and the ZIP holds all five parts with the person's
data: the attempt, the session, the events they sent, the audit entry of the refused sign-in."""

from __future__ import annotations

import io
import json
import subprocess
import uuid
import zipfile
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.support.platform import eventually

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "Demo123!"
PARTS = ("identity", "content", "assessment", "progress", "analytics")


async def test_a_persons_export_holds_every_services_part(platform, accounts, tmp_path: Path) -> None:
    seeded = subprocess.run([str(ROOT / ".venv/bin/python"), str(ROOT / "deploy/local/demo.py"),
                             "--video-dir", str(tmp_path)],
                            capture_output=True, text=True, timeout=300, check=False, env=platform.env)
    assert seeded.returncode == 0, seeded.stdout + seeded.stderr

    mark = uuid.uuid4().hex[:10]
    email, device = f"exporter-{mark}@example.com", f"device-{mark}"
    identity = accounts.client._transport.app.state.identity  # noqa: SLF001
    tenant = await identity.ensure_tenant(slug="demo", name="Demo School")
    student, _ = await identity.ensure_user(tenant_id=tenant.id, email=email, password=PASSWORD,
                                            display_name=f"Ella Exporter {mark}", role="STUDENT")

    async with httpx.AsyncClient(base_url=platform.gateway, timeout=30,
                                 headers={"User-Agent": f"ExportProbe/{mark}"}) as client:
        async def login(who: str, password: str = PASSWORD) -> httpx.Response:
            return await client.post("/api/identity/v1/auth/login", json={
                "tenant": "demo", "email": who, "password": password, "device_id": device})

        assert (await login(email, "not the password")).status_code == 401
        signed_in = await login(email)
        assert signed_in.status_code == 200, signed_in.text
        me = {"Authorization": f"Bearer {signed_in.json()['access_token']}"}

        lessons = (await client.get("/api/content/v1/lessons", headers=me)).json()["items"]
        lesson = next(found for found in [(await client.get(f"/api/content/v1/lessons/{item['id']}", headers=me)).json()
                                          for item in lessons] if found["videos"])  # the demo's
        video = lesson["videos"][0]
        sent = await client.post("/api/analytics/v1/events", headers=me, json={"device_id": device, "events": [
            {"type": "video.heartbeat", "lesson_id": lesson["id"], "video_id": video["id"], "position": 5,
             "played": [{"start": 0, "end": 5}]},
            {"type": "navigation", "path": f"/lessons/{lesson['id']}"}]})
        assert sent.status_code == 202, sent.text
        milestone = video["milestones"][0]["id"]
        questions = (await client.get(f"/api/assessment/v1/milestones/{milestone}/questions", headers=me)).json()
        question = next(q for q in questions["questions"] if q["type"] == "TRUE_FALSE")
        attempt = await client.post(f"/api/assessment/v1/questions/{question['id']}/attempts", headers=me,
                                    json={"answer": {"value": True}})
        assert attempt.status_code in (200, 201), attempt.text
        attempt_id = attempt.json()["attempt_id"]

        async def session_recorded():
            response = await client.get("/api/progress/v1/sessions", headers=me)
            return response.json()["items"] if response.status_code == 200 and response.json()["total"] else None
        await eventually(session_recorded, timeout=20, message="progress did not record the device session")
        [session] = await session_recorded()

        async def analytics_has_everything() -> bool:  # the export holds what analytics has stored by then
            with psycopg.connect(platform.infra.admin_database_url(), autocommit=True) as connection:
                sent_events = connection.execute(
                    "SELECT count(*) FROM analytics.analytics_events WHERE user_id = %s AND category <> 'domain'",
                    (student.id,)).fetchone()[0]
                refused = connection.execute(
                    "SELECT count(*) FROM analytics.audit_logs WHERE target_id = %s AND action = %s",
                    (str(student.id), "identity.user.sign_in_failed")).fetchone()[0]
            return sent_events == 2 and refused == 1
        await eventually(analytics_has_everything, timeout=20, message="analytics did not store the events")

        requested = await client.post("/api/identity/v1/users/me/exports", headers=me)
        assert requested.status_code == 202, requested.text
        export = requested.json()
        assert export["status"] == "ASSEMBLING" and set(export["parts"]) == set(PARTS)

        async def ready():
            state = (await client.get(f"/api/identity/v1/users/me/exports/{export['id']}", headers=me)).json()
            assert state["status"] in ("ASSEMBLING", "READY"), state
            return state if state["status"] == "READY" else None
        await eventually(ready, timeout=60, interval=1, message="the export did not become ready")
        state = await ready()
        assert set(state["parts"].values()) == {"received"} and state["expires_at"]

        download = await client.get(f"/api/identity/v1/users/me/exports/{export['id']}/archive", headers=me)
        assert download.status_code == 200, download.text
        assert download.headers["content-type"] == "application/zip"
        assert "no-store" in download.headers["cache-control"]
        assert download.headers["content-disposition"].startswith("attachment")

    archive = zipfile.ZipFile(io.BytesIO(download.content))
    assert sorted(archive.namelist()) == sorted([f"{part}.json" for part in PARTS] + ["README.txt"])
    parts = {part: json.loads(archive.read(f"{part}.json")) for part in PARTS}
    assert parts["identity"]["user"]["email"] == email
    assert device in [s["device_id"] for s in parts["identity"]["sessions"]]
    assert all(value == [] for key, value in parts["content"].items() if key not in ("service", "user_id"))
    assert [a["id"] for a in parts["assessment"]["attempts"]] == [attempt_id]
    assert session["id"] in [s["id"] for s in parts["progress"]["sessions"]]
    assert [s["device_id"] for s in parts["progress"]["sessions"]] == [device]
    client_events = [e for e in parts["analytics"]["events"] if e["category"] != "domain"]
    assert len(client_events) == 2, client_events
    assert "identity.user.sign_in_failed" in [a["action"] for a in parts["analytics"]["audit_entries"]]
    everything = json.dumps(parts)
    assert "admin@example.com" not in everything and "student@example.com" not in everything
    assert "progress.json" in archive.read("README.txt").decode()

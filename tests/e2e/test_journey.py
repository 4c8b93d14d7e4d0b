"""The journey through the gateway over HTTP and through Kafka, nothing bypassed: an admin invites
a teacher; the teacher builds and publishes a lesson with a real video, a transcript and a
milestone, has questions generated and approves them; a student watches on one device, answers
wrongly then rightly, resumes on another; the teacher and the audit log see it; the data team's
consumer finds the events valid against their committed schemas; another tenant sees none of it."""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import google_crc32c
import httpx
import jsonschema
import pytest
from aiokafka import AIOKafkaConsumer

from tests.support.platform import eventually

pytestmark = pytest.mark.e2e

SCHEMAS = Path(__file__).resolve().parents[2] / "libs/contracts/schemas"
VTT = """WEBVTT

00:00:00.500 --> 00:00:06.000
Photosynthesis happens inside chloroplasts. Chlorophyll absorbs sunlight very efficiently.

00:00:06.000 --> 00:00:12.000
Plants combine carbon dioxide and water. The reaction releases oxygen into the atmosphere.

00:00:12.000 --> 00:00:14.500
Glucose stores the captured energy. Respiration later releases that energy for growth.

00:00:16.000 --> 00:00:29.000
Stomata regulate gas exchange through the leaves. Guard cells open stomata during daylight.
"""


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _call(client: httpx.AsyncClient, method: str, path: str, token: str | None = None,
                expect: int | tuple[int, ...] = (200, 201, 202), **kwargs):
    headers = {**(_bearer(token) if token else {}), **kwargs.pop("headers", {})}
    response = await client.request(method, path, headers=headers, **kwargs)
    assert response.status_code in ((expect,) if isinstance(expect, int) else expect), \
        f"{method} {path}: {response.status_code} {response.text[:400]}"
    return response.json() if response.content else None


async def _login(client, email: str, tenant: str = "demo") -> str:
    return (await _call(client, "POST", "/api/identity/v1/auth/login",
                        json={"tenant": tenant, "email": email, "password": "Demo123!"}))["access_token"]


def _video(directory: Path) -> bytes:
    path = directory / "clip.mp4"
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc2=duration=30:size=160x120:rate=12",
                    "-c:v", "libx264", "-preset", "ultrafast", "-crf", "40", "-pix_fmt", "yuv420p", str(path)],
                   check=True)
    return path.read_bytes()


async def test_the_journey(platform, accounts, tmp_path: Path) -> None:
    started = datetime.now(UTC) - timedelta(seconds=5)
    async with httpx.AsyncClient(base_url=platform.gateway, timeout=30) as client:
        # An admin invites a teacher, who registers from the emailed link.
        admin = await _login(client, "admin@example.com")
        teacher_email = f"teacher-{uuid.uuid4().hex[:6]}@example.com"
        await _call(client, "POST", "/api/identity/v1/invitations", admin,
                    json={"email": teacher_email, "role": "TEACHER"})
        token = await platform.mailbox.token_for(teacher_email, timeout=20)
        await _call(client, "POST", "/api/identity/v1/auth/register", json={
            "tenant": "demo", "email": teacher_email, "password": "Demo123!", "display_name": "Ms Frizzle",
            "invitation_token": token})
        teacher = await _login(client, teacher_email)
        teacher_id = (await _call(client, "GET", "/api/identity/v1/users/me", teacher))["id"]

        # The teacher builds the lesson: a real video straight to storage, a transcript, a required milestone.
        lesson = await _call(client, "POST", "/api/content/v1/lessons", teacher, json={
            "title": f"Leaves {uuid.uuid4().hex[:4]}", "seek_policy": "NO_SKIP_AHEAD"})
        data = _video(tmp_path)
        upload = await _call(client, "POST", f"/api/content/v1/lessons/{lesson['id']}/videos", teacher, json={
            "title": "Leaves", "content_type": "video/mp4", "size_bytes": len(data),
            "checksum_crc32c": base64.b64encode(google_crc32c.Checksum(data).digest()).decode()})
        async with httpx.AsyncClient() as storage:
            assert (await storage.put(upload["upload_url"], content=data,
                                      headers={"Content-Type": "video/mp4"})).status_code in (200, 201)
        video = await _call(client, "POST", f"/api/content/v1/videos/{upload['video_id']}/complete", teacher)
        assert 29 <= video["duration"] <= 31  # ffprobe read the real file
        milestone = await _call(client, "POST", f"/api/content/v1/videos/{video['id']}/milestones", teacher,
                                json={"timestamp": 15.0, "title": "Check", "is_required": True})
        await _call(client, "PUT", f"/api/content/v1/videos/{video['id']}/transcripts/en", teacher,
                    json={"format": "vtt", "content": VTT})

        # Questions are generated (offline provider) and QuestionsGenerated arrives; the teacher approves them.
        async def job_accepted():
            response = await client.post("/api/assessment/v1/generation-jobs", headers=_bearer(teacher), json={
                "lesson_id": lesson["id"], "count_per_milestone": 2, "types": ["TRUE_FALSE"]})
            return response.json() if response.status_code == 202 else None
        job = None

        async def requested():
            nonlocal job
            job = await job_accepted()
            return job is not None
        await eventually(requested, timeout=20, message="assessment did not learn the lesson")

        async def generated():
            state = await _call(client, "GET", f"/api/assessment/v1/generation-jobs/{job['id']}", teacher)
            assert state["status"] != "FAILED", state
            return state["status"] == "SUCCEEDED"
        await eventually(generated, timeout=30, message="the generation job did not finish")
        queue = await _call(client, "GET", "/api/assessment/v1/questions", teacher,
                            params={"lesson_id": lesson["id"], "status": "PENDING_REVIEW"})
        assert queue["total"] == 2
        await _call(client, "POST", "/api/assessment/v1/questions/approve", teacher,
                    json={"question_ids": [q["id"] for q in queue["items"]]})
        keys = {q["id"]: q["content"]["correct"] for q in queue["items"]}

        async def publishes():  # content refuses until it has heard of the approvals (through Kafka)
            answer = await client.post(f"/api/content/v1/lessons/{lesson['id']}/publish", headers=_bearer(teacher))
            assert answer.status_code in (200, 409), answer.text
            return answer.status_code == 200
        await eventually(publishes, timeout=20, message="the lesson could not be published")

        # The student, on device A, watches up to the milestone …
        student = await _login(client, "student@example.com")
        student_id = (await _call(client, "GET", "/api/identity/v1/users/me", student))["id"]

        async def published():
            response = await client.get(f"/api/assessment/v1/milestones/{milestone['id']}/questions",
                                        headers=_bearer(student))
            return response.status_code == 200 and len(response.json()["questions"]) == 2
        await eventually(published, timeout=20, message="the lesson did not reach assessment as published")
        await _call(client, "POST", "/api/analytics/v1/events", student, json={"device_id": "device-a", "events": [
            {"type": "video.heartbeat", "lesson_id": lesson["id"], "video_id": video["id"], "position": 15,
             "played": [{"start": 0, "end": 15}]}]})
        # … answers wrongly, then rightly.
        first, second = list(keys)
        wrong = await _call(client, "POST", f"/api/assessment/v1/questions/{first}/attempts", student,
                            json={"answer": {"value": not keys[first]}}, headers={"Idempotency-Key": "a1"})
        assert wrong["is_correct"] is False
        for question in (first, second):
            right = await _call(client, "POST", f"/api/assessment/v1/questions/{question}/attempts", student,
                                json={"answer": {"value": keys[question]}})
            assert right["is_correct"] is True

        # Device B resumes at the same position, with the milestone answered.
        async def resumed():
            state = await _call(client, "GET", "/api/progress/v1/resume", student, params={"lesson_id": lesson["id"]})
            return state if state["position"] == 15 and state["milestones"][0]["answered"] else None
        await eventually(resumed, timeout=2, message="resume on device B within 2 s")
        state = await resumed()
        assert state["watched"] == [[0.0, 15.0]] and state["next_required_milestone"] is None

        # Progress and the teacher's dashboard show it within 2 seconds.
        async def teacher_sees():
            rows = (await _call(client, "GET", "/api/analytics/v1/dashboards/lessons", teacher))["items"]
            return any(r["title"] == lesson["title"] and r["enrolled_students"] == 1 for r in rows)
        await eventually(teacher_sees, timeout=2, message="the teacher's dashboard within 2 s")
        progress = await _call(client, "GET", f"/api/progress/v1/lessons/{lesson['id']}/progress", teacher)
        assert progress["total"] == 1 and float(progress["items"][0]["completion_percent"]) > 0

        # The audit log holds each step, by whom.
        steps = {"identity.user.registered": None, "content.lesson.created": teacher_id,
                 "content.video.uploaded": teacher_id, "content.milestone.created": teacher_id,
                 "content.transcript.ready": teacher_id, "assessment.questions.generated": teacher_id,
                 "assessment.question.approved": teacher_id, "content.lesson.published": teacher_id,
                 "assessment.attempt.graded": student_id, "progress.lesson.progressed": student_id}

        async def audited():
            entries = (await _call(client, "GET", "/api/analytics/v1/audit-logs", admin,
                                   params={"start": started.isoformat(), "limit": 500}))["items"]
            actors = {}
            for entry in entries:
                actors.setdefault(entry["action"], set()).add(entry["actor_id"])
            return all(action in actors and (actor is None or actor in actors[action])
                       for action, actor in steps.items())
        await eventually(audited, timeout=10, message="the audit log does not hold every step")
        assert (await _call(client, "GET", "/api/analytics/v1/audit-logs/verify", admin))["intact"] is True

        # Another tenant sees none of it.
        outsiders = await accounts.tenant_with_users(f"e2e-{uuid.uuid4().hex[:6]}")
        outsider_lessons = (await _call(client, "GET", "/api/content/v1/lessons", params={"limit": 100},
                                        headers=outsiders["teacher"]))["items"]
        assert lesson["id"] not in {item["id"] for item in outsider_lessons}
        peek = await client.get("/api/progress/v1/resume", params={"lesson_id": lesson["id"]},
                                headers=outsiders["student"])
        assert peek.status_code == 404
        board = (await _call(client, "GET", "/api/analytics/v1/dashboards/lessons",
                             headers=outsiders["teacher"]))["items"]
        assert all(row["title"] != lesson["title"] for row in board)
        assert (await client.get(f"/api/assessment/v1/questions/{first}", headers=outsiders["student"])
                ).status_code == 404

    # The data team's consumer: the events, each valid against its committed JSON Schema.
    wanted = {"content.video.uploaded.v1": video["id"], "assessment.questions.generated.v1": job["id"],
              "assessment.attempt.graded.v1": None}
    found = await _read_like_the_data_team(platform, wanted, lesson["id"])
    for event_type in wanted:
        assert found.get(event_type), f"no {event_type} on the topics"
        schema = json.loads((SCHEMAS / f"{event_type}.json").read_text())
        for envelope in found[event_type]:
            jsonschema.validate(envelope, schema)


async def _read_like_the_data_team(platform, wanted: dict[str, str | None], lesson_id: str) -> dict[str, list]:
    prefix = platform.infra.topic_prefix
    consumer = AIOKafkaConsumer(prefix + "content.events", prefix + "assessment.events",
                                bootstrap_servers=platform.infra.bootstrap_servers, group_id=None,
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    found: dict[str, list] = {}
    try:
        for _ in range(60):
            for records in (await consumer.getmany(timeout_ms=500)).values():
                for record in records:
                    envelope = json.loads(record.value) if record.value else None
                    if not envelope or envelope["event_type"] not in wanted:
                        continue
                    if envelope["data"].get("lesson_id") == lesson_id:
                        found.setdefault(envelope["event_type"], []).append(envelope)
            if all(found.get(t) for t in wanted):
                break
            await asyncio.sleep(0)
    finally:
        await consumer.stop()
    return found


DEMO = Path(__file__).resolve().parents[2] / "deploy/local/demo.py"
# The seed's four key queries, verbatim (the milestone lookup with the GROUP BY PostgreSQL needs), each
# run by psql as the service that owns or projects its tables.
KEY_QUERIES = {
    "progress": """SELECT 
    l.title,
    l.thumbnail,
    sp.completion_percent,
    sp.average_score,
    sp.updated_at as last_activity
FROM student_progress sp
JOIN lessons l ON sp.lesson_id = l.id
WHERE sp.student_id = $1 
  AND sp.completion_percent > 0
ORDER BY sp.updated_at DESC""",
    "content": """SELECT 
    m.id,
    m.timestamp,
    m.title,
    m.is_required,
    COUNT(q.id) as question_count
FROM milestones m
LEFT JOIN questions q ON m.id = q.milestone_id 
  AND q.status = 'APPROVED'
WHERE m.video_id = $1
GROUP BY m.id
ORDER BY m.timestamp ASC""",
    "analytics": """SELECT 
    l.title,
    COUNT(DISTINCT sp.student_id) as enrolled_students,
    AVG(sp.completion_percent) as avg_completion,
    AVG(sp.average_score) as avg_score,
    AVG(sp.total_time_spent) as avg_time_spent
FROM lessons l
LEFT JOIN student_progress sp ON l.id = sp.lesson_id
WHERE l.created_by_id = $1
GROUP BY l.id, l.title
ORDER BY enrolled_students DESC""",
    "assessment": """SELECT 
    DATE_TRUNC('month', created_at) as month,
    request_type,
    COUNT(*) as total_requests,
    SUM(tokens_used) as total_tokens,
    SUM(cost) as total_cost,
    AVG(response_time) as avg_response_time
FROM ai_usage_logs
WHERE created_at >= CURRENT_DATE - INTERVAL '6 months'
GROUP BY month, request_type
ORDER BY month DESC, total_cost DESC""",
}


def _psql(platform, service: str, tenant: str, query: str, parameter: str | None) -> list[list[str]]:
    """PREPARE keeps the query verbatim, $1 and all; psql prints unaligned rows."""
    script = (f"SELECT set_config('app.tenant_id', '{tenant}', false) \\g /dev/null\n"
              f"PREPARE key_query {'(uuid) ' if parameter else ''}AS {query};\n"
              f"EXECUTE key_query{f'({chr(39)}{parameter}{chr(39)})' if parameter else ''};\n")
    result = subprocess.run(
        ["psql", "-X", "-q", "-A", "-t", "-F", "|", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1",
         "-p", str(platform.infra.pg_port), "-U", f"cuepoint_{service}", platform.infra.database],
        input=script, capture_output=True, text=True, env={"PGPASSWORD": "cuepoint-local", "PATH": "/usr/bin:/bin"},
        check=False)
    assert result.returncode == 0, result.stderr
    return [line.split("|") for line in result.stdout.splitlines() if line.strip()]


async def test_the_seeds_four_key_queries_return_the_demo_data(platform, tmp_path: Path) -> None:
    # No --gateway: the demo finds the gateway on its configured port, as `make seed` runs it.
    seeded = subprocess.run([str(Path(__file__).resolve().parents[2] / ".venv/bin/python"), str(DEMO),
                             "--video-dir", str(tmp_path)],
                            capture_output=True, text=True, timeout=300, check=False, env=platform.env)
    assert seeded.returncode == 0, seeded.stdout + seeded.stderr
    async with httpx.AsyncClient(base_url=platform.gateway, timeout=30) as client:
        teacher = await _login(client, "teacher@example.com")
        student = await _login(client, "student@example.com")
        me = await _call(client, "GET", "/api/identity/v1/users/me", teacher)
        student_id = (await _call(client, "GET", "/api/identity/v1/users/me", student))["id"]
        lessons = (await _call(client, "GET", "/api/content/v1/lessons", teacher,
                               params={"q": "Photosynthesis: how plants make food"}))["items"]
        lesson = await _call(client, "GET", f"/api/content/v1/lessons/{lessons[0]['id']}", teacher)
        video_id = lesson["videos"][0]["id"]

        async def projected():  # the demo's last steps travel through Kafka to progress, then analytics
            mine = _psql(platform, "progress", me["tenant_id"], KEY_QUERIES["progress"], student_id)
            rows = _psql(platform, "analytics", me["tenant_id"], KEY_QUERIES["analytics"], me["id"])
            return (any(r[0] == lesson["title"] and r[3] and float(r[3]) > 0 for r in mine)
                    and any(r[0] == lesson["title"] and int(r[1]) >= 1 and r[3] for r in rows))
        # Through Kafka to progress, then analytics: late in a full run their groups have many earlier events to read.
        await eventually(projected, timeout=90, message="progress and analytics did not project the demo")

    dashboard = _psql(platform, "progress", me["tenant_id"], KEY_QUERIES["progress"], student_id)
    demo_row = [row for row in dashboard if row[0] == lesson["title"]]  # (the journey's lesson may be there too)
    assert len(demo_row) == 1 and 0 < float(demo_row[0][2]) < 100 and float(demo_row[0][3]) > 0
    lookup = _psql(platform, "content", me["tenant_id"], KEY_QUERIES["content"], video_id)
    assert [(float(r[1]), r[2], r[3], int(r[4])) for r in lookup] == [
        (20.0, "Where it happens", "t", 3), (45.0, "Inputs and outputs", "t", 3)]
    teacher_rows = _psql(platform, "analytics", me["tenant_id"], KEY_QUERIES["analytics"], me["id"])
    # Enrolled students: the demo student, and whoever else studied the demo lesson in this run's database.
    assert int([r for r in teacher_rows if r[0] == lesson["title"]][0][1]) >= 1
    usage = _psql(platform, "assessment", me["tenant_id"], KEY_QUERIES["assessment"], None)
    assert usage and usage[0][1] == "QUESTION_GENERATION" and int(usage[0][2]) >= 2


async def test_each_services_swagger_ui_works_through_the_gateway(platform) -> None:
    """/api/<service>/docs loads its document and its assets through the gateway, none from a CDN."""
    async with httpx.AsyncClient(base_url=platform.gateway, timeout=30) as client:
        for service in ("identity", "content", "assessment", "progress", "analytics"):
            page = await client.get(f"/api/{service}/docs")
            assert page.status_code == 200, page.text
            assert "cdn." not in page.text
            for url in (f"/api/{service}/openapi.json", f"/api/{service}/docs/assets/swagger-ui-bundle.js",
                        f"/api/{service}/docs/assets/swagger-ui.css"):
                assert url in page.text, f"{service}'s docs page does not name {url}"
                assert (await client.get(url)).status_code == 200, url

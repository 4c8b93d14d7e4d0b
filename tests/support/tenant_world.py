"""An organisation with one of everything, made through the services' own APIs (and their workers,
through Kafka), the way deploy/local/demo.py seeds the demo: for tests that need another tenant's
resources to aim at (tests/security/test_cross_tenant.py).

Every text it writes carries ``marker`` (titles, names, emails, the device id and user agent), so a
test finds any of it in an answer by that one string, and by ``ids``' values."""

from __future__ import annotations

import asyncio
import base64
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import google_crc32c
import httpx

from .accounts import DEMO_PASSWORD, Accounts
from .streams import claims

VTT = """WEBVTT

00:00:01.000 --> 00:00:08.000
Chloroplasts hold the chlorophyll {marker}.

00:00:08.000 --> 00:00:16.000
Plants combine carbon dioxide and water, and release oxygen.
"""


@dataclass
class World:
    """One organisation's people and resources: ``ids`` by kind (lesson_id, video_id …)."""

    slug: str
    marker: str
    tenant_id: str
    headers: dict[str, dict[str, str]]  # by role: admin, teacher, student
    users: dict[str, dict[str, str]]  # by role: id, email
    ids: dict[str, str] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)  # what it wrote that is not an id (a config value …)

    @property
    def secrets(self) -> set[str]:
        """What no other organisation's answer may hold: the marker, every id (other than the tenant's own
        and what the test sent), and the texts."""
        return {self.marker, *self.texts.values(), *(user["id"] for user in self.users.values()),
                *(value for value in self.ids.values() if len(value) >= 8)}  # not the language, "en"


def _clip(seconds: int = 30) -> bytes:
    """A real MP4 (content's ffprobe reads what is uploaded), tiny: 64×48 at one frame a second."""
    assert shutil.which("ffmpeg") and shutil.which("ffprobe"), "make infra installs Debian's ffmpeg"
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "clip.mp4"
        subprocess.run(["ffmpeg", "-loglevel", "error", "-f", "lavfi", "-i",
                        f"testsrc=duration={seconds}:size=64x48:rate=1", "-pix_fmt", "yuv420p", str(path)],
                       check=True, timeout=60)
        return path.read_bytes()


def thumbnail_png() -> bytes:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "thumb.png"
        subprocess.run(["ffmpeg", "-loglevel", "error", "-f", "lavfi", "-i", "color=c=green:s=16x16",
                        "-frames:v", "1", str(path)], check=True, timeout=60)
        return path.read_bytes()


def _ok(response: httpx.Response, *statuses: int) -> Any:
    assert response.status_code in (statuses or (200, 201, 202)), \
        f"{response.request.method} {response.request.url} → {response.status_code}: {response.text[:500]}"
    return response.json() if response.content else None


async def _until(what: str, check: Callable[[], Awaitable[Any]], timeout: float = 120) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await check()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{what}: not within {timeout:.0f} s (are the workers running?)")
        await asyncio.sleep(0.3)


async def tenant_with_people(accounts: Accounts, slug: str, marker: str) -> World:
    """An organisation with an admin, a teacher and a student, signed in."""
    identity = accounts.client._transport.app.state.identity  # noqa: SLF001
    tenant = await identity.ensure_tenant(slug=slug, name=f"School {marker}")
    headers, users = {}, {}
    for role in ("admin", "teacher", "student"):
        email = f"{role}-{marker}@{slug}.example"
        await identity.ensure_user(tenant_id=tenant.id, email=email, password=DEMO_PASSWORD,
                                   display_name=f"{role.title()} {marker}", role=role.upper())
        headers[role] = await accounts.login(email, tenant=slug)
        users[role] = {"id": claims(headers[role])["sub"], "email": email}
    return World(slug=slug, marker=marker, tenant_id=str(tenant.id), headers=headers, users=users)


async def build_world(clients: dict[str, httpx.AsyncClient], accounts: Accounts, slug: str, marker: str, *,
                      run_generation: Callable[[], Awaitable[bool]]) -> World:
    """``tenant_with_people`` and, through the APIs, one of everything a route takes an id of: a system
    config value, an invitation, an AI configuration, a lesson with a thumbnail, a chapter (video group),
    an uploaded video with a transcript and a milestone, a question approved and answered (an attempt),
    the lesson published, a generation job run, telemetry (a progress session and progress), and the
    identity sessions of its people. ``run_generation`` runs one waiting generation job (False: none).
    Needs every service's worker and outbox relay running (assessment learns lessons from content's events,
    progress from analytics' telemetry …)."""
    world = await tenant_with_people(accounts, slug, marker)
    admin, teacher, student = (world.headers[r] for r in ("admin", "teacher", "student"))
    identity, content, assessment, progress, analytics = (clients[s] for s in (
        "identity", "content", "assessment", "progress", "analytics"))
    ids = world.ids
    ids["tenant_id"] = world.tenant_id
    ids["user_id"] = world.users["student"]["id"]

    world.texts["config"] = f"{4000 + int(marker[:4], 16) % 999}.17"  # a budget no other organisation sets
    _ok(await identity.put("/v1/system-configs/ai.monthlyBudgetUsd", headers=admin,
                           json={"value": world.texts["config"]}))
    world.texts["invitee"] = f"invitee-{marker}@{slug}.example"
    _ok(await identity.post("/v1/invitations", headers=admin, json={"email": world.texts["invitee"],
                                                                    "role": "STUDENT"}))
    configuration = _ok(await assessment.post("/v1/ai-configurations", headers=admin, json={
        "name": f"Offline {marker}", "provider": "OFFLINE", "model": "cuepoint-offline-2", "is_active": True}))
    ids["configuration_id"] = configuration["id"]

    lesson = _ok(await content.post("/v1/lessons", headers=teacher, json={
        "title": f"Photosynthesis {marker}", "description": f"How plants eat light {marker}", "tags": [marker]}))
    ids["lesson_id"] = lesson["id"]
    with_thumbnail = _ok(await content.put(f"/v1/lessons/{lesson['id']}/thumbnail", headers={
        **teacher, "Content-Type": "image/png"}, content=thumbnail_png()))
    ids["file_name"] = with_thumbnail["thumbnail"].rsplit("/", 1)[-1]
    group = _ok(await content.post(f"/v1/lessons/{lesson['id']}/video-groups", headers=teacher,
                                   json={"title": f"Chapter {marker}"}))
    ids["group_id"] = group["id"]
    data = _clip()
    upload = _ok(await content.post(f"/v1/lessons/{lesson['id']}/videos", headers=teacher, json={
        "title": f"Leaves {marker}", "content_type": "video/mp4", "size_bytes": len(data), "duration_seconds": 30,
        "video_group_id": group["id"],
        "checksum_crc32c": base64.b64encode(google_crc32c.Checksum(data).digest()).decode()}))
    async with httpx.AsyncClient() as storage:  # straight to storage, as a browser would
        _ok(await storage.put(upload["upload_url"], content=data, headers={"Content-Type": "video/mp4"}), 200, 201)
    video = _ok(await content.post(f"/v1/videos/{upload['video_id']}/complete", headers=teacher))
    ids["video_id"] = video["id"]
    _ok(await content.put(f"/v1/videos/{video['id']}/transcripts/en", headers=teacher,
                          json={"format": "vtt", "content": VTT.format(marker=marker)}))
    ids["language"] = "en"
    milestone = _ok(await content.post(f"/v1/videos/{video['id']}/milestones", headers=teacher, json={
        "timestamp": 12.0, "title": f"Gas exchange {marker}", "is_required": False}))
    ids["milestone_id"] = milestone["id"]

    # assessment learns the lesson and its milestone from content's events.
    await _until("assessment seeing the milestone", lambda: _status(assessment.put(
        f"/v1/milestones/{milestone['id']}/policy", headers=teacher, json={"max_attempts": 3}), 200))
    question = _ok(await assessment.post("/v1/questions", headers=teacher, json={
        "lesson_id": lesson["id"], "milestone_id": milestone["id"], "prompt": f"Where does it happen? {marker}",
        "explanation": f"Chloroplasts {marker}", "approve": True,
        "content": {"type": "MULTIPLE_CHOICE", "options": [{"id": "a", "text": f"Chloroplasts {marker}"},
                                                           {"id": "b", "text": "Mitochondria"}],
                    "correct_option_ids": ["a"]}}))
    ids["question_id"] = question["id"]
    _ok(await content.post(f"/v1/lessons/{lesson['id']}/publish", headers=teacher))

    job = _ok(await assessment.post("/v1/generation-jobs", headers=teacher, json={
        "lesson_id": lesson["id"], "count_per_milestone": 1, "types": ["TRUE_FALSE"]}))
    ids["job_id"] = job["id"]

    async def job_done() -> bool:
        await run_generation()
        found = _ok(await assessment.get(f"/v1/generation-jobs/{job['id']}", headers=teacher))
        return found["status"] in ("SUCCEEDED", "FAILED")

    await _until("the generation job", job_done)

    # The student: telemetry (a progress session, progress) and an answer, once assessment saw the publication.
    device = f"laptop-{marker}"
    agent = {"User-Agent": f"Browser/{marker}"}
    _ok(await analytics.post("/v1/events", headers={**student, **agent}, json={"device_id": device, "events": [
        {"type": "video.heartbeat", "lesson_id": lesson["id"], "video_id": video["id"], "position": 10,
         "played": [{"start": 0, "end": 10}]},
        {"type": "question.shown", "lesson_id": lesson["id"], "question_id": question["id"],
         "milestone_id": milestone["id"]}]}))

    async def answered() -> Any:
        response = await assessment.post(f"/v1/questions/{question['id']}/attempts", headers=student,
                                         json={"answer": {"option_ids": ["b"]}, "time_taken_ms": 4000})
        return response.json() if response.status_code in (200, 201) else None

    attempt = await _until("assessment seeing the publication", answered)
    ids["attempt_id"] = attempt["attempt_id"]

    async def progressed() -> bool:
        resume = await progress.get("/v1/resume", headers=student, params={"lesson_id": lesson["id"]})
        return resume.status_code == 200 and (resume.json().get("position") or 0) >= 10

    await _until("progress projecting the student", progressed)
    sessions = _ok(await progress.get("/v1/sessions", headers=student))
    ids["progress_session_id"] = sessions["items"][0]["id"]
    ids["identity_session_id"] = _ok(await identity.get("/v1/auth/sessions", headers=student))[0]["id"]
    # A data export the student asked for (it need not be assembled: its id is what A's people try).
    ids["export_id"] = _ok(await identity.post("/v1/users/me/exports", headers=student))["id"]
    world.texts["device"] = device
    return world


async def _status(request: Awaitable[httpx.Response], wanted: int) -> bool:
    return (await request).status_code == wanted


def new_marker() -> str:
    return uuid.uuid4().hex[:12]

"""Authoring, uploads through the real GCS client, publishing, isolation, the seed's lookup."""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import subprocess
import tempfile
import threading
import uuid
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

import httpx
import psycopg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from faststream.kafka import KafkaBroker

from cuepoint.content.bootstrap import consumers
from cuepoint.contracts.assessment import GeneratedQuestion, QuestionApproved, QuestionsGenerated
from cuepoint.contracts.envelope import new_envelope
from cuepoint.runtime import db
from cuepoint.runtime.consumer import DeadLetters
from cuepoint.runtime.outbox import OutboxRelay
from tests.support.accounts import Accounts
from tests.support.platform import Infra, eventually

pytestmark = pytest.mark.integration



@cache
def clip(seconds: float = 120.0) -> bytes:
    """A real MP4 (ffprobe must read what is uploaded), tiny: 64×48 at one frame a second."""
    assert shutil.which("ffmpeg") and shutil.which("ffprobe"), "make infra installs Debian's ffmpeg"
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "clip.mp4"
        subprocess.run(["ffmpeg", "-loglevel", "error", "-f", "lavfi", "-i",
                        f"testsrc=duration={seconds}:size=64x48:rate=1", "-pix_fmt", "yuv420p", str(path)],
                       check=True, timeout=60)
        return path.read_bytes()


VIDEO = clip()
VTT = """WEBVTT

00:00:01.000 --> 00:00:04.000
Photosynthesis turns light into chemical energy.

intro-2
00:00:04.500 --> 00:00:09.000
It happens in the <b>chloroplasts</b>.
"""


async def _lesson(api, headers, title: str = "Photosynthesis") -> dict:
    response = await api.post("/v1/lessons", json={"title": title, "description": "How plants eat light",
                                                   "tags": ["biology"]}, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


async def _upload(api, headers, lesson_id, *, body: bytes | None = None, declared: int | None = None,
                  sent_type: str = "video/mp4", duration: float | None = 120.0) -> dict:
    body = clip(duration or 120.0) if body is None else body
    started = await api.post(f"/v1/lessons/{lesson_id}/videos", headers=headers, json={
        "title": "Chapter 1", "content_type": "video/mp4", "size_bytes": declared or len(body),
        "duration_seconds": duration})
    assert started.status_code == 201, started.text
    session = started.json()
    async with httpx.AsyncClient() as storage:  # straight to storage, as a browser would
        put = await storage.put(session["upload_url"], content=body, headers={"Content-Type": sent_type})
    assert put.status_code in (200, 201), put.text
    return session


async def test_upload_flow_and_every_rejection(api, accounts: Accounts, admin_connection) -> None:
    teacher = await accounts.login("teacher@example.com")
    lesson = await _lesson(api, teacher)

    session = await _upload(api, teacher, lesson["id"])
    assert session["upload_url"].startswith("http://127.0.0.1:")
    completed = await api.post(f"/v1/videos/{session['video_id']}/complete", headers=teacher)
    assert completed.status_code == 200, completed.text
    video = completed.json()
    assert video["status"] in ("UPLOADED", "READY") and video["metadata"]["size"] == len(VIDEO)
    assert video["metadata"]["checksum"] and video["metadata"]["content_type"] == "video/mp4"
    assert video["storage_path"].endswith(f"/videos/{session['video_id']}/original")
    assert (await api.post(f"/v1/videos/{session['video_id']}/complete", headers=teacher)).json() == video

    playback = (await api.get(f"/v1/videos/{session['video_id']}/playback", headers=teacher)).json()
    async with httpx.AsyncClient() as storage:
        assert (await storage.get(playback["url"])).content == VIDEO

    def start(**changes):
        return api.post(f"/v1/lessons/{lesson['id']}/videos", headers=teacher, json={
            "title": "x", "content_type": "video/mp4", "size_bytes": 100, **changes})
    wrong_type = await start(content_type="application/x-msdownload")
    assert wrong_type.status_code == 422 and "not accepted" in wrong_type.json()["detail"]
    too_big = await start(size_bytes=3 * 1024**3)
    assert too_big.status_code == 422 and "video.maxFileSize" in too_big.json()["detail"]
    elsewhere = await start(object_name="tenants/someone-else/videos/x/original")
    assert elsewhere.status_code == 422, "the client cannot choose where the object goes"

    nothing = await api.post(f"/v1/lessons/{lesson['id']}/videos", headers=teacher, json={
        "title": "never sent", "content_type": "video/mp4", "size_bytes": 10})
    missing = await api.post(f"/v1/videos/{nothing.json()['video_id']}/complete", headers=teacher)
    assert missing.status_code == 409

    mismatch = await _upload(api, teacher, lesson["id"], declared=len(VIDEO) + 5)
    wrong_size = await api.post(f"/v1/videos/{mismatch['video_id']}/complete", headers=teacher)
    assert wrong_size.status_code == 422 and "announced" in wrong_size.json()["detail"]
    retry = await api.post(f"/v1/videos/{mismatch['video_id']}/complete", headers=teacher)
    assert retry.status_code == 409, "a failed upload stays failed"

    # The session is bound to the announced type: another header on the upload changes nothing.
    disguised = await _upload(api, teacher, lesson["id"], sent_type="application/octet-stream")
    bound = await api.post(f"/v1/videos/{disguised['video_id']}/complete", headers=teacher)
    assert bound.status_code == 200 and bound.json()["metadata"]["content_type"] == "video/mp4"

    late = await _upload(api, teacher, lesson["id"])
    admin_connection.execute("UPDATE content.videos SET upload_expires_at = now() - interval '1 second' WHERE id = %s",
                             (late["video_id"],))
    expired = await api.post(f"/v1/videos/{late['video_id']}/complete", headers=teacher)
    assert expired.status_code == 410
    statuses = dict(admin_connection.execute("SELECT id::text, status FROM content.videos WHERE lesson_id = %s",
                                             (lesson["id"],)).fetchall())
    assert statuses[mismatch["video_id"]] == statuses[late["video_id"]] == "FAILED"

    student = await accounts.login("student@example.com")
    assert (await api.post(f"/v1/lessons/{lesson['id']}/videos", headers=student, json={
        "title": "x", "content_type": "video/mp4", "size_bytes": 10})).status_code == 403


async def test_milestones_and_transcripts_validate(api, accounts: Accounts) -> None:
    teacher = await accounts.login("teacher@example.com")
    lesson = await _lesson(api, teacher)
    session = await _upload(api, teacher, lesson["id"], duration=60.0)
    await api.post(f"/v1/videos/{session['video_id']}/complete", headers=teacher)
    path = f"/v1/videos/{session['video_id']}/milestones"
    first = await api.post(path, headers=teacher, json={"timestamp": 12.5, "title": "Check 1"})
    assert first.status_code == 201
    assert (await api.post(path, headers=teacher, json={"timestamp": 12.5, "title": "Same time"})).status_code == 409
    after_end = await api.post(path, headers=teacher, json={"timestamp": 61, "title": "Too late"})
    assert after_end.status_code == 422 and "after its end" in after_end.json()["detail"]
    moved = await api.patch(f"/v1/milestones/{first.json()['id']}", headers=teacher, json={"timestamp": 30})
    assert moved.json()["timestamp"] == 30

    url = f"/v1/videos/{session['video_id']}/transcripts/en"
    stored = await api.put(url, headers=teacher, json={"format": "vtt", "content": VTT})
    assert stored.status_code == 201 and stored.json()["segment_count"] == 2
    segments = (await api.get(url, headers=teacher)).json()["segments"]
    assert segments[1] == {"start": 4.5, "end": 9.0, "text": "It happens in the chloroplasts."}
    broken = await api.put(url, headers=teacher, json={"format": "vtt", "content": VTT.replace("00:00:04.500", "4.5s")})
    assert broken.status_code == 422 and broken.json()["line"] == 7 and "line 7" in broken.json()["detail"]
    srt = await api.put(f"/v1/videos/{session['video_id']}/transcripts/pt-BR", headers=teacher, json={
        "format": "srt", "content": "1\n00:00:01,000 --> 00:00:02,000\nOlá\n"})
    assert srt.status_code == 201


def _approve_a_question(admin_connection, milestone_id: str) -> None:
    """As content's projection of assessment's QuestionApproved leaves it."""
    admin_connection.execute("INSERT INTO content.questions (id, tenant_id, milestone_id, status) SELECT %s, "
                             "tenant_id, id, 'APPROVED' FROM content.milestones WHERE id = %s",
                             (uuid.uuid4(), milestone_id))


async def test_publishing_freezes_what_students_see(api, accounts: Accounts, admin_connection) -> None:
    teacher, student = await accounts.login("teacher@example.com"), await accounts.login("student@example.com")
    lesson = await _lesson(api, teacher, "Cell division")
    assert (await api.get(f"/v1/lessons/{lesson['id']}", headers=student)).status_code == 404, "drafts are hidden"
    assert (await api.post(f"/v1/lessons/{lesson['id']}/publish", headers=teacher)).status_code == 409
    session = await _upload(api, teacher, lesson["id"])
    await api.post(f"/v1/videos/{session['video_id']}/complete", headers=teacher)
    first = await api.post(f"/v1/videos/{session['video_id']}/milestones", headers=teacher,
                           json={"timestamp": 5, "title": "M1"})
    _approve_a_question(admin_connection, first.json()["id"])
    published = await api.post(f"/v1/lessons/{lesson['id']}/publish", headers=teacher)
    assert published.status_code == 200 and published.json()["version"] == 1

    await api.patch(f"/v1/lessons/{lesson['id']}", headers=teacher, json={"title": "Cell division (draft 2)"})
    second = await api.post(f"/v1/videos/{session['video_id']}/milestones", headers=teacher,
                            json={"timestamp": 9, "title": "M2"})
    _approve_a_question(admin_connection, second.json()["id"])
    seen = (await api.get(f"/v1/lessons/{lesson['id']}", headers=student)).json()
    assert seen["title"] == "Cell division" and seen["version"] == 1
    assert [m["title"] for m in seen["videos"][0]["milestones"]] == ["M1"]
    playback = (await api.get(f"/v1/videos/{session['video_id']}/playback", headers=student)).json()
    assert [m["title"] for m in playback["milestones"]] == ["M1"]
    # The playback lookup alone: the published version's milestones for the student, the draft's for
    # the author, each with its live approved-question count, in timestamp order.
    lookup = f"/v1/videos/{session['video_id']}/milestones"
    assert (await api.get(lookup, headers=student)).json() == [
        {"id": first.json()["id"], "timestamp": 5.0, "title": "M1", "is_required": True, "question_count": 1}]
    assert [(m["title"], m["question_count"]) for m in (await api.get(lookup, headers=teacher)).json()] == [
        ("M1", 1), ("M2", 1)]
    draft = (await api.get(f"/v1/lessons/{lesson['id']}", headers=teacher)).json()
    assert draft["title"] == "Cell division (draft 2)" and draft["has_unpublished_changes"] is True
    found = (await api.get("/v1/lessons", params={"q": "cel divison"}, headers=student)).json()
    assert [item["title"] for item in found["items"]] == ["Cell division"]

    await api.post(f"/v1/lessons/{lesson['id']}/publish", headers=teacher)
    seen = (await api.get(f"/v1/lessons/{lesson['id']}", headers=student)).json()
    assert seen["version"] == 2 and seen["title"] == "Cell division (draft 2)"
    await api.post(f"/v1/lessons/{lesson['id']}/archive", headers=teacher)
    assert (await api.get(f"/v1/lessons/{lesson['id']}", headers=student)).status_code == 404
    assert (await api.get(f"/v1/lessons/{lesson['id']}", headers=teacher)).json()["status"] == "ARCHIVED"


async def test_another_tenant_sees_nothing(api, accounts: Accounts) -> None:
    teacher = await accounts.login("teacher@example.com")
    lesson = await _lesson(api, teacher, "Tenant A only")
    session = await _upload(api, teacher, lesson["id"])
    await api.post(f"/v1/videos/{session['video_id']}/complete", headers=teacher)
    await api.post(f"/v1/lessons/{lesson['id']}/publish", headers=teacher)
    other = await accounts.tenant_with_users("other-school")
    for role in ("student", "teacher", "admin"):
        headers = other[role]
        assert (await api.get(f"/v1/lessons/{lesson['id']}", headers=headers)).status_code == 404
        assert (await api.get(f"/v1/videos/{session['video_id']}/playback", headers=headers)).status_code == 404
        assert (await api.get(f"/v1/videos/{session['video_id']}/milestones", headers=headers)).status_code == 404
        assert (await api.get("/v1/lessons", params={"q": "Tenant A"}, headers=headers)).json()["total"] == 0
    admin = other["admin"]
    assert (await api.patch(f"/v1/lessons/{lesson['id']}", headers=admin, json={"title": "x"})).status_code == 404
    assert (await api.post(f"/v1/videos/{session['video_id']}/milestones", headers=admin,
                           json={"timestamp": 1, "title": "x"})).status_code == 404
    assert (await api.post(f"/v1/lessons/{lesson['id']}/publish", headers=admin)).status_code == 404
    another_teacher = await accounts.login("admin@example.com")
    assert (await api.get(f"/v1/lessons/{lesson['id']}", headers=another_teacher)).status_code == 200


async def test_video_uploaded_once_and_the_seed_lookup_with_the_projection(
    api, accounts: Accounts, content_context, infra: Infra, admin_connection
) -> None:
    teacher = await accounts.login("teacher@example.com")
    lesson = await _lesson(api, teacher, "Kafka for biologists")
    session = await _upload(api, teacher, lesson["id"])
    for _ in range(3):
        await api.post(f"/v1/videos/{session['video_id']}/complete", headers=teacher)
    video_id = session["video_id"]
    milestones = [(await api.post(f"/v1/videos/{video_id}/milestones", headers=teacher,
                                  json={"timestamp": t, "title": f"At {t}"})).json() for t in (30, 10, 20)]
    tenant_id = admin_connection.execute("SELECT tenant_id FROM content.lessons WHERE id = %s",
                                         (lesson["id"],)).fetchone()[0]

    # Assessment's events, as assessment publishes them, through content's real consumer.
    questions = [uuid.uuid4() for _ in range(4)]
    by_milestone = [milestones[0]["id"], milestones[0]["id"], milestones[1]["id"], milestones[2]["id"]]
    generated = QuestionsGenerated(job_id=uuid.uuid4(), lesson_id=lesson["id"], provider="OFFLINE", model="rules",
                                   questions=[GeneratedQuestion(question_id=q, milestone_id=m, type="TRUE_FALSE",
                                                                status="PENDING_REVIEW")
                                              for q, m in zip(questions, by_milestone, strict=True)])
    approvals = [QuestionApproved(question_id=q, milestone_id=m, lesson_id=lesson["id"], type="TRUE_FALSE", points=1)
                 for q, m in zip(questions[:3], by_milestone[:3], strict=True)]
    topic = infra.topic_prefix + "assessment.events"
    producer = AIOKafkaProducer(bootstrap_servers=infra.bootstrap_servers, acks="all", enable_idempotence=True)
    await producer.start()
    # Generated before approved (as in life), but delivered the other way round: order must not matter.
    envelopes = [new_envelope(event, tenant_id=tenant_id, producer="assessment") for event in [generated, *approvals]]
    try:
        for envelope in [*envelopes[1:], envelopes[0]]:
            await producer.send_and_wait(topic, envelope.model_dump_json().encode(), key=envelope.key.encode(),
                                         headers=[(k, v.encode()) for k, v in envelope.headers().items()])
    finally:
        await producer.stop()

    stop = asyncio.Event()
    relay = OutboxRelay(dsn=db.libpq_dsn(content_context.settings.runtime_database_url), schema="content",
                        bootstrap_servers=infra.bootstrap_servers, poll_interval=0.3)
    relay_task = asyncio.create_task(relay.run(stop))
    broker = KafkaBroker(infra.bootstrap_servers, acks="all", enable_idempotence=True)
    dead_letters = DeadLetters(infra.bootstrap_servers, client_id="content-test")
    consumers(content_context, broker, dead_letters)
    await broker.start()
    try:
        await eventually(lambda: _ready(admin_connection.execute(
            "SELECT count(*), count(*) FILTER (WHERE status = 'APPROVED') FROM content.questions WHERE id = ANY(%s)",
            (questions,)).fetchone() == (4, 3)),
            timeout=60, message="the questions projection was not fed")
        await eventually(lambda: _ready(admin_connection.execute(
            "SELECT count(*) FROM content.outbox WHERE published_at IS NULL").fetchone()[0] == 0), timeout=30,
            message="content's outbox was not relayed")
    finally:
        await broker.stop()
        await dead_letters.close()
        stop.set()
        await relay_task

    # The seed's query, verbatim (plus GROUP BY), as the content service's own role.
    seed_query = """
SELECT
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
ORDER BY m.timestamp ASC;
"""
    with psycopg.connect(db.libpq_dsn(content_context.settings.runtime_database_url)) as connection:
        connection.execute("SELECT set_config('app.tenant_id', %s, true)", (str(tenant_id),))
        rows = connection.execute(seed_query.replace("$1", "%s"), (video_id,)).fetchall()
    assert [(r[1], r[2], r[4]) for r in rows] == [(10.0, "At 10", 1), (20.0, "At 20", 0), (30.0, "At 30", 2)]
    assert (await api.get(f"/v1/videos/{video_id}/milestones", headers=teacher)).json()[0]["question_count"] == 1

    consumer = AIOKafkaConsumer(infra.topic_prefix + "content.events", bootstrap_servers=infra.bootstrap_servers,
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    uploaded = []
    try:
        for _ in range(20):
            for records in (await consumer.getmany(timeout_ms=300)).values():
                uploaded += [json.loads(r.value) for r in records if dict(r.headers)["event_type"] ==
                             b"content.video.uploaded.v1" and r.key == video_id.encode()]
    finally:
        await consumer.stop()
    assert len(uploaded) == 1, f"VideoUploaded published {len(uploaded)} times for three completes"
    assert uploaded[0]["data"]["size_bytes"] == len(VIDEO) and uploaded[0]["data"]["lesson_id"] == lesson["id"]


async def _ready(value: object) -> object:
    return value


async def test_missing_storage_configuration_is_a_clear_503(content_settings, accounts: Accounts, monkeypatch) -> None:
    from cuepoint.content.bootstrap import spec
    from cuepoint.runtime.service import ServiceContext, build_app

    import os

    assert os.environ["NO_GCE_CHECK"] == "True", "google-auth must not probe the GCE metadata server"
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    settings = content_settings.model_copy(update={"storage_emulator_host": None})
    context = ServiceContext("content", settings)
    context.__dict__["verifier"] = accounts.verifier()
    teacher = await accounts.login("teacher@example.com")
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=build_app(spec(), context)),
                                     base_url="http://content") as api:
            assert (await api.get("/healthz")).status_code == 200
            lesson = await _lesson(api, teacher, "No storage")
            response = await api.post(f"/v1/lessons/{lesson['id']}/videos", headers=teacher, json={
                "title": "x", "content_type": "video/mp4", "size_bytes": 10})
    finally:
        await context.close()
    assert response.status_code == 503, response.text
    assert "STORAGE_EMULATOR_HOST" in response.json()["detail"]


def _crc32c(data: bytes) -> str:
    import base64

    import google_crc32c

    return base64.b64encode(google_crc32c.Checksum(data).digest()).decode()


async def test_a_checksum_mismatch_fails_the_upload(api, accounts: Accounts) -> None:
    teacher = await accounts.login("teacher@example.com")
    lesson = await _lesson(api, teacher, "Checksums")
    for announced, expected_status in ((_crc32c(VIDEO), 200), (_crc32c(VIDEO + b"!"), 422)):
        started = await api.post(f"/v1/lessons/{lesson['id']}/videos", headers=teacher, json={
            "title": "x", "content_type": "video/mp4", "size_bytes": len(VIDEO), "checksum_crc32c": announced})
        async with httpx.AsyncClient() as storage:
            await storage.put(started.json()["upload_url"], content=VIDEO, headers={"Content-Type": "video/mp4"})
        completed = await api.post(f"/v1/videos/{started.json()['video_id']}/complete", headers=teacher)
        assert completed.status_code == expected_status, completed.text
    assert "CRC32C" in completed.json()["detail"]


async def test_ffprobe_reads_duration_and_resolution(api, accounts: Accounts, tmp_path) -> None:
    import shutil
    import subprocess

    assert shutil.which("ffmpeg") and shutil.which("ffprobe"), "make infra installs Debian's ffmpeg"
    clip = tmp_path / "clip.mp4"
    subprocess.run(["ffmpeg", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=duration=2:size=320x240:rate=10",
                    "-pix_fmt", "yuv420p", str(clip)], check=True, timeout=60)
    body = clip.read_bytes()
    teacher = await accounts.login("teacher@example.com")
    lesson = await _lesson(api, teacher, "Probed")
    session = await _upload(api, teacher, lesson["id"], body=body, duration=None)
    video = (await api.post(f"/v1/videos/{session['video_id']}/complete", headers=teacher)).json()
    assert video["status"] == "READY"
    assert abs(video["duration"] - 2.0) < 0.2
    assert (video["metadata"]["width"], video["metadata"]["height"]) == (320, 240)
    assert video["metadata"]["codec"]
    late = await api.post(f"/v1/videos/{session['video_id']}/milestones", headers=teacher,
                          json={"timestamp": 3, "title": "After the end"})
    assert late.status_code == 422


class Listener:
    """A TCP port that counts who connects: where a playlist would send ffprobe."""

    def __init__(self) -> None:
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]
        self.connections = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.socket.accept()
            except OSError:
                return
            self.connections += 1
            connection.close()


async def test_a_playlist_posing_as_mp4_is_refused_and_fetches_nothing(api, accounts: Accounts,
                                                                        admin_connection) -> None:
    listener = Listener()
    try:
        playlist = (f"#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:10\n#EXTINF:10.0,\n"
                    f"http://127.0.0.1:{listener.port}/segment.ts\n#EXT-X-ENDLIST\n").encode()
        teacher = await accounts.login("teacher@example.com")
        lesson = await _lesson(api, teacher, "Playlists")
        session = await _upload(api, teacher, lesson["id"], body=playlist)
        refused = await api.post(f"/v1/videos/{session['video_id']}/complete", headers=teacher)
        await asyncio.sleep(0.5)
        assert listener.connections == 0, "ffprobe followed the playlist's URL"
    finally:
        listener.socket.close()
    assert refused.status_code == 422, refused.text
    assert "this file is not a video ffprobe can read" in refused.json()["detail"]
    status = admin_connection.execute("SELECT status FROM content.videos WHERE id = %s",
                                      (session["video_id"],)).fetchone()[0]
    assert status == "FAILED"


async def test_random_bytes_declared_as_mp4_are_refused(api, accounts: Accounts, admin_connection) -> None:
    import os

    teacher = await accounts.login("teacher@example.com")
    lesson = await _lesson(api, teacher, "Noise")
    session = await _upload(api, teacher, lesson["id"], body=os.urandom(64 * 1024))
    refused = await api.post(f"/v1/videos/{session['video_id']}/complete", headers=teacher)
    assert refused.status_code == 422, refused.text
    assert "this file is not a video ffprobe can read" in refused.json()["detail"]
    assert (await api.post(f"/v1/videos/{session['video_id']}/complete", headers=teacher)).status_code == 409
    status = admin_connection.execute("SELECT status FROM content.videos WHERE id = %s",
                                      (session["video_id"],)).fetchone()[0]
    assert status == "FAILED"


async def test_captions_as_webvtt_for_authors_and_students_of_the_published_lesson(api, accounts: Accounts) -> None:
    from cuepoint.content.domain.transcripts import parse

    teacher, student = await accounts.login("teacher@example.com"), await accounts.login("student@example.com")
    lesson = await _lesson(api, teacher, "Captions")
    session = await _upload(api, teacher, lesson["id"], duration=60.0)
    video_id = session["video_id"]
    await api.post(f"/v1/videos/{video_id}/complete", headers=teacher)
    assert (await api.put(f"/v1/videos/{video_id}/transcripts/en", headers=teacher,
                          json={"format": "vtt", "content": VTT})).status_code == 201
    assert (await api.put(f"/v1/videos/{video_id}/transcripts/pt-BR", headers=teacher, json={
        "format": "srt", "content": "1\n00:00:01,000 --> 00:00:02,500\nLuz & energia\n"})).status_code == 201

    captions = await api.get(f"/v1/videos/{video_id}/transcripts/en.vtt", headers=teacher)
    assert captions.status_code == 200, captions.text
    assert captions.headers["content-type"] == "text/vtt; charset=utf-8"
    assert captions.text.startswith("WEBVTT\n\n")
    assert "00:00:01.000 --> 00:00:04.000\nPhotosynthesis turns light into chemical energy.\n" in captions.text
    assert "00:00:04.500 --> 00:00:09.000\nIt happens in the chloroplasts.\n" in captions.text
    segments = (await api.get(f"/v1/videos/{video_id}/transcripts/en", headers=teacher)).json()["segments"]
    assert [(s.start, s.end, s.text) for s in parse(captions.text, "vtt")] == [
        (s["start"], s["end"], s["text"]) for s in segments]
    srt_as_vtt = (await api.get(f"/v1/videos/{video_id}/transcripts/pt-BR.vtt", headers=teacher)).text
    assert srt_as_vtt == "WEBVTT\n\n00:00:01.000 --> 00:00:02.500\nLuz &amp; energia\n\n"
    assert (await api.get(f"/v1/videos/{video_id}/transcripts/fr.vtt", headers=teacher)).status_code == 404

    tracks = (await api.get(f"/v1/videos/{video_id}/playback", headers=teacher)).json()["captions"]
    assert tracks == [
        {"language": "en", "label": "English", "path": f"/v1/videos/{video_id}/transcripts/en.vtt"},
        {"language": "pt-BR", "label": "Portuguese (Brazil)", "path": f"/v1/videos/{video_id}/transcripts/pt-BR.vtt"}]
    assert (await api.get(tracks[0]["path"], headers=teacher)).text == captions.text

    refused = await api.get(f"/v1/videos/{video_id}/transcripts/en.vtt", headers=student)
    assert refused.status_code == 404, "a draft lesson's captions are hidden from students"
    assert refused.headers["content-type"] == "application/problem+json"
    assert (await api.get(f"/v1/videos/{video_id}/transcripts/en.vtt")).status_code == 401

    assert (await api.post(f"/v1/lessons/{lesson['id']}/publish", headers=teacher)).status_code == 200
    allowed = await api.get(f"/v1/videos/{video_id}/transcripts/en.vtt", headers=student)
    assert allowed.status_code == 200 and allowed.text == captions.text
    assert (await api.get(f"/v1/videos/{video_id}/playback", headers=student)).json()["captions"] == tracks

    # A video added after publishing is still a draft, even in a published lesson.
    later = await _upload(api, teacher, lesson["id"], duration=60.0)
    await api.post(f"/v1/videos/{later['video_id']}/complete", headers=teacher)
    await api.put(f"/v1/videos/{later['video_id']}/transcripts/en", headers=teacher,
                  json={"format": "vtt", "content": VTT})
    assert (await api.get(f"/v1/videos/{later['video_id']}/transcripts/en.vtt", headers=teacher)).status_code == 200
    assert (await api.get(f"/v1/videos/{later['video_id']}/transcripts/en.vtt", headers=student)).status_code == 404
    assert (await api.get(f"/v1/videos/{later['video_id']}/transcripts/en", headers=student)).status_code == 404
    without = await _upload(api, teacher, lesson["id"])
    await api.post(f"/v1/videos/{without['video_id']}/complete", headers=teacher)
    assert (await api.get(f"/v1/videos/{without['video_id']}/playback", headers=teacher)).json()["captions"] == []


def _resolve(document: dict, schema: dict) -> dict:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


async def test_the_document_describes_captions_pages_and_playback(api) -> None:
    """(That every route describes its answer is checked for all services in tests/contracts/test_openapi.py.)"""
    document = (await api.get("/openapi.json")).json()
    vtt = document["paths"]["/v1/videos/{video_id}/transcripts/{language}.vtt"]["get"]["responses"]["200"]
    assert list(vtt["content"]) == ["text/vtt"]
    page = _resolve(document, document["paths"]["/v1/lessons"]["get"]["responses"]["200"]["content"][
        "application/json"]["schema"])
    assert set(page["required"]) == {"items", "total", "limit", "offset"}
    playback = document["components"]["schemas"]["Playback"]
    assert {"captions", "milestones", "expires_at"} <= set(playback["required"])


RFC3339_UTC = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$"


async def test_timestamps_are_rfc3339_in_utc(api, accounts: Accounts, admin_connection) -> None:
    import re

    teacher, student = await accounts.login("teacher@example.com"), await accounts.login("student@example.com")
    title = f"Timestamps {uuid.uuid4().hex[:8]}"
    lesson = await _lesson(api, teacher, title)
    assert re.match(RFC3339_UTC, lesson["updated_at"]) and lesson["published_at"] is None
    session = await _upload(api, teacher, lesson["id"])
    assert re.match(RFC3339_UTC, session["expires_at"])
    await api.post(f"/v1/videos/{session['video_id']}/complete", headers=teacher)
    published = (await api.post(f"/v1/lessons/{lesson['id']}/publish", headers=teacher)).json()
    assert re.match(RFC3339_UTC, published["published_at"]), published["published_at"]
    assert re.match(RFC3339_UTC, published["updated_at"]), published["updated_at"]
    assert published["has_unpublished_changes"] is False, "the author's answer: the draft is what students see"
    stored = admin_connection.execute("SELECT snapshot->>'published_at', snapshot->>'updated_at' FROM "
                                      "content.lesson_versions WHERE lesson_id = %s", (lesson["id"],)).fetchone()
    assert all(re.match(RFC3339_UTC, value) for value in stored), f"the snapshot stores {stored}"

    for who in (teacher, student):
        listed = (await api.get("/v1/lessons", params={"q": title}, headers=who)).json()["items"]
        assert [item["id"] for item in listed] == [lesson["id"]]
        assert re.match(RFC3339_UTC, listed[0]["published_at"]) and re.match(RFC3339_UTC, listed[0]["updated_at"])
    playback = (await api.get(f"/v1/videos/{session['video_id']}/playback", headers=student)).json()
    assert re.match(RFC3339_UTC, playback["expires_at"])

    # Versions published before this format was fixed still answer RFC 3339.
    admin_connection.execute("UPDATE content.lesson_versions SET snapshot = snapshot || jsonb_build_object("
                             "'published_at', '2026-12-02 07:42:49.295562+00:00') WHERE lesson_id = %s",
                             (lesson["id"],))
    seen = (await api.get(f"/v1/lessons/{lesson['id']}", headers=student)).json()
    assert seen["published_at"] == "2026-12-02T07:42:49.295562Z"


async def test_a_patch_cannot_null_what_must_have_a_value(api, accounts: Accounts) -> None:
    teacher = await accounts.login("teacher@example.com")
    lesson = await _lesson(api, teacher, "Nulls")
    for field in ("title", "description", "tags", "metadata", "seek_policy", "auto_generate_questions"):
        refused = await api.patch(f"/v1/lessons/{lesson['id']}", headers=teacher, json={field: None})
        assert refused.status_code == 422, (field, refused.text)
        assert field in refused.text
    await api.patch(f"/v1/lessons/{lesson['id']}", headers=teacher, json={"thumbnail": "https://example.com/a.png"})
    cleared = await api.patch(f"/v1/lessons/{lesson['id']}", headers=teacher, json={"thumbnail": None})
    assert cleared.status_code == 200 and cleared.json()["thumbnail"] is None
    group = (await api.post(f"/v1/lessons/{lesson['id']}/video-groups", headers=teacher, json={"title": "G"})).json()
    assert (await api.patch(f"/v1/video-groups/{group['id']}", headers=teacher,
                            json={"position": None})).status_code == 422
    session = await _upload(api, teacher, lesson["id"])
    await api.post(f"/v1/videos/{session['video_id']}/complete", headers=teacher)
    milestone = (await api.post(f"/v1/videos/{session['video_id']}/milestones", headers=teacher,
                                json={"timestamp": 1, "title": "M"})).json()
    assert (await api.patch(f"/v1/milestones/{milestone['id']}", headers=teacher,
                            json={"timestamp": None})).status_code == 422


def _events(admin_connection, event_type: str, key: str) -> list[dict]:
    rows = admin_connection.execute("SELECT value FROM content.outbox WHERE event_type = %s AND key = %s ORDER BY id",
                                    (event_type, key)).fetchall()
    return [json.loads(row[0])["data"] for row in rows]


async def test_an_abandoned_upload_expires_instead_of_blocking_publishing(api, accounts: Accounts,
                                                                         admin_connection) -> None:
    teacher = await accounts.login("teacher@example.com")
    lesson = await _lesson(api, teacher, "Abandoned uploads")
    done = await _upload(api, teacher, lesson["id"])
    await api.post(f"/v1/videos/{done['video_id']}/complete", headers=teacher)
    abandoned = (await api.post(f"/v1/lessons/{lesson['id']}/videos", headers=teacher, json={
        "title": "Never finished", "content_type": "video/mp4", "size_bytes": 10})).json()
    still = await api.post(f"/v1/lessons/{lesson['id']}/publish", headers=teacher)
    assert still.status_code == 409 and "still uploading: Never finished" in still.json()["detail"]

    admin_connection.execute("UPDATE content.videos SET upload_expires_at = now() - interval '1 second' WHERE id = %s",
                             (abandoned["video_id"],))
    draft = (await api.get(f"/v1/lessons/{lesson['id']}", headers=teacher)).json()
    assert {v["id"]: v["status"] for v in draft["videos"]}[abandoned["video_id"]] == "EXPIRED"
    [excluded] = draft["excluded_videos"]
    assert excluded["video_id"] == abandoned["video_id"] and excluded["status"] == "EXPIRED"
    assert "expired" in excluded["reason"] and "delete it" in excluded["reason"]

    published = await api.post(f"/v1/lessons/{lesson['id']}/publish", headers=teacher)
    assert published.status_code == 200, published.text
    assert [v["id"] for v in published.json()["videos"]] == [done["video_id"]]
    assert [v["video_id"] for v in published.json()["excluded_videos"]] == [abandoned["video_id"]]
    student = await accounts.login("student@example.com")
    seen = (await api.get(f"/v1/lessons/{lesson['id']}", headers=student)).json()
    assert [v["id"] for v in seen["videos"]] == [done["video_id"]] and seen["excluded_videos"] == []

    assert (await api.delete(f"/v1/videos/{abandoned['video_id']}", headers=teacher)).status_code == 204
    draft = (await api.get(f"/v1/lessons/{lesson['id']}", headers=teacher)).json()
    assert [v["id"] for v in draft["videos"]] == [done["video_id"]] and draft["excluded_videos"] == []
    assert (await api.delete(f"/v1/videos/{abandoned['video_id']}", headers=teacher)).status_code == 404
    assert (await api.post(f"/v1/videos/{abandoned['video_id']}/complete", headers=teacher)).status_code == 404
    assert _events(admin_connection, "content.video.deleted.v1", abandoned["video_id"]) == [{
        "video_id": abandoned["video_id"], "lesson_id": lesson["id"], "milestone_ids": [],
        "in_published_version": False}]


async def test_deleting_a_published_video_changes_only_the_draft(api, accounts: Accounts, admin_connection) -> None:
    teacher, student = await accounts.login("teacher@example.com"), await accounts.login("student@example.com")
    lesson = await _lesson(api, teacher, "Deleting published videos")
    first, second = (await _upload(api, teacher, lesson["id"]), await _upload(api, teacher, lesson["id"]))
    for session in (first, second):
        await api.post(f"/v1/videos/{session['video_id']}/complete", headers=teacher)
    milestone = (await api.post(f"/v1/videos/{first['video_id']}/milestones", headers=teacher,
                                json={"timestamp": 5, "title": "M", "is_required": False})).json()
    assert (await api.post(f"/v1/lessons/{lesson['id']}/publish", headers=teacher)).status_code == 200

    other = (await accounts.tenant_with_users("deleting-elsewhere"))["admin"]
    assert (await api.delete(f"/v1/videos/{first['video_id']}", headers=other)).status_code == 404
    assert (await api.delete(f"/v1/videos/{first['video_id']}", headers=student)).status_code == 403
    assert (await api.delete(f"/v1/videos/{first['video_id']}", headers=teacher)).status_code == 204
    draft = (await api.get(f"/v1/lessons/{lesson['id']}", headers=teacher)).json()
    assert [v["id"] for v in draft["videos"]] == [second["video_id"]] and draft["has_unpublished_changes"]
    seen = (await api.get(f"/v1/lessons/{lesson['id']}", headers=student)).json()
    assert [v["id"] for v in seen["videos"]] == [first["video_id"], second["video_id"]], "the version is frozen"
    playback = (await api.get(f"/v1/videos/{first['video_id']}/playback", headers=student)).json()
    assert [m["id"] for m in playback["milestones"]] == [milestone["id"]]
    async with httpx.AsyncClient() as storage:
        assert (await storage.get(playback["url"])).content == clip(), "the published version's file is kept"
    assert _events(admin_connection, "content.video.deleted.v1", first["video_id"]) == [{
        "video_id": first["video_id"], "lesson_id": lesson["id"], "milestone_ids": [milestone["id"]],
        "in_published_version": True}]

    republished = (await api.post(f"/v1/lessons/{lesson['id']}/publish", headers=teacher)).json()
    assert [v["id"] for v in republished["videos"]] == [second["video_id"]]
    assert (await api.get(f"/v1/videos/{first['video_id']}/playback", headers=student)).status_code == 404


async def test_a_required_milestone_without_an_approved_question_blocks_publishing(api, accounts: Accounts,
                                                                                  admin_connection) -> None:
    teacher = await accounts.login("teacher@example.com")
    lesson = await _lesson(api, teacher, "Unanswerable")
    session = await _upload(api, teacher, lesson["id"])
    await api.post(f"/v1/videos/{session['video_id']}/complete", headers=teacher)
    required = (await api.post(f"/v1/videos/{session['video_id']}/milestones", headers=teacher,
                               json={"timestamp": 5, "title": "Mitosis check"})).json()
    await api.post(f"/v1/videos/{session['video_id']}/milestones", headers=teacher,
                   json={"timestamp": 8, "title": "Optional", "is_required": False})
    admin_connection.execute("INSERT INTO content.questions (id, tenant_id, milestone_id, status) SELECT %s, "
                             "tenant_id, id, 'PENDING_REVIEW' FROM content.milestones WHERE id = %s",
                             (uuid.uuid4(), required["id"]))
    refused = await api.post(f"/v1/lessons/{lesson['id']}/publish", headers=teacher)
    assert refused.status_code == 409 and refused.headers["content-type"] == "application/problem+json"
    assert "'Mitosis check'" in refused.json()["detail"] and "'Chapter 1'" in refused.json()["detail"]
    assert refused.json()["milestones"] == [{"milestone_id": required["id"], "title": "Mitosis check",
                                             "video_id": session["video_id"], "video_title": "Chapter 1"}]
    _approve_a_question(admin_connection, required["id"])
    assert (await api.post(f"/v1/lessons/{lesson['id']}/publish", headers=teacher)).status_code == 200


async def test_a_video_is_renamed_reordered_and_moved_between_chapters(api, accounts: Accounts,
                                                                       admin_connection) -> None:
    teacher, student = await accounts.login("teacher@example.com"), await accounts.login("student@example.com")
    lesson = await _lesson(api, teacher, "Rearranging")
    chapter = (await api.post(f"/v1/lessons/{lesson['id']}/video-groups", headers=teacher,
                              json={"title": "Part 1"})).json()
    session = await _upload(api, teacher, lesson["id"])
    await api.post(f"/v1/videos/{session['video_id']}/complete", headers=teacher)
    assert (await api.post(f"/v1/lessons/{lesson['id']}/publish", headers=teacher)).status_code == 200
    path = f"/v1/videos/{session['video_id']}"

    changed = await api.patch(path, headers=teacher, json={"title": "Mitosis", "position": 3,
                                                            "video_group_id": chapter["id"]})
    assert changed.status_code == 200, changed.text
    assert (changed.json()["title"], changed.json()["position"], changed.json()["video_group_id"]) == (
        "Mitosis", 3, chapter["id"])
    out_of_chapter = (await api.patch(path, headers=teacher, json={"video_group_id": None})).json()
    assert out_of_chapter["video_group_id"] is None and out_of_chapter["title"] == "Mitosis"
    assert (await api.patch(path, headers=teacher, json={"title": None})).status_code == 422
    elsewhere = await _lesson(api, teacher, "Another lesson")
    foreign = (await api.post(f"/v1/lessons/{elsewhere['id']}/video-groups", headers=teacher,
                              json={"title": "Not here"})).json()
    refused = await api.patch(path, headers=teacher, json={"video_group_id": foreign["id"]})
    assert refused.status_code == 422 and "another lesson" in refused.json()["detail"]
    assert (await api.patch(path, headers=student, json={"title": "x"})).status_code == 403

    seen = (await api.get(f"/v1/lessons/{lesson['id']}", headers=student)).json()
    assert seen["videos"][0]["title"] == "Chapter 1", "the published version is frozen"
    assert (await api.get(f"/v1/lessons/{lesson['id']}", headers=teacher)).json()["has_unpublished_changes"]
    updates = _events(admin_connection, "content.video.updated.v1", session["video_id"])
    assert updates == [
        {"video_id": session["video_id"], "lesson_id": lesson["id"], "video_group_id": chapter["id"],
         "title": "Mitosis", "position": 3},
        {"video_id": session["video_id"], "lesson_id": lesson["id"], "video_group_id": None,
         "title": "Mitosis", "position": 3}]


async def _another_teacher_of_demo(accounts: Accounts) -> dict[str, str]:
    identity = accounts.client._transport.app.state.identity  # noqa: SLF001
    demo = await identity.ensure_tenant(slug="demo", name="Demo")
    await identity.ensure_user(tenant_id=demo.id, email="second.teacher@example.com", password="Demo123!",
                               display_name="Second teacher", role="TEACHER")
    return await accounts.login("second.teacher@example.com")


async def test_published_versions_newest_first_with_their_counts(api, accounts: Accounts, admin_connection) -> None:
    teacher = await accounts.login("teacher@example.com")
    lesson = await _lesson(api, teacher, "Versioned")
    path = f"/v1/lessons/{lesson['id']}/versions"
    assert (await api.get(path, headers=teacher)).json() == {"items": [], "total": 0, "limit": 20, "offset": 0}

    first = await _upload(api, teacher, lesson["id"])
    await api.post(f"/v1/videos/{first['video_id']}/complete", headers=teacher)
    required = (await api.post(f"/v1/videos/{first['video_id']}/milestones", headers=teacher,
                               json={"timestamp": 5, "title": "Required"})).json()
    _approve_a_question(admin_connection, required["id"])
    optional = (await api.post(f"/v1/videos/{first['video_id']}/milestones", headers=teacher,
                               json={"timestamp": 9, "title": "Optional", "is_required": False})).json()
    assert (await api.post(f"/v1/lessons/{lesson['id']}/publish", headers=teacher)).status_code == 200

    await api.patch(f"/v1/lessons/{lesson['id']}", headers=teacher, json={"title": "Versioned, again"})
    second = await _upload(api, teacher, lesson["id"])
    await api.post(f"/v1/videos/{second['video_id']}/complete", headers=teacher)
    for timestamp in (3, 4):
        added = (await api.post(f"/v1/videos/{second['video_id']}/milestones", headers=teacher,
                                json={"timestamp": timestamp, "title": f"At {timestamp}"})).json()
        _approve_a_question(admin_connection, added["id"])
    await api.delete(f"/v1/milestones/{optional['id']}", headers=teacher)
    assert (await api.post(f"/v1/lessons/{lesson['id']}/publish", headers=teacher)).status_code == 200
    await api.patch(f"/v1/lessons/{lesson['id']}", headers=teacher, json={"title": "Draft 3, unpublished"})

    listed = await api.get(path, headers=teacher)
    assert listed.status_code == 200, listed.text
    page = listed.json()
    assert page["total"] == 2
    newest, oldest = page["items"]
    assert {key: newest[key] for key in newest if key != "published_at"} == {
        "version": 2, "title": "Versioned, again", "published_by_id": lesson["created_by_id"], "video_count": 2,
        "milestone_count": 3, "required_milestone_count": 3}
    assert {key: oldest[key] for key in oldest if key != "published_at"} == {
        "version": 1, "title": "Versioned", "published_by_id": lesson["created_by_id"], "video_count": 1,
        "milestone_count": 2, "required_milestone_count": 1}
    assert newest["published_at"].endswith("Z") and newest["published_at"] > oldest["published_at"]
    paged = (await api.get(path, params={"limit": 1, "offset": 1}, headers=teacher)).json()
    assert [item["version"] for item in paged["items"]] == [1] and paged["total"] == 2

    admin = await accounts.login("admin@example.com")
    assert [item["version"] for item in (await api.get(path, headers=admin)).json()["items"]] == [2, 1]
    changes = f"/v1/lessons/{lesson['id']}/changes"
    assert (await api.get(changes, headers=admin)).status_code == 200
    student, colleague = await accounts.login("student@example.com"), await _another_teacher_of_demo(accounts)
    for headers in (student, colleague):
        assert (await api.get(path, headers=headers)).status_code == 403
        assert (await api.get(changes, headers=headers)).status_code == 403
    other = await accounts.tenant_with_users("versions-elsewhere")
    for role in ("teacher", "admin"):
        assert (await api.get(path, headers=other[role])).status_code == 404
        assert (await api.get(changes, headers=other[role])).status_code == 404
    # A student is refused by role before any lesson is looked up: 403 says nothing of this one.
    assert (await api.get(path, headers=other["student"])).status_code == 403
    assert (await api.get(f"/v1/lessons/{uuid.uuid4()}/versions", headers=teacher)).status_code == 404


async def test_changes_name_what_publishing_would_change(api, accounts: Accounts) -> None:
    teacher = await accounts.login("teacher@example.com")
    lesson = await _lesson(api, teacher, "Diffed")
    path = f"/v1/lessons/{lesson['id']}/changes"

    async def changes() -> dict:
        response = await api.get(path, headers=teacher)
        assert response.status_code == 200, response.text
        return response.json()

    nothing = {"added": [], "removed": [], "changed": []}
    no_chapters = {"added": [], "removed": [], "renamed": []}
    unchanged = {"title": None, "description": None, "thumbnail": None, "seek_policy": None}

    chapter = (await api.post(f"/v1/lessons/{lesson['id']}/video-groups", headers=teacher,
                              json={"title": "Part 1"})).json()
    first = await _upload(api, teacher, lesson["id"])
    await api.post(f"/v1/videos/{first['video_id']}/complete", headers=teacher)
    milestone = (await api.post(f"/v1/videos/{first['video_id']}/milestones", headers=teacher,
                                json={"timestamp": 5, "title": "M1", "is_required": False})).json()
    uploading = (await api.post(f"/v1/lessons/{lesson['id']}/videos", headers=teacher, json={
        "title": "Still uploading", "content_type": "video/mp4", "size_bytes": 10})).json()

    never = await changes()
    assert never["base_version"] is None and never["has_changes"] is True
    assert never["lesson"] == {"title": {"before": None, "after": "Diffed"},
                               "description": {"before": None, "after": "How plants eat light"},
                               "thumbnail": None, "seek_policy": {"before": None, "after": "FREE"}}
    assert never["chapters"] == {**no_chapters, "added": [{"id": chapter["id"], "title": "Part 1", "position": 0}]}
    assert never["videos"] == {**nothing, "added": [{
        "id": first["video_id"], "title": "Chapter 1", "position": 0, "duration": 120.0, "chapter": None,
        "milestone_count": 1}]}, "only what publishing would include: not the upload in progress"
    assert never["milestones"] == {**nothing, "added": [{
        "id": milestone["id"], "video_id": first["video_id"], "video_title": "Chapter 1", "timestamp": 5.0,
        "title": "M1", "is_required": False}]}

    assert (await api.post(f"/v1/lessons/{lesson['id']}/publish", headers=teacher)).status_code == 409
    await api.delete(f"/v1/videos/{uploading['video_id']}", headers=teacher)
    assert (await api.post(f"/v1/lessons/{lesson['id']}/publish", headers=teacher)).status_code == 200
    published = await changes()
    assert published == {"lesson_id": lesson["id"], "base_version": 1, "has_changes": False, "lesson": unchanged,
                         "chapters": no_chapters, "videos": nothing, "milestones": nothing}

    await api.patch(f"/v1/lessons/{lesson['id']}", headers=teacher, json={
        "title": "Diffed, edited", "thumbnail": "https://example.com/t.png", "seek_policy": "NO_SKIP_AHEAD"})
    edited = await changes()
    assert edited["has_changes"] is True and edited["lesson"] == {
        "title": {"before": "Diffed", "after": "Diffed, edited"}, "description": None,
        "thumbnail": {"before": None, "after": "https://example.com/t.png"},
        "seek_policy": {"before": "FREE", "after": "NO_SKIP_AHEAD"}}
    assert edited["videos"] == nothing and edited["milestones"] == nothing and edited["chapters"] == no_chapters

    await api.patch(f"/v1/videos/{first['video_id']}", headers=teacher, json={
        "title": "Mitosis", "position": 5, "video_group_id": chapter["id"]})
    await api.patch(f"/v1/video-groups/{chapter['id']}", headers=teacher, json={"title": "Part One"})
    later = (await api.post(f"/v1/lessons/{lesson['id']}/video-groups", headers=teacher,
                            json={"title": "Part 2"})).json()
    moved = await changes()
    assert moved["videos"] == {**nothing, "changed": [{"id": first["video_id"], "title": "Mitosis", "changes": {
        "title": {"before": "Chapter 1", "after": "Mitosis"}, "position": {"before": 0, "after": 5},
        "chapter": {"before": None, "after": {"id": chapter["id"], "title": "Part One"}}, "duration": None}}]}
    assert moved["chapters"] == {"added": [{"id": later["id"], "title": "Part 2", "position": 1}], "removed": [],
                                 "renamed": [{"id": chapter["id"], "title": {"before": "Part 1", "after": "Part One"}}]}

    await api.patch(f"/v1/milestones/{milestone['id']}", headers=teacher, json={"timestamp": 7, "title": "M1 later"})
    added = (await api.post(f"/v1/videos/{first['video_id']}/milestones", headers=teacher,
                            json={"timestamp": 20, "title": "M2", "is_required": False})).json()
    second = await _upload(api, teacher, lesson["id"])
    await api.post(f"/v1/videos/{second['video_id']}/complete", headers=teacher)
    grown = await changes()
    assert grown["milestones"] == {"added": [{
        "id": added["id"], "video_id": first["video_id"], "video_title": "Mitosis", "timestamp": 20.0, "title": "M2",
        "is_required": False}], "removed": [], "changed": [{
            "id": milestone["id"], "video_id": first["video_id"], "video_title": "Mitosis", "title": "M1 later",
            "changes": {"timestamp": {"before": 5.0, "after": 7.0}, "title": {"before": "M1", "after": "M1 later"},
                        "is_required": None}}]}
    assert [v["id"] for v in grown["videos"]["added"]] == [second["video_id"]]

    assert (await api.post(f"/v1/lessons/{lesson['id']}/publish", headers=teacher)).status_code == 200
    assert (await changes())["has_changes"] is False and (await changes())["base_version"] == 2
    await api.delete(f"/v1/video-groups/{later['id']}", headers=teacher)
    await api.delete(f"/v1/videos/{first['video_id']}", headers=teacher)
    await api.patch(f"/v1/milestones/{milestone['id']}", headers=teacher, json={"is_required": True})
    shrunk = await changes()
    assert shrunk["chapters"] == {**no_chapters, "removed": [{"id": later["id"], "title": "Part 2", "position": 1}]}
    assert shrunk["videos"] == {**nothing, "removed": [{
        "id": first["video_id"], "title": "Mitosis", "position": 5, "duration": 120.0,
        "chapter": {"id": chapter["id"], "title": "Part One"}, "milestone_count": 2}]}
    assert [(m["id"], m["video_title"]) for m in shrunk["milestones"]["removed"]] == [
        (milestone["id"], "Mitosis"), (added["id"], "Mitosis")], "a removed video's milestones go with it"
    assert shrunk["milestones"]["added"] == shrunk["milestones"]["changed"] == []


async def _replace(api, headers, video_id, body: bytes, *, declared: int | None = None) -> dict:
    started = await api.post(f"/v1/videos/{video_id}/replace", headers=headers, json={
        "content_type": "video/mp4", "size_bytes": declared or len(body)})
    assert started.status_code == 201, started.text
    session = started.json()
    async with httpx.AsyncClient() as storage:
        put = await storage.put(session["upload_url"], content=body, headers={"Content-Type": "video/mp4"})
    assert put.status_code in (200, 201), put.text
    return session


async def _played(api, headers, video_id) -> bytes:
    playback = await api.get(f"/v1/videos/{video_id}/playback", headers=headers)
    assert playback.status_code == 200, playback.text
    async with httpx.AsyncClient() as storage:
        return (await storage.get(playback.json()["url"])).content


async def test_replacing_a_published_videos_file_changes_only_the_draft(api, accounts: Accounts,
                                                                       admin_connection) -> None:
    teacher, student = await accounts.login("teacher@example.com"), await accounts.login("student@example.com")
    lesson = await _lesson(api, teacher, "Replacing a file")
    original = await _upload(api, teacher, lesson["id"], duration=60.0)
    video_id = original["video_id"]
    before = (await api.post(f"/v1/videos/{video_id}/complete", headers=teacher)).json()
    milestones = [(await api.post(f"/v1/videos/{video_id}/milestones", headers=teacher, json={
        "timestamp": t, "title": f"At {t}", "is_required": False})).json() for t in (10, 50)]
    assert (await api.put(f"/v1/videos/{video_id}/transcripts/en", headers=teacher,
                          json={"format": "vtt", "content": VTT})).status_code == 201
    assert (await api.post(f"/v1/lessons/{lesson['id']}/publish", headers=teacher)).status_code == 200

    longer = clip(90.0)
    session = await _replace(api, teacher, video_id, longer)
    assert session["video_id"] == video_id and session["method"] == "PUT" and session["size_bytes"] == len(longer)
    assert session["upload_url"].startswith("http://127.0.0.1:")
    pending = (await api.get(f"/v1/lessons/{lesson['id']}", headers=teacher)).json()["videos"][0]
    assert pending["storage_path"] == before["storage_path"], "nothing changes before complete"
    completed = await api.post(f"/v1/videos/{video_id}/complete", headers=teacher)
    assert completed.status_code == 200, completed.text
    after = completed.json()
    assert after["id"] == video_id and after["title"] == before["title"] and after["position"] == before["position"]
    assert after["duration"] == pytest.approx(90.0, abs=0.5) and after["status"] == "READY"
    assert after["storage_path"] != before["storage_path"] and "/replacements/" in after["storage_path"]
    assert after["metadata"]["size"] == len(longer)
    assert after["milestones_past_end"] == [] and after["warnings"] == []
    assert (await api.post(f"/v1/videos/{video_id}/complete", headers=teacher)).json() == after, "completed once"

    draft = (await api.get(f"/v1/lessons/{lesson['id']}", headers=teacher)).json()
    [drafted] = draft["videos"]
    assert drafted["storage_path"] == after["storage_path"] and drafted["duration"] == after["duration"]
    assert [m["id"] for m in drafted["milestones"]] == [m["id"] for m in milestones]
    assert draft["has_unpublished_changes"] is True
    transcript = await api.get(f"/v1/videos/{video_id}/transcripts/en", headers=teacher)
    assert transcript.status_code == 200 and len(transcript.json()["segments"]) == 2
    assert await _played(api, teacher, video_id) == longer, "authors preview the new file"

    seen = (await api.get(f"/v1/lessons/{lesson['id']}", headers=student)).json()
    [published] = seen["videos"]
    assert published["storage_path"] == before["storage_path"] and published["duration"] == before["duration"]
    playback = (await api.get(f"/v1/videos/{video_id}/playback", headers=student)).json()
    assert playback["duration"] == before["duration"]
    assert await _played(api, student, video_id) == clip(60.0), "the published version plays its own file"

    uploaded = _events(admin_connection, "content.video.uploaded.v1", video_id)
    assert [e["storage_path"] for e in uploaded] == [before["storage_path"], after["storage_path"]]
    assert uploaded[-1]["duration_seconds"] == after["duration"] and uploaded[-1]["size_bytes"] == len(longer)

    assert (await api.post(f"/v1/lessons/{lesson['id']}/publish", headers=teacher)).status_code == 200
    assert await _played(api, student, video_id) == longer, "the next publication plays the new file"


async def test_a_shorter_file_keeps_the_milestones_past_its_end_and_says_so(api, accounts: Accounts) -> None:
    teacher = await accounts.login("teacher@example.com")
    lesson = await _lesson(api, teacher, "Shorter file")
    video_id = (await _upload(api, teacher, lesson["id"], duration=60.0))["video_id"]
    await api.post(f"/v1/videos/{video_id}/complete", headers=teacher)
    early, late = [(await api.post(f"/v1/videos/{video_id}/milestones", headers=teacher, json={
        "timestamp": t, "title": f"At {t}"})).json() for t in (5, 50)]
    await _replace(api, teacher, video_id, clip(20.0))
    answer = (await api.post(f"/v1/videos/{video_id}/complete", headers=teacher)).json()
    assert answer["duration"] == pytest.approx(20.0, abs=0.5)
    assert [m["id"] for m in answer["milestones_past_end"]] == [late["id"]]
    assert len(answer["warnings"]) == 1 and "At 50" in answer["warnings"][0] and "kept" in answer["warnings"][0]
    kept = (await api.get(f"/v1/videos/{video_id}/milestones", headers=teacher)).json()
    assert [m["id"] for m in kept] == [early["id"], late["id"]]


async def test_a_replacement_never_completed_leaves_the_old_file(api, accounts: Accounts, admin_connection) -> None:
    teacher = await accounts.login("teacher@example.com")
    lesson = await _lesson(api, teacher, "Abandoned replacement")
    video_id = (await _upload(api, teacher, lesson["id"], duration=60.0))["video_id"]
    before = (await api.post(f"/v1/videos/{video_id}/complete", headers=teacher)).json()

    await _replace(api, teacher, video_id, clip(90.0))  # uploaded, never completed
    draft = (await api.get(f"/v1/lessons/{lesson['id']}", headers=teacher)).json()["videos"][0]
    assert draft["storage_path"] == before["storage_path"] and draft["duration"] == before["duration"]
    assert draft["status"] == before["status"]
    assert await _played(api, teacher, video_id) == clip(60.0)

    expired_at = json.dumps((datetime.now(UTC) - timedelta(seconds=1)).isoformat())
    admin_connection.execute("UPDATE content.videos SET replacement = jsonb_set(replacement, '{expires_at}', "
                             "%s::jsonb) WHERE id = %s", (expired_at, video_id))
    late = await api.post(f"/v1/videos/{video_id}/complete", headers=teacher)
    assert late.status_code == 410 and "keeps its current file" in late.json()["detail"]
    again = await api.post(f"/v1/videos/{video_id}/complete", headers=teacher)
    assert again.status_code == 200 and again.json()["storage_path"] == before["storage_path"]
    assert again.json()["status"] == before["status"] and again.json()["duration"] == before["duration"]
    assert await _played(api, teacher, video_id) == clip(60.0)
    assert [e["storage_path"] for e in _events(admin_connection, "content.video.uploaded.v1", video_id)] == [
        before["storage_path"]], "no event for a replacement that never completed"

    # A file that is not what was announced is refused like any upload, and the video keeps its own.
    await _replace(api, teacher, video_id, clip(90.0), declared=len(clip(90.0)) + 7)
    refused = await api.post(f"/v1/videos/{video_id}/complete", headers=teacher)
    assert refused.status_code == 422 and "announced" in refused.json()["detail"]
    kept = (await api.get(f"/v1/lessons/{lesson['id']}", headers=teacher)).json()["videos"][0]
    assert kept["storage_path"] == before["storage_path"] and kept["status"] == before["status"]


async def test_only_the_author_or_an_admin_replaces_a_file(api, accounts: Accounts) -> None:
    teacher = await accounts.login("teacher@example.com")
    lesson = await _lesson(api, teacher, "Who replaces")
    video_id = (await _upload(api, teacher, lesson["id"]))["video_id"]
    await api.post(f"/v1/videos/{video_id}/complete", headers=teacher)
    body = {"content_type": "video/mp4", "size_bytes": len(VIDEO)}
    url = f"/v1/videos/{video_id}/replace"

    colleague = await _another_teacher_of_demo(accounts)
    refused = await api.post(url, headers=colleague, json=body)
    assert refused.status_code == 403 and refused.headers["content-type"] == "application/problem+json"
    assert (await api.post(url, headers=await accounts.login("student@example.com"), json=body)).status_code == 403
    elsewhere = (await accounts.tenant_with_users("replacing-elsewhere"))["admin"]
    assert (await api.post(url, headers=elsewhere, json=body)).status_code == 404
    assert (await api.post(url, headers=teacher, json={**body, "content_type": "text/html"})).status_code == 422
    assert (await api.post(url, headers=teacher, json={**body, "title": "no"})).status_code == 422

    session = await _replace(api, await accounts.login("admin@example.com"), video_id, clip(30.0))
    assert (await api.post(f"/v1/videos/{video_id}/complete", headers=colleague)).status_code == 403
    assert (await api.post(f"/v1/videos/{video_id}/complete", headers=elsewhere)).status_code == 404
    done = await api.post(f"/v1/videos/{session['video_id']}/complete", headers=teacher)
    assert done.status_code == 200 and done.json()["duration"] == pytest.approx(30.0, abs=0.5)

    pending = (await api.post(f"/v1/lessons/{lesson['id']}/videos", headers=teacher, json={
        "title": "Not uploaded", "content_type": "video/mp4", "size_bytes": 10})).json()
    nothing_yet = await api.post(f"/v1/videos/{pending['video_id']}/replace", headers=teacher, json=body)
    assert nothing_yet.status_code == 409, "an upload still in progress has no file to replace"


# The smallest valid PNG (1×1, transparent): a real image a browser renders.
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d49444154789c6360000002000005000157d0a7c30000000049454e44ae426082")


async def test_a_thumbnail_image_is_uploaded_served_and_checked(api, accounts: Accounts, admin_connection) -> None:
    teacher = await accounts.login("teacher@example.com")
    lesson = await _lesson(api, teacher)
    url = f"/v1/lessons/{lesson['id']}/thumbnail"

    stored = await api.put(url, content=PNG, headers={**teacher, "Content-Type": "image/png"})
    assert stored.status_code == 200, stored.text
    thumbnail = stored.json()["thumbnail"]
    assert thumbnail.startswith("/api/content/v1/thumbnails/"), thumbnail
    # Served without a token (an <img> sends none), by a name that is the image's own hash.
    served = await api.get(thumbnail.removeprefix("/api/content"))
    assert served.status_code == 200
    assert served.content == PNG
    assert served.headers["content-type"] == "image/png"
    assert "immutable" in served.headers["cache-control"]
    assert _events(admin_connection, "content.lesson.updated.v1", lesson["id"])[-1]["thumbnail"] == thumbnail

    # What is not the image it says it is, or too big, or of another type, is refused with a reason.
    lying = await api.put(url, content=b"<svg onload=alert(1)>", headers={**teacher, "Content-Type": "image/png"})
    assert lying.status_code == 422 and "not a PNG" in lying.json()["detail"]
    svg = await api.put(url, content=b"<svg/>", headers={**teacher, "Content-Type": "image/svg+xml"})
    assert svg.status_code == 415 and "PNG, JPEG or WebP" in svg.json()["detail"]
    big = await api.put(url, content=PNG + b"\0" * (2 * 1024 * 1024), headers={**teacher, "Content-Type": "image/png"})
    assert big.status_code == 413
    assert (await api.put(url, content=PNG, headers={"Content-Type": "image/png"})).status_code == 401
    student = await accounts.login("student@example.com")
    assert (await api.put(url, content=PNG, headers={**student, "Content-Type": "image/png"})).status_code == 403
    # An unknown image is a 404; a name that is not one content makes is not looked up at all.
    tenant = thumbnail.split("/")[-2]
    assert (await api.get(f"/v1/thumbnails/{tenant}/{'0' * 64}.png")).status_code == 404
    assert (await api.get(f"/v1/thumbnails/{tenant}/original")).status_code == 422

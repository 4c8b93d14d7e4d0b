"""Resume across devices, server-enforced completion, bad telemetry, the seed's dashboard,
live streams, rebuild and duplicates — on the real PostgreSQL and Kafka."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import psycopg
import pytest
import uvicorn
from aiokafka import AIOKafkaProducer
from prometheus_client import REGISTRY

from cuepoint.contracts import analytics, assessment, content, identity
from cuepoint.contracts.envelope import new_envelope
from cuepoint.progress.bootstrap import rebuild, spec
from cuepoint.progress.views import STUDENT_DASHBOARD_SQL
from cuepoint.runtime import db
from cuepoint.runtime.service import ServiceContext, build_app, run_worker
from tests.support.accounts import Accounts
from tests.support.platform import Infra, eventually
from tests.support.streams import claims, publish, publish_envelopes, read_topic, wait_for_row

pytestmark = pytest.mark.integration

T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)


@dataclass
class Lesson:
    tenant_id: uuid.UUID
    teacher_id: uuid.UUID
    lesson_id: uuid.UUID
    video_id: uuid.UUID
    milestone_id: uuid.UUID
    question_id: uuid.UUID


async def _lesson(infra: Infra, admin_connection, teacher: dict[str, str], *, seek_policy: str = "NO_SKIP_AHEAD",
                  title: str = "Photosynthesis") -> Lesson:
    """A published lesson: one 60 s video with a required milestone at 30 s that has one approved question."""
    who = claims(teacher)
    lesson = Lesson(uuid.UUID(who["tid"]), uuid.UUID(who["sub"]), uuid.uuid4(), uuid.uuid4(), uuid.uuid4(),
                    uuid.uuid4())
    await publish(infra, "content.events", [
        content.LessonCreated(lesson_id=lesson.lesson_id, title=title, thumbnail="https://img.example/leaf.png",
                              created_by_id=lesson.teacher_id, seek_policy=seek_policy),
        content.VideoUploaded(video_id=lesson.video_id, lesson_id=lesson.lesson_id, title="Light",
                              storage_path="gs://cuepoint-media/x", content_type="video/mp4", size_bytes=1000,
                              checksum="AAAAAA==", duration_seconds=60.0),
        content.MilestoneCreated(milestone_id=lesson.milestone_id, video_id=lesson.video_id,
                                 lesson_id=lesson.lesson_id, timestamp=30.0, title="Check", is_required=True),
        content.LessonPublished(lesson_id=lesson.lesson_id, version=1, title=title,
                                thumbnail="https://img.example/leaf.png", created_by_id=lesson.teacher_id,
                                video_ids=[lesson.video_id]),
    ], tenant_id=lesson.tenant_id, producer="content", actor_id=lesson.teacher_id)
    await publish(infra, "assessment.events", [assessment.QuestionApproved(
        question_id=lesson.question_id, milestone_id=lesson.milestone_id, lesson_id=lesson.lesson_id,
        type="TRUE_FALSE", points=1)], tenant_id=lesson.tenant_id, producer="assessment", actor_id=lesson.teacher_id)
    await wait_for_row(admin_connection, "SELECT count(*) = 1 FROM progress.lessons WHERE id = %s AND status = "
                       "'PUBLISHED' AND video_ids = ARRAY[%s]::uuid[]", (lesson.lesson_id, lesson.video_id))
    await wait_for_row(admin_connection, "SELECT count(*) = 1 FROM progress.milestones WHERE id = %s",
                       (lesson.milestone_id,))
    await wait_for_row(admin_connection, "SELECT count(*) = 1 FROM progress.questions WHERE id = %s AND approved",
                       (lesson.question_id,))
    await wait_for_row(admin_connection, "SELECT count(*) = 1 FROM progress.videos WHERE id = %s AND duration = 60",
                       (lesson.video_id,))
    return lesson


def _client(student: uuid.UUID, device: str, at: datetime, event) -> analytics.ClientEventRecorded:
    return analytics.ClientEventRecorded(user_id=student, device_id=device, client_event_id=uuid.uuid4(),
                                         client_occurred_at=at, received_at=at, user_agent=f"test/{device}",
                                         event=event)


def _heartbeat(lesson: Lesson, student: uuid.UUID, device: str, start: float, end: float, at: datetime,
               **changes) -> analytics.ClientEventRecorded:
    event = analytics.VideoHeartbeat(lesson_id=changes.pop("lesson_id", lesson.lesson_id),
                                     video_id=changes.pop("video_id", lesson.video_id), position=changes.pop("position", end),
                                     played=[analytics.PlayedRange(start=start, end=end)], **changes)
    return _client(student, device, at, event)


async def _telemetry(infra, lesson: Lesson, events) -> list:
    return await publish(infra, "analytics.client-events", events, tenant_id=lesson.tenant_id, producer="analytics")


def _lesson_graded(lesson: Lesson, student: uuid.UUID, at: datetime, percent: str,
                   reason: str = "ANSWERED") -> assessment.LessonGraded:
    """The lesson grade assessment announces after a grading (the lesson's one 1-point question)."""
    return assessment.LessonGraded(
        student_id=student, lesson_id=lesson.lesson_id, score=Decimal(percent) / 100, max_score=1, percent=percent,
        passed=Decimal(percent) >= 70, passing_threshold=70, questions_answered=1, questions_counted=1,
        reason=reason, graded_at=at)


async def _attempt(infra, lesson: Lesson, student: uuid.UUID, at: datetime, *, correct: bool) -> None:
    """An answer graded, with the lesson grade that follows it (as assessment publishes them)."""
    await publish(infra, "assessment.events", [assessment.AttemptGraded(
        attempt_id=uuid.uuid4(), student_id=student, question_id=lesson.question_id,
        milestone_id=lesson.milestone_id, video_id=lesson.video_id, lesson_id=lesson.lesson_id, attempt_number=1,
        max_attempts=3, is_correct=correct, score=1 if correct else 0, max_score=1, milestone_answered=correct,
        attempts_left=2, time_taken_ms=4000, answered_at=at),
        _lesson_graded(lesson, student, at, "100" if correct else "0")], tenant_id=lesson.tenant_id,
        producer="assessment", actor_id=student)


def _row(admin_connection, sql: str, *params):
    return admin_connection.execute(sql, params).fetchone()


async def test_resume_on_another_device_and_completion_enforced_by_the_server(api, worker, accounts: Accounts,
                                                                             infra, admin_connection):
    users = await accounts.tenant_with_users(f"resume-{uuid.uuid4().hex[:6]}")
    lesson = await _lesson(infra, admin_connection, users["teacher"])
    student = uuid.UUID(claims(users["student"])["sub"])

    # Device A watches up to the required milestone and a little beyond (which must not count).
    await _telemetry(infra, lesson, [_heartbeat(lesson, student, "laptop", s, s + 10, T0 + timedelta(seconds=s + 10))
                                     for s in range(0, 40, 10)])
    await wait_for_row(admin_connection, "SELECT count(*) = 1 FROM progress.video_progress WHERE student_id = %s "
                       "AND last_heartbeat_at = %s", (student, T0 + timedelta(seconds=40)))

    # Device B asks where to continue: the same position, segments and the milestone still to answer.
    resume = (await api.get("/v1/resume", headers=users["student"], params={"lesson_id": str(lesson.lesson_id)})).json()
    assert resume["video_id"] == str(lesson.video_id) and resume["position"] == 30.0
    assert resume["watched"] == [[0.0, 30.0]] and resume["device_id"] == "laptop"
    assert resume["next_required_milestone"]["id"] == str(lesson.milestone_id) and resume["furthest_allowed"] == 30.0
    assert resume["completed"] is False
    # Typed for the web client: numbers as numbers, the milestones with their answered flags, UTC times.
    assert resume["duration"] == 60.0 and resume["coverage"] == 0.5 and resume["seek_policy"] == "NO_SKIP_AHEAD"
    assert resume["milestones"] == [{"id": str(lesson.milestone_id), "timestamp": 30.0, "is_required": True,
                                     "answered": False}]
    assert resume["updated_at"].endswith("Z")
    assert (await api.get("/v1/resume", headers=users["student"],
                          params={"video_id": str(lesson.video_id)})).json()["position"] == 30.0

    # A forged heartbeat from device B claiming the whole video changes nothing past the milestone.
    await _telemetry(infra, lesson, [_heartbeat(lesson, student, "phone", 0, 60, T0 + timedelta(seconds=45))])
    await wait_for_row(admin_connection, "SELECT count(*) = 2 FROM progress.student_sessions WHERE student_id = %s",
                       (student,))
    video = _row(admin_connection, "SELECT watched, completed_at, flags FROM progress.video_progress "
                 "WHERE student_id = %s", student)
    assert video[0] == [[0.0, 30.0]] and video[1] is None and video[2] > 0
    progress = _row(admin_connection, "SELECT status, completion_percent FROM progress.student_progress "
                    "WHERE student_id = %s", student)
    assert progress[0] == "IN_PROGRESS" and 0 < progress[1] < 100

    # A wrong answer does not unlock; the right one does; then the rest is watched and the lesson completes.
    await _attempt(infra, lesson, student, T0 + timedelta(seconds=50), correct=False)
    await _telemetry(infra, lesson, [_heartbeat(lesson, student, "phone", 30, 40, T0 + timedelta(seconds=60))])
    await wait_for_row(admin_connection, "SELECT count(*) = 1 FROM progress.video_progress WHERE student_id = %s "
                       "AND last_heartbeat_at = %s", (student, T0 + timedelta(seconds=60)))
    assert _row(admin_connection, "SELECT watched FROM progress.video_progress WHERE student_id = %s",
                student)[0] == [[0.0, 30.0]]
    await _attempt(infra, lesson, student, T0 + timedelta(seconds=70), correct=True)
    await wait_for_row(admin_connection, "SELECT count(*) = 1 FROM progress.question_results WHERE student_id = %s "
                       "AND settled", (student,))
    await wait_for_row(admin_connection, "SELECT count(*) = 1 FROM progress.lesson_scores WHERE student_id = %s "
                       "AND percent = 100", (student,))  # the grade that follows the answer
    await _telemetry(infra, lesson, [_heartbeat(lesson, student, "phone", s, s + 10, T0 + timedelta(seconds=s + 50))
                                     for s in range(30, 60, 10)])
    await wait_for_row(admin_connection, "SELECT count(*) = 1 FROM progress.student_progress WHERE student_id = %s "
                       "AND status = 'COMPLETED'", (student,), message="the lesson did not complete")
    done = _row(admin_connection, "SELECT completion_percent, average_score, total_time_spent, completed_at "
                "FROM progress.student_progress WHERE student_id = %s", student)
    # 60 s watched, 7.5 s that the forged heartbeat's 5 s allowed (rewatched), two answers of 4 s
    assert done[0] == 100 and done[1] == 100 and done[2] == int(30 + 7.5 + 30 + 8)
    assert done[3] == T0 + timedelta(seconds=100)

    published = await read_topic(infra, "progress.events", lambda e: e["data"]["student_id"] == str(student),
                                 expect=3)
    kinds = [e["event_type"] for e in published]
    assert kinds.count("progress.video.completed.v1") == 1 and kinds.count("progress.lesson.completed.v1") == 1
    assert "progress.lesson.progressed.v1" in kinds
    assert all(e["key"] == str(student) for e in published)

    sessions = (await api.get("/v1/sessions", headers=users["student"])).json()["items"]
    assert [s["device_id"] for s in sessions] == ["phone", "laptop"]
    assert sessions[0]["user_agent"] == "test/phone" and sessions[0]["position"] == 60.0
    assert all(s["started_at"].endswith("Z") and s["last_seen_at"].endswith("Z") for s in sessions)
    ended = await api.post(f"/v1/sessions/{sessions[1]['id']}/end", headers=users["student"])
    assert ended.status_code == 200 and ended.json()["active"] is False
    assert (await api.post(f"/v1/sessions/{sessions[1]['id']}/end", headers=users["student"])).status_code == 409
    other_student = (await accounts.tenant_with_users(f"x-{uuid.uuid4().hex[:6]}"))["student"]
    assert (await api.post(f"/v1/sessions/{sessions[0]['id']}/end", headers=other_student)).status_code == 404

    # The seed's Student Dashboard Query, verbatim, as the service's role; and through the API.
    with psycopg.connect(db.libpq_dsn(worker.settings.runtime_database_url)) as connection:
        connection.execute("SELECT set_config('app.tenant_id', %s, true)", (str(lesson.tenant_id),))
        rows = connection.execute(STUDENT_DASHBOARD_SQL.replace("$1", "%s"), (student,)).fetchall()
    assert [(r[0], r[1], r[2]) for r in rows] == [("Photosynthesis", "https://img.example/leaf.png", 100)]
    answer = (await api.get("/v1/dashboard", headers=users["student"])).json()
    dashboard = answer["items"]
    assert dashboard[0]["title"] == "Photosynthesis" and float(dashboard[0]["completion_percent"]) == 100
    # JSON numbers, not the Decimals' strings ("100.00"); a time in UTC with Z.
    assert dashboard[0]["completion_percent"] == 100 and dashboard[0]["average_score"] == 100
    assert not isinstance(dashboard[0]["completion_percent"], str) and dashboard[0]["last_activity"].endswith("Z")
    assert (answer["total"], answer["offset"]) == (1, 0)
    assert dashboard[0]["lesson_id"] == str(lesson.lesson_id)  # so a client can link the row to its lesson

    teacher_view = (await api.get(f"/v1/lessons/{lesson.lesson_id}/progress", headers=users["teacher"])).json()
    assert teacher_view["total"] == 1 and teacher_view["items"][0]["student_id"] == str(student)
    assert teacher_view["items"][0]["completion_percent"] == 100 and teacher_view["items"][0]["status"] == "COMPLETED"
    assert teacher_view["items"][0]["completed_at"].endswith("Z")
    assert (await api.get("/v1/resume", headers=users["student"], params={
        "lesson_id": str(lesson.lesson_id), "student_id": str(lesson.teacher_id)})).status_code == 404


def _metric(name: str, reason: str) -> float:
    return REGISTRY.get_sample_value(name, {"reason": reason}) or 0.0


async def test_bad_telemetry_is_dropped_with_a_reason_and_the_rest_is_projected(worker, accounts, infra,
                                                                                admin_connection):
    users = await accounts.tenant_with_users(f"bad-{uuid.uuid4().hex[:6]}")
    lesson = await _lesson(infra, admin_connection, users["teacher"], seek_policy="FREE")
    other = await _lesson(infra, admin_connection, (await accounts.tenant_with_users(
        f"other-{uuid.uuid4().hex[:6]}"))["teacher"])
    student = uuid.UUID(claims(users["student"])["sub"])
    metric = "cuepoint_progress_telemetry_dropped_total"
    before = {r: _metric(metric, r) for r in ("position_outside_video", "unknown_video", "video_not_in_lesson")}
    at = T0 + timedelta(seconds=10)
    await _telemetry(infra, lesson, [
        _heartbeat(lesson, student, "d", 0, 10, at, ),
        _heartbeat(lesson, student, "d", 10, 20, at + timedelta(seconds=10), position=500),  # outside the video
        _heartbeat(lesson, student, "d", 10, 20, at + timedelta(seconds=10), video_id=uuid.uuid4()),  # unknown
        _heartbeat(lesson, student, "d", 10, 20, at + timedelta(seconds=10), video_id=other.video_id,
                   lesson_id=other.lesson_id),  # another tenant's: invisible here
        _heartbeat(lesson, student, "d", 10, 20, at + timedelta(seconds=10), lesson_id=other.lesson_id),
        _heartbeat(lesson, student, "d", 10, 20, at + timedelta(seconds=10)),
    ])
    # A range that runs backwards cannot be built with the contract; sent raw, it is dead-lettered.
    raw = new_envelope(_heartbeat(lesson, student, "d", 20, 30, at + timedelta(seconds=20)),
                       tenant_id=lesson.tenant_id, producer="analytics")
    value = json.loads(raw.model_dump_json())
    value["data"]["event"]["played"] = [{"start": 30, "end": 20}]
    producer = AIOKafkaProducer(bootstrap_servers=infra.bootstrap_servers)
    await producer.start()
    try:
        await producer.send_and_wait(infra.topic_prefix + "analytics.client-events", json.dumps(value).encode(),
                                     key=str(student).encode(), headers=[(k, v.encode()) for k, v in
                                                                         raw.headers().items()])
    finally:
        await producer.stop()
    await _telemetry(infra, lesson, [_heartbeat(lesson, student, "d", 20, 30, at + timedelta(seconds=30))])

    await wait_for_row(admin_connection, "SELECT count(*) = 1 FROM progress.video_progress WHERE student_id = %s "
                       "AND watched = '[[0.0, 30.0]]'::jsonb", (student,), message="the valid heartbeats were lost")
    await eventually(lambda: _ready(_metric(metric, "position_outside_video") > before["position_outside_video"]
                                    and _metric(metric, "unknown_video") >= before["unknown_video"] + 2
                                    and _metric(metric, "video_not_in_lesson") > before["video_not_in_lesson"]),
                     timeout=10, message="drops were not counted by reason")
    dead = await read_topic(infra, "analytics.client-events.dlt", lambda e: e["event_id"] == str(raw.event_id),
                            expect=1)
    assert len(dead) == 1
    assert _row(admin_connection, "SELECT count(*) FROM progress.video_progress WHERE video_id = %s",
                other.video_id)[0] == 0


async def _ready(value):
    return value


PROJECTED_ROWS = """
SELECT t FROM (
  SELECT 'l' || l::text AS t FROM progress.lessons l WHERE tenant_id = %(t)s
  UNION ALL SELECT 'v' || v::text FROM progress.videos v WHERE tenant_id = %(t)s
  UNION ALL SELECT 'm' || m::text FROM progress.milestones m WHERE tenant_id = %(t)s
  UNION ALL SELECT 'q' || q::text FROM progress.questions q WHERE tenant_id = %(t)s
  UNION ALL SELECT 'r' || r::text FROM progress.question_results r WHERE tenant_id = %(t)s
  UNION ALL SELECT 's' || s::text FROM progress.student_sessions s WHERE tenant_id = %(t)s
  UNION ALL SELECT 'p' || p::text FROM progress.video_progress p WHERE tenant_id = %(t)s
  UNION ALL SELECT 'g' || g::text FROM progress.student_progress g WHERE tenant_id = %(t)s
  UNION ALL SELECT 'n' || n::text FROM progress.display_names n WHERE tenant_id = %(t)s
) rows ORDER BY t
"""


async def test_rebuild_gives_identical_projections_and_duplicates_change_nothing(progress_settings, start_worker,
                                                                                 accounts, infra, admin_connection,
                                                                                 api):
    users = await accounts.tenant_with_users(f"rebuild-{uuid.uuid4().hex[:6]}")
    student = uuid.UUID(claims(users["student"])["sub"])
    async with start_worker():
        lesson = await _lesson(infra, admin_connection, users["teacher"], seek_policy="FREE")
        heartbeats = [_heartbeat(lesson, student, "tablet", s, s + 10, T0 + timedelta(seconds=s + 10))
                      for s in range(0, 30, 10)]
        sent = await _telemetry(infra, lesson, heartbeats)
        await wait_for_row(admin_connection, "SELECT count(*) = 1 FROM progress.video_progress WHERE student_id = %s "
                           "AND watched = '[[0.0, 30.0]]'::jsonb", (student,))
        await _attempt(infra, lesson, student, T0 + timedelta(seconds=35), correct=True)
        await wait_for_row(admin_connection, "SELECT count(*) = 1 FROM progress.question_results WHERE student_id = %s",
                           (student,))
        await _telemetry(infra, lesson, [_heartbeat(lesson, student, "tablet", 30, 40, T0 + timedelta(seconds=45))])
        await wait_for_row(admin_connection, "SELECT count(*) = 1 FROM progress.video_progress WHERE student_id = %s "
                           "AND watched = '[[0.0, 40.0]]'::jsonb", (student,))
        session = (await api.get("/v1/sessions", headers=users["student"])).json()["items"][0]
        await api.post(f"/v1/sessions/{session['id']}/end", headers=users["student"])
        await wait_for_row(admin_connection, "SELECT count(*) = 1 FROM progress.inbox WHERE consumer_group = "
                           "'progress.sessions' AND event_id IN (SELECT event_id FROM progress.outbox WHERE "
                           "event_type = 'progress.session.ended.v2' AND key = %s)", (str(student),))
        live = _checksum(admin_connection, lesson)
        assert len(live) >= 8

        # The same events delivered again (a producer retry, a replayed partition) change nothing.
        await publish_envelopes(infra, "analytics.client-events", sent)
        await wait_for_row(admin_connection, "SELECT count(*) = %s FROM progress.inbox WHERE event_id = ANY(%s)",
                           (len(sent), [e.event_id for e in sent]))
        await asyncio.sleep(2)
        assert _checksum(admin_connection, lesson) == live
        progress_rows = _row(admin_connection, "SELECT completion_percent, total_time_spent FROM "
                             "progress.student_progress WHERE student_id = %s", student)

    context = ServiceContext("progress", progress_settings)
    out = _Capture()
    assert await rebuild(context, out=out) == 0
    assert "rebuild [" in out.text and "records" in out.text
    assert _checksum(admin_connection, lesson) == live
    assert _row(admin_connection, "SELECT completion_percent, total_time_spent FROM progress.student_progress "
                "WHERE student_id = %s", student) == progress_rows
    # Rebuilding is itself repeatable.
    assert await rebuild(ServiceContext("progress", progress_settings), out=_Capture()) == 0
    assert _checksum(admin_connection, lesson) == live


def _checksum(admin_connection, lesson: Lesson) -> list[str]:
    """Every projected row of the lesson's tenant, as text (a failing comparison shows the rows that differ)."""
    return [row[0] for row in admin_connection.execute(PROJECTED_ROWS, {"t": lesson.tenant_id})]


class _Capture:
    def __init__(self) -> None:
        self.text = ""

    def write(self, text: str) -> None:
        self.text += text

    def flush(self) -> None:
        pass


async def test_live_streams_for_the_student_and_the_teacher(progress_settings, start_worker, accounts, infra,
                                                            admin_connection):
    users = await accounts.tenant_with_users(f"live-{uuid.uuid4().hex[:6]}")
    student = uuid.UUID(claims(users["student"])["sub"])
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    context = ServiceContext("progress", progress_settings)
    context.__dict__["verifier"] = accounts.verifier()
    server = uvicorn.Server(uvicorn.Config(build_app(spec(), context), host="127.0.0.1", port=port, log_config=None,
                                           lifespan="on"))
    serving = asyncio.create_task(server.serve())
    try:
        async with start_worker():
            lesson = await _lesson(infra, admin_connection, users["teacher"], seek_policy="FREE")
            await _profile(infra, lesson.tenant_id, student, "Mary Somerville")
            await wait_for_row(admin_connection, "SELECT count(*) = 1 FROM progress.display_names WHERE user_id = %s",
                               (student,))
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
                await eventually(lambda: _ready(server.started), timeout=10)
                async with client.stream("GET", "/v1/stream", headers=users["student"]) as mine, \
                        client.stream("GET", f"/v1/lessons/{lesson.lesson_id}/stream",
                                      headers=users["teacher"]) as class_view:
                    assert mine.status_code == 200 and mine.headers["content-type"].startswith("text/event-stream")
                    assert class_view.status_code == 200
                    lines, teacher_lines = mine.aiter_lines(), class_view.aiter_lines()
                    # A reconnection hint for the browser, before any event.
                    assert [await anext(lines) for _ in range(3)] == [": connected", "retry: 3000", ""]
                    assert (await anext(teacher_lines)) == ": connected"
                    await _telemetry(infra, lesson, [_heartbeat(lesson, student, "tv", 0, 10,
                                                                T0 + timedelta(seconds=10))])
                    event, data = await asyncio.wait_for(_next_event(lines), timeout=20)
                    assert event == "progress"
                    assert data["resume"]["position"] == 10.0 and data["resume"]["watched"] == [[0.0, 10.0]]
                    assert data["progress"]["status"] == "IN_PROGRESS"
                    assert isinstance(data["progress"]["completion_percent"], float)
                    assert data["progress"]["updated_at"].endswith("Z")
                    seen = await asyncio.wait_for(_next_data(teacher_lines), timeout=20)
                    assert seen["student_id"] == str(student) and seen["lesson_id"] == str(lesson.lesson_id)
                    assert seen["student_name"] == "Mary Somerville"
                    # Quiet from here on: a keep-alive comment must come within 20 s, or proxies drop the stream.
                    assert await asyncio.wait_for(_next_comment(lines), timeout=20) == ": ping"
                    # A rename reaches the class view live, without any progress changing.
                    await _profile(infra, lesson.tenant_id, student, "Mary Fairfax")
                    renamed = await asyncio.wait_for(_next_data(teacher_lines), timeout=20)
                    assert renamed["student_id"] == str(student) and renamed["student_name"] == "Mary Fairfax"
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
                student_tries = await client.get(f"/v1/lessons/{lesson.lesson_id}/stream", headers=users["student"])
                assert student_tries.status_code == 403
    finally:
        server.should_exit = True
        await serving


@contextlib.asynccontextmanager
async def _served(progress_settings, accounts):
    """progress's API on a real port (streams need a real server): its base URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    context = ServiceContext("progress", progress_settings)
    context.__dict__["verifier"] = accounts.verifier()
    server = uvicorn.Server(uvicorn.Config(build_app(spec(), context), host="127.0.0.1", port=port, log_config=None,
                                           lifespan="on"))
    serving = asyncio.create_task(server.serve())
    try:
        await eventually(lambda: _ready(server.started), timeout=10)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await serving


async def test_a_stream_opened_late_starts_with_the_current_state(progress_settings, start_worker, accounts, infra,
                                                                  admin_connection):
    users = await accounts.tenant_with_users(f"late-{uuid.uuid4().hex[:6]}")
    student = uuid.UUID(claims(users["student"])["sub"])
    async with start_worker(), _served(progress_settings, accounts) as url:
        lesson = await _lesson(infra, admin_connection, users["teacher"], seek_policy="FREE")
        await _watching(infra, admin_connection, lesson, student)  # progress made before anyone follows it
        async with httpx.AsyncClient(base_url=url, timeout=30) as client, \
                client.stream("GET", "/v1/stream", headers=users["student"]) as mine, \
                client.stream("GET", f"/v1/lessons/{lesson.lesson_id}/stream", headers=users["teacher"]) as class_view:
            lines, teacher_lines = mine.aiter_lines(), class_view.aiter_lines()
            assert [await anext(lines) for _ in range(3)] == [": connected", "retry: 3000", ""]
            # Nothing changes from here on: what arrives is the snapshot.
            event, data = await asyncio.wait_for(_next_event(lines), timeout=10)
            assert event == "progress" and data["progress"]["lesson_id"] == str(lesson.lesson_id)
            assert data["progress"]["status"] == "IN_PROGRESS" and data["resume"]["position"] == 10.0
            seen = await asyncio.wait_for(_next_data(teacher_lines), timeout=10)
            assert seen["student_id"] == str(student) and seen["lesson_id"] == str(lesson.lesson_id)
            assert seen["completion_percent"] == data["progress"]["completion_percent"]
            # A burst of notices that change nothing sends nothing; the change after it arrives (issue 21).
            notice = json.dumps({"tenant_id": str(lesson.tenant_id), "student_id": str(student),
                                 "lesson_id": str(lesson.lesson_id)})
            with psycopg.connect(infra.admin_database_url(), autocommit=True) as notifier:
                for _ in range(20):
                    notifier.execute("SELECT pg_notify('cuepoint_progress', %s)", (notice,))
            await _telemetry(infra, lesson, [_heartbeat(lesson, student, "laptop", 10, 20, T0 + timedelta(seconds=20))])
            event, data = await asyncio.wait_for(_next_event(lines), timeout=20)
            assert event == "progress" and data["resume"]["position"] == 20.0
            assert data["resume"]["watched"] == [[0.0, 20.0]]


async def _next_data(lines) -> dict:
    async for line in lines:
        if line.startswith("data: "):
            return json.loads(line[len("data: "):])
    raise AssertionError("the stream ended")


async def _next_event(lines) -> tuple[str | None, dict]:
    event = None
    async for line in lines:
        if line.startswith("event: "):
            event = line[len("event: "):]
        elif line.startswith("data: "):
            return event, json.loads(line[len("data: "):])
    raise AssertionError("the stream ended")


async def _next_comment(lines) -> str:
    async for line in lines:
        if line.startswith(":"):
            return line
    raise AssertionError("the stream ended")


# --- students' names, from identity's compacted user-profiles topic ------------------------------------

async def _profile(infra, tenant_id: uuid.UUID, student: uuid.UUID, name: str) -> None:
    await publish(infra, "identity.user-profiles", [identity.UserProfile(
        user_id=student, email=f"{student.hex[:8]}@school.example", display_name=name, role="STUDENT")],
        tenant_id=tenant_id, producer="identity", actor_id=student)


async def _tombstone(infra, tenant_id: uuid.UUID, student: uuid.UUID) -> None:
    """An erasure as identity's relay publishes it: a null value for the user's key (Outbox.tombstone)."""
    producer = AIOKafkaProducer(bootstrap_servers=infra.bootstrap_servers, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        await producer.send_and_wait(infra.topic_prefix + "identity.user-profiles", None, key=str(student).encode(),
                                     headers=[("tenant_id", str(tenant_id).encode()), ("tombstone", b"true")])
    finally:
        await producer.stop()


async def _watching(infra, admin_connection, lesson: Lesson, student: uuid.UUID) -> None:
    """The student has a row in the lesson's progress (what the class view lists)."""
    await _telemetry(infra, lesson, [_heartbeat(lesson, student, "laptop", 0, 10, T0 + timedelta(seconds=10))])
    await wait_for_row(admin_connection, "SELECT count(*) = 1 FROM progress.student_progress WHERE student_id = %s "
                       "AND lesson_id = %s", (student, lesson.lesson_id))


async def _class_view(api, lesson: Lesson, teacher: dict[str, str]) -> dict[str, dict]:
    answer = await api.get(f"/v1/lessons/{lesson.lesson_id}/progress", headers=teacher)
    assert answer.status_code == 200, answer.text
    return {item["student_id"]: item for item in answer.json()["items"]}


async def _name_is(api, lesson: Lesson, teacher: dict[str, str], student: uuid.UUID, name: str | None) -> None:
    async def shown() -> bool:
        return (await _class_view(api, lesson, teacher))[str(student)]["student_name"] == name

    await eventually(shown, timeout=30, message=f"the class view does not show {name!r}")


async def test_the_class_view_names_students_follows_renames_and_forgets_the_erased(api, worker, accounts, infra,
                                                                                   admin_connection):
    users = await accounts.tenant_with_users(f"names-{uuid.uuid4().hex[:6]}")
    lesson = await _lesson(infra, admin_connection, users["teacher"], seek_policy="FREE")
    student = uuid.UUID(claims(users["student"])["sub"])
    await _watching(infra, admin_connection, lesson, student)
    before = (await _class_view(api, lesson, users["teacher"]))[str(student)]
    assert before["student_name"] is None  # no profile yet: listed all the same
    assert before["status"] == "IN_PROGRESS" and before["lesson_id"] == str(lesson.lesson_id)

    await _profile(infra, lesson.tenant_id, student, "Ada Lovelace")
    await _name_is(api, lesson, users["teacher"], student, "Ada Lovelace")
    answer = await api.get(f"/v1/lessons/{lesson.lesson_id}/progress", headers=users["teacher"])
    assert "school.example" not in answer.text  # the profile's email is neither shown nor kept
    assert _row(admin_connection, "SELECT count(*) FROM progress.display_names WHERE user_id = %s", student)[0] == 1
    # The student's own view of the lesson carries the same field.
    mine = (await api.get(f"/v1/lessons/{lesson.lesson_id}/progress", headers=users["student"])).json()["items"]
    assert [item["student_name"] for item in mine] == ["Ada Lovelace"]

    await _profile(infra, lesson.tenant_id, student, "Ada King")
    await _name_is(api, lesson, users["teacher"], student, "Ada King")

    await _tombstone(infra, lesson.tenant_id, student)
    await _name_is(api, lesson, users["teacher"], student, None)
    # (within this test's tenant: other tests of the run, the browser's among them, name people Ada too)
    assert admin_connection.execute("SELECT count(*) FROM progress.display_names WHERE tenant_id = %s AND "
                                    "(user_id = %s OR display_name LIKE 'Ada %%')",
                                    (lesson.tenant_id, student)).fetchone()[0] == 0
    # Erased, the student's progress stays (under the id, a pseudonym); only the name went.
    after = (await _class_view(api, lesson, users["teacher"]))[str(student)]
    assert {k: v for k, v in after.items() if k != "student_name"} == {
        k: v for k, v in before.items() if k != "student_name"}


async def test_another_tenants_profile_never_names_a_student(api, worker, accounts, infra, admin_connection):
    users = await accounts.tenant_with_users(f"mine-{uuid.uuid4().hex[:6]}")
    other = await accounts.tenant_with_users(f"theirs-{uuid.uuid4().hex[:6]}")
    other_tenant = uuid.UUID(claims(other["teacher"])["tid"])
    lesson = await _lesson(infra, admin_connection, users["teacher"], seek_policy="FREE")
    student = uuid.UUID(claims(users["student"])["sub"])
    await _watching(infra, admin_connection, lesson, student)

    # A profile for the same user id published under another tenant (a bug or a forgery) comes first.
    await _profile(infra, other_tenant, student, "Intruder")
    await wait_for_row(admin_connection, "SELECT count(*) = 1 FROM progress.display_names WHERE user_id = %s "
                       "AND tenant_id = %s", (student, other_tenant))
    assert (await _class_view(api, lesson, users["teacher"]))[str(student)]["student_name"] is None
    await _profile(infra, lesson.tenant_id, student, "Grace Hopper")
    await _name_is(api, lesson, users["teacher"], student, "Grace Hopper")
    # Nor does the other tenant's erasure touch this tenant's name.
    await _tombstone(infra, other_tenant, student)
    await wait_for_row(admin_connection, "SELECT count(*) = 0 FROM progress.display_names WHERE user_id = %s "
                       "AND tenant_id = %s", (student, other_tenant))
    assert (await _class_view(api, lesson, users["teacher"]))[str(student)]["student_name"] == "Grace Hopper"


async def test_rebuild_gives_the_same_names_and_never_brings_an_erased_one_back(progress_settings, start_worker,
                                                                                accounts, infra, admin_connection,
                                                                                api):
    users = await accounts.tenant_with_users(f"renames-{uuid.uuid4().hex[:6]}")
    kept, erased = uuid.UUID(claims(users["student"])["sub"]), uuid.uuid4()
    async with start_worker():
        lesson = await _lesson(infra, admin_connection, users["teacher"], seek_policy="FREE")
        for student in (kept, erased):
            await _watching(infra, admin_connection, lesson, student)
        await _profile(infra, lesson.tenant_id, kept, "Alan Turing")
        await _profile(infra, lesson.tenant_id, erased, "Joan Clarke")
        await _profile(infra, lesson.tenant_id, kept, "A. M. Turing")
        await _name_is(api, lesson, users["teacher"], kept, "A. M. Turing")
        await _name_is(api, lesson, users["teacher"], erased, "Joan Clarke")
        await _tombstone(infra, lesson.tenant_id, erased)
        await _name_is(api, lesson, users["teacher"], erased, None)
        live = {student: item["student_name"] for student, item in (await _class_view(api, lesson, users["teacher"])).items()}
        rows = _names(admin_connection, lesson)
    assert live == {str(kept): "A. M. Turing", str(erased): None} and len(rows) == 1

    assert await rebuild(ServiceContext("progress", progress_settings), out=_Capture()) == 0
    assert _names(admin_connection, lesson) == rows
    rebuilt = {student: item["student_name"] for student, item in (await _class_view(api, lesson, users["teacher"])).items()}
    assert rebuilt == live


def _names(admin_connection, lesson: Lesson) -> list[tuple]:
    return admin_connection.execute("SELECT user_id, display_name, updated_at FROM progress.display_names "
                                    "WHERE tenant_id = %s ORDER BY user_id", (lesson.tenant_id,)).fetchall()


# --- a teacher's re-scoring (assessment.attempt.score_overridden.v1) ------------------------------------

async def _override(infra, lesson: Lesson, student: uuid.UUID, at: datetime, *, score: str, previous: str,
                    best: str) -> list:
    return await publish(infra, "assessment.events", [assessment.AttemptScoreOverridden(
        attempt_id=uuid.uuid4(), student_id=student, question_id=lesson.question_id,
        milestone_id=lesson.milestone_id, video_id=lesson.video_id, lesson_id=lesson.lesson_id, attempt_number=1,
        score=score, previous_score=previous, graded_score=0, max_score=1, best_score=best,
        reason="right, in other words", overridden_at=at),
        _lesson_graded(lesson, student, at, str(Decimal(best) * 100), "OVERRIDDEN")], tenant_id=lesson.tenant_id,
        producer="assessment", actor_id=lesson.teacher_id)


async def _average_is(api, lesson: Lesson, student: dict[str, str], average: float) -> None:
    async def shown() -> bool:
        answer = await api.get(f"/v1/lessons/{lesson.lesson_id}/progress", headers=student)
        assert answer.status_code == 200, answer.text
        items = answer.json()["items"]
        return len(items) == 1 and items[0]["average_score"] == average

    await eventually(shown, timeout=30, message=f"the student's average_score is not {average}")


async def test_a_score_override_counts_as_if_graded_so_and_a_redelivery_changes_nothing(
        progress_settings, start_worker, accounts, infra, admin_connection, api):
    users = await accounts.tenant_with_users(f"override-{uuid.uuid4().hex[:6]}")
    student = uuid.UUID(claims(users["student"])["sub"])
    async with start_worker():
        lesson = await _lesson(infra, admin_connection, users["teacher"], seek_policy="FREE")
        await _attempt(infra, lesson, student, T0 + timedelta(seconds=35), correct=False)
        await _average_is(api, lesson, users["student"], 0.0)

        with psycopg.connect(infra.admin_database_url(), autocommit=True) as listener:
            listener.execute("LISTEN cuepoint_progress")
            raised = await _override(infra, lesson, student, T0 + timedelta(seconds=40), score="1", previous="0",
                                     best="1")
            await _average_is(api, lesson, users["student"], 100.0)
            # What the student's and the teacher's streams are woken by, as for a grading: at once (urgent).
            notices = [json.loads(n.payload) for n in listener.notifies(timeout=1)]
            assert {"tenant_id": str(lesson.tenant_id), "student_id": str(student),
                    "lesson_id": str(lesson.lesson_id), "urgent": True} in notices

        # A second thought lowers it (the event's best score replaces ours, GREATEST could not)…
        await _override(infra, lesson, student, T0 + timedelta(seconds=50), score="0.5", previous="1", best="0.5")
        await _average_is(api, lesson, users["student"], 50.0)
        # … and the first override delivered again must not bring 100 back.
        await publish_envelopes(infra, "assessment.events", raised)
        # Behind the duplicate on the student's partition: a grading of a question progress does not count.
        sentinel = uuid.uuid4()
        await publish(infra, "assessment.events", [assessment.AttemptGraded(
            attempt_id=uuid.uuid4(), student_id=student, question_id=sentinel, milestone_id=None,
            lesson_id=lesson.lesson_id, attempt_number=1, max_attempts=1, is_correct=True, score=1, max_score=1,
            milestone_answered=True, answered_at=T0 + timedelta(seconds=60))], tenant_id=lesson.tenant_id,
            producer="assessment", actor_id=student)
        await wait_for_row(admin_connection, "SELECT count(*) = 1 FROM progress.question_results WHERE question_id = %s",
                           (sentinel,))
        assert _row(admin_connection, "SELECT best_score FROM progress.question_results WHERE student_id = %s AND "
                    "question_id = %s", student, lesson.question_id)[0] == 0.5
        await _average_is(api, lesson, users["student"], 50.0)
        live = _checksum(admin_connection, lesson)

    assert await rebuild(ServiceContext("progress", progress_settings), out=_Capture()) == 0
    assert _checksum(admin_connection, lesson) == live


# --- a video renamed, moved or deleted in a lesson's draft ----------------------------------------------

async def test_a_video_deleted_from_the_draft_plays_on_in_the_published_version_and_leaves_an_unpublished_one(
        api, worker, accounts, infra, admin_connection):
    users = await accounts.tenant_with_users(f"deleted-{uuid.uuid4().hex[:6]}")
    student = uuid.UUID(claims(users["student"])["sub"])
    lesson = await _lesson(infra, admin_connection, users["teacher"], seek_policy="FREE")
    changes = await publish(infra, "content.events", [
        content.VideoUpdated(video_id=lesson.video_id, lesson_id=lesson.lesson_id, title="Light, retitled",
                             position=3),
        content.VideoDeleted(video_id=lesson.video_id, lesson_id=lesson.lesson_id,
                             milestone_ids=[lesson.milestone_id], in_published_version=True),
    ], tenant_id=lesson.tenant_id, producer="content", actor_id=lesson.teacher_id)
    await wait_for_row(admin_connection, "SELECT count(*) = 2 FROM progress.inbox WHERE event_id = ANY(%s)",
                       ([e.event_id for e in changes],))
    assert _row(admin_connection, "SELECT deleted, duration FROM progress.videos WHERE id = %s",
                lesson.video_id) == (True, 60.0)

    # The published version still plays it, required milestone (at 30 s) and all, until a publication
    # leaves it out.
    await _telemetry(infra, lesson, [_heartbeat(lesson, student, "phone", s, s + 10, T0 + timedelta(seconds=s + 10))
                                     for s in range(0, 30, 10)])
    await wait_for_row(admin_connection, "SELECT count(*) = 1 FROM progress.student_progress WHERE student_id = %s "
                       "AND lesson_id = %s AND status = 'IN_PROGRESS' AND completion_percent > 0",
                       (student, lesson.lesson_id))
    await _attempt(infra, lesson, student, T0 + timedelta(seconds=35), correct=True)
    await wait_for_row(admin_connection, "SELECT count(*) = 1 FROM progress.question_results WHERE student_id = %s",
                       (student,))
    await _telemetry(infra, lesson, [_heartbeat(lesson, student, "phone", s, s + 10, T0 + timedelta(seconds=s + 10))
                                     for s in range(30, 60, 10)])

    async def completed() -> bool:
        answer = await api.get(f"/v1/lessons/{lesson.lesson_id}/progress", headers=users["student"])
        item = answer.json()["items"][0]
        return item["status"] == "COMPLETED" and item["completion_percent"] == 100

    await eventually(completed, timeout=30, message="the published version's deleted video no longer counts")

    # A lesson never published has only its draft: a video deleted from it counts for nothing.
    draft = Lesson(lesson.tenant_id, lesson.teacher_id, uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4())
    dropped = uuid.uuid4()
    await publish(infra, "content.events", [
        content.LessonCreated(lesson_id=draft.lesson_id, title="Respiration", created_by_id=draft.teacher_id),
        *[content.VideoUploaded(video_id=video, lesson_id=draft.lesson_id, title="Part", storage_path="gs://b/o",
                                content_type="video/mp4", size_bytes=1000, checksum="AAAAAA==", duration_seconds=60.0)
          for video in (draft.video_id, dropped)],
        content.VideoDeleted(video_id=dropped, lesson_id=draft.lesson_id),
    ], tenant_id=draft.tenant_id, producer="content", actor_id=draft.teacher_id)
    await wait_for_row(admin_connection, "SELECT count(*) = 1 FROM progress.videos WHERE id = %s AND deleted",
                       (dropped,))
    await wait_for_row(admin_connection, "SELECT count(*) = 1 FROM progress.videos WHERE id = %s", (draft.video_id,))
    await _telemetry(infra, draft, [_heartbeat(draft, student, "phone", s, s + 10, T0 + timedelta(seconds=s + 110))
                                    for s in range(0, 60, 10)])
    await wait_for_row(admin_connection, "SELECT count(*) = 1 FROM progress.student_progress WHERE student_id = %s "
                       "AND lesson_id = %s AND status = 'COMPLETED' AND completion_percent = 100",
                       (student, draft.lesson_id), message="the deleted draft video still counts")


async def test_average_score_is_the_lesson_grade_assessment_announces(progress_settings, start_worker, accounts,
                                                                      infra, admin_connection, api):
    users = await accounts.tenant_with_users(f"grade-{uuid.uuid4().hex[:6]}")
    student = uuid.UUID(claims(users["student"])["sub"])
    async with start_worker():
        lesson = await _lesson(infra, admin_connection, users["teacher"], seek_policy="FREE")
        other = uuid.uuid4()  # a second question, on the same milestone
        await publish(infra, "assessment.events", [assessment.QuestionApproved(
            question_id=other, milestone_id=lesson.milestone_id, lesson_id=lesson.lesson_id, type="TRUE_FALSE",
            points=3)], tenant_id=lesson.tenant_id, producer="assessment", actor_id=lesson.teacher_id)
        at = T0 + timedelta(seconds=35)
        answers = [assessment.AttemptGraded(
            attempt_id=uuid.uuid4(), student_id=student, question_id=question, milestone_id=lesson.milestone_id,
            video_id=lesson.video_id, lesson_id=lesson.lesson_id, attempt_number=1, max_attempts=1,
            is_correct=right, score=score, max_score=points, milestone_answered=True, attempts_left=0,
            time_taken_ms=1000, answered_at=at)
            for question, right, score, points in ((lesson.question_id, True, 1, 1), (other, False, 0, 3))]
        # The grade weighs by points: 1 of 4 = 25 % (an average of the answers' percents would say 50).
        grade = assessment.LessonGraded(
            student_id=student, lesson_id=lesson.lesson_id, score=1, max_score=4, percent="25.00", passed=False,
            passing_threshold=70, questions_answered=2, questions_counted=2, reason="ANSWERED", graded_at=at)
        await publish(infra, "assessment.events", [*answers, grade], tenant_id=lesson.tenant_id,
                      producer="assessment", actor_id=student)
        await _average_is(api, lesson, users["student"], 25.0)
        announced = await read_topic(infra, "progress.events", lambda e: e["event_type"] ==
                                     "progress.lesson.progressed.v1" and e["data"]["student_id"] == str(student)
                                     and e["data"]["average_score"] == "25.00", expect=1)
        assert announced
        # The threshold changed (passed re-evaluated, same percent) or the same grade again: nothing moves.
        regraded = grade.model_copy(update={"passed": True, "passing_threshold": 20, "reason": "THRESHOLD_CHANGED",
                                            "graded_at": at + timedelta(seconds=5)})
        await publish(infra, "assessment.events", [regraded], tenant_id=lesson.tenant_id, producer="assessment",
                      actor_id=student)
        await wait_for_row(admin_connection, "SELECT passed FROM progress.lesson_scores WHERE student_id = %s",
                           (student,))
        await _average_is(api, lesson, users["student"], 25.0)


async def test_a_rebuild_refuses_while_a_worker_runs_and_a_worker_waits_for_a_rebuild(progress_settings,
                                                                                      admin_connection) -> None:
    """`python -m cuepoint.progress worker` (run_worker itself) and `rebuild --yes` exclude each other."""
    lock_rows = ("SELECT granted FROM pg_locks, (SELECT hashtextextended('cuepoint.projections.progress', 0) AS key) "
                 "wanted WHERE locktype = 'advisory' AND mode = 'ShareLock' AND objsubid = 1 "
                 "AND classid::bigint = (key >> 32) & 4294967295 AND objid::bigint = key & 4294967295 "
                 "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())")

    async def worker_lock(granted: bool) -> None:
        for _ in range(300):
            if (granted,) in admin_connection.execute(lock_rows).fetchall():
                return
            await asyncio.sleep(0.1)
        raise AssertionError(f"no worker {'holding' if granted else 'waiting for'} the projection lock")

    marker = uuid.uuid4()
    admin_connection.execute("INSERT INTO progress.inbox (consumer_group, event_id, topic, partition, \"offset\") "
                             "VALUES ('progress.playback', %s, 'marker', 0, 0)",
                             (marker,))
    stop = asyncio.Event()
    worker = asyncio.create_task(run_worker(spec(), ServiceContext("progress", progress_settings), stop))
    try:
        await worker_lock(granted=True)
        out = _Capture()
        assert await rebuild(ServiceContext("progress", progress_settings), out=out) == 2
        assert "not rebuilt: 1 worker process of progress running would race the replay" in out.text
        assert "deploy/local/services.sh down" in out.text
        assert _row(admin_connection, "SELECT count(*) FROM progress.inbox WHERE event_id = %s", marker) == (1,), \
            "a refused rebuild empties nothing"
    finally:
        stop.set()
        await worker

    # The other way round: a worker started while a rebuild holds the lock waits until it ends.
    owner = psycopg.connect(db.libpq_dsn(progress_settings.owner_database_url), autocommit=True)
    stop = asyncio.Event()
    try:
        assert owner.execute("SELECT pg_try_advisory_lock(hashtextextended('cuepoint.projections.progress', 0))"
                             ).fetchone()[0]
        worker = asyncio.create_task(run_worker(spec(), ServiceContext("progress", progress_settings), stop))
        await worker_lock(granted=False)
    finally:
        owner.close()  # the rebuild ends
    try:
        await worker_lock(granted=True)
    finally:
        stop.set()
        await worker


async def test_a_score_from_before_grades_were_announced_is_kept_until_the_next_grade(
        progress_settings, start_worker, accounts, infra, admin_connection, api):
    users = await accounts.tenant_with_users(f"legacy-{uuid.uuid4().hex[:6]}")
    student = uuid.UUID(claims(users["student"])["sub"])
    async with start_worker():
        lesson = await _lesson(infra, admin_connection, users["teacher"], seek_policy="FREE")
        await _watching(infra, admin_connection, lesson, student)
        # A score progress computed itself before assessment announced lesson grades (no lesson_scores row).
        admin_connection.execute("UPDATE progress.student_progress SET average_score = 80 WHERE student_id = %s",
                                 (student,))
        await _telemetry(infra, lesson, [_heartbeat(lesson, student, "laptop", 10, 20, T0 + timedelta(seconds=20))])
        await wait_for_row(admin_connection, "SELECT count(*) = 1 FROM progress.video_progress WHERE student_id = %s "
                           "AND last_heartbeat_at = %s", (student, T0 + timedelta(seconds=20)))
        await _average_is(api, lesson, users["student"], 80.0)
        await _attempt(infra, lesson, student, T0 + timedelta(seconds=35), correct=True)
        await _average_is(api, lesson, users["student"], 100.0)

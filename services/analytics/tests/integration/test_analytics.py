"""Ingest, the projections and dashboards on a known event set, the audit chain, partitions,
rebuild, duplicates and erasure — on the real PostgreSQL and Kafka."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import psycopg
import pytest
from aiokafka import AIOKafkaProducer

from cuepoint.analytics.bootstrap import REBUILT, ensure_partitions, rebuild
from cuepoint.analytics.stream import ClientEventStream
from cuepoint.analytics.use_cases.ingest import RecordClientEvents, record_client_events
from cuepoint.analytics.views import AI_USAGE_SQL, TEACHER_ANALYTICS_SQL
from cuepoint.contracts import analytics, assessment, content, identity, progress
from cuepoint.runtime.auth import CurrentUser, Role
from cuepoint.runtime.errors import Unavailable
from cuepoint.runtime.service import ServiceContext
from tests.support.accounts import Accounts
from tests.support.streams import claims, publish, publish_envelopes, read_topic, wait_for_row

pytestmark = pytest.mark.integration


NUMBER = re.compile(r"^-?\d+(\.\d+)?(E-?\d+)?$", re.IGNORECASE)


def _numeric_strings(value, where: str = "") -> list[str]:
    """Where a number travels as a string, or unrounded (more than 6 decimals)."""
    if isinstance(value, dict):
        return [p for key, item in value.items() for p in _numeric_strings(item, f"{where}.{key}")]
    if isinstance(value, list):
        return [p for index, item in enumerate(value) for p in _numeric_strings(item, f"{where}[{index}]")]
    if isinstance(value, str) and NUMBER.match(value):
        return [f"{where}: {value!r}"]
    if isinstance(value, float) and round(value, 6) != value:
        return [f"{where}: {value!r} is not rounded"]
    return []


def _heartbeat(lesson, video, start, end, **extra):
    return {"id": str(uuid.uuid4()), "type": "video.heartbeat", "lesson_id": str(lesson), "video_id": str(video),
            "position": end, "played": [{"start": start, "end": end}], **extra}


async def test_ingest_validates_each_event_and_publishes_the_valid_ones(api, accounts: Accounts, infra,
                                                                       admin_connection):
    student = await accounts.login("student@example.com")
    lesson, video = uuid.uuid4(), uuid.uuid4()
    # The ingest takes events for the tenant's own lessons and videos, as content's events made them known.
    admin_connection.execute("INSERT INTO analytics.lessons (id, tenant_id, title, created_by_id, updated_at) "
                             "VALUES (%s, %s, 'Ingest', %s, now())", (lesson, claims(student)["tid"], uuid.uuid4()))
    admin_connection.execute("INSERT INTO analytics.videos (tenant_id, id, lesson_id, updated_at) "
                             "VALUES (%s, %s, %s, now())", (claims(student)["tid"], video, lesson))
    batch = {"device_id": "laptop-1", "events": [
        _heartbeat(lesson, video, 0, 10),
        {"type": "video.teleport", "lesson_id": str(lesson)},                       # unknown type
        {"type": "video.play", "lesson_id": "not-a-uuid", "video_id": str(video), "position": 1},
        {"type": "navigation", "path": "/lessons/42"},
        _heartbeat(lesson, video, 10, 5),                                           # runs backwards
        {"type": "error", "message": "player crashed", "source": "hls.js"},
        {"type": "error", "message": "bad \u0000 byte"},                             # PostgreSQL cannot store NUL
    ]}
    response = await api.post("/v1/events", json=batch, headers={**student, "User-Agent": "Firefox/140"})
    assert response.status_code == 202, response.text
    result = response.json()
    assert result["accepted"] == 3 and [r["index"] for r in result["rejected"]] == [1, 2, 4, 6]
    assert result["received_at"].endswith("Z")
    assert "video.teleport" in json.dumps(result["rejected"][0]) and "lesson_id" in json.dumps(result["rejected"][1])
    assert "before it starts" in json.dumps(result["rejected"][2])
    assert "NUL" in result["rejected"][3]["errors"][0]["message"]
    published = await read_topic(infra, "analytics.client-events", lambda e: e["data"]["device_id"] == "laptop-1",
                                 expect=3)
    assert len(published) == 3
    assert {e["data"]["event"]["type"] for e in published} == {"video.heartbeat", "navigation", "error"}
    assert {e["key"] for e in published} == {claims(student)["sub"]}  # keyed by the user, from the token
    assert all(e["data"]["user_agent"] == "Firefox/140" and e["tenant_id"] == claims(student)["tid"]
               for e in published)

    too_many = await api.post("/v1/events", headers=student, json={"device_id": "d", "events": [
        {"type": "navigation", "path": "/"}] * 501})
    assert too_many.status_code == 422 and "at most 500" in too_many.json()["detail"]
    huge = await api.post("/v1/events", headers={**student, "Content-Type": "application/json"},
                          content=json.dumps({"device_id": "d", "events": [
                              {"type": "error", "message": "x" * 1900}] * 600}))
    assert huge.status_code == 413 and huge.headers["content-type"].startswith("application/problem+json")
    assert (await api.post("/v1/events", json=batch)).status_code == 401
    assert (await api.post("/v1/events", headers=student, content=b"{nope")).status_code == 422


async def test_ingest_answers_503_when_the_broker_does_not_acknowledge():
    def units(tenant_id):  # the batch names no lesson, video or question: nothing to look up
        raise AssertionError("no unit of work is needed for this batch")

    unreachable = ClientEventStream("127.0.0.1:1", topic_prefix="nowhere.", ack_timeout=2)
    actor = CurrentUser(id=uuid.uuid4(), tenant_id=uuid.uuid4(), role=Role.STUDENT)
    with pytest.raises(Unavailable, match="unavailable"):
        await record_client_events(RecordClientEvents(actor, "d", [{"type": "navigation", "path": "/"}]), units,
                                   stream=unreachable)
    await unreachable.close()


@pytest.fixture
async def world(accounts: Accounts):
    """A tenant of its own: admin, teacher and student auth headers."""
    return await accounts.tenant_with_users(f"an-{uuid.uuid4().hex[:6]}")


async def test_dashboards_give_the_numbers_a_hand_computation_gives(api, worker, world, infra, admin_connection):
    teacher, student, admin = world["teacher"], world["student"], world["admin"]
    tenant = uuid.UUID(claims(teacher)["tid"])
    teacher_id = uuid.UUID(claims(teacher)["sub"])
    lesson, video, milestone = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    students = [uuid.UUID(claims(student)["sub"]), uuid.uuid4(), uuid.uuid4()]
    q1, q2 = uuid.uuid4(), uuid.uuid4()
    now = datetime.now(UTC)
    await publish(infra, "content.events", [
        content.LessonCreated(lesson_id=lesson, title="Cells", created_by_id=teacher_id),
        content.MilestoneCreated(milestone_id=milestone, video_id=video, lesson_id=lesson, timestamp=12.0,
                                 title="Check", is_required=True)], tenant_id=tenant, producer="content",
        actor_id=teacher_id)
    # Progress of two students: 50 % and 100 %, scores 60 and 80, 100 s and 300 s.
    await publish(infra, "progress.events", [
        progress.LessonProgressed(student_id=students[0], lesson_id=lesson, completion_percent=50, average_score=60,
                                  total_time_spent=100, status="IN_PROGRESS"),
        progress.LessonCompleted(student_id=students[1], lesson_id=lesson, completion_percent=100, average_score=80,
                                 total_time_spent=300, completed_at=now)], tenant_id=tenant, producer="progress")
    # Question 1 (choice): first attempts right, wrong, right; the wrong one picked b.
    attempts = []
    for student_id, right, picked in ((students[0], True, ["a"]), (students[1], False, ["b"]),
                                      (students[2], True, ["a"])):
        attempts.append(assessment.AttemptGraded(
            attempt_id=uuid.uuid4(), student_id=student_id, question_id=q1, milestone_id=milestone, video_id=video,
            lesson_id=lesson, attempt_number=1, max_attempts=3, is_correct=right, score=1 if right else 0,
            max_score=1, milestone_answered=right, selected_options=picked, answered_at=now))
    # Question 2: only the students who got q1 right get it right (a perfectly discriminating pair).
    for student_id, right in ((students[0], True), (students[1], False), (students[2], True)):
        attempts.append(assessment.AttemptGraded(
            attempt_id=uuid.uuid4(), student_id=student_id, question_id=q2, milestone_id=milestone, video_id=video,
            lesson_id=lesson, attempt_number=1, max_attempts=3, is_correct=right, score=2 if right else 0,
            max_score=2, milestone_answered=right, answered_at=now))
    usage = [assessment.AIUsageRecorded(usage_log_id=uuid.uuid4(), request_type="QUESTION_GENERATION",
                                        provider="OPENAI", model="m", tokens_in=100, tokens_out=50, tokens_used=150,
                                        cost=Decimal("0.25"), response_time=400, success=True) for _ in range(2)]
    generation = [assessment.QuestionsGenerated(job_id=uuid.uuid4(), lesson_id=lesson, provider="OPENAI", model="m",
                                                questions=[]),
                  assessment.GenerationFailed(job_id=uuid.uuid4(), lesson_id=lesson, provider="OPENAI", model="m",
                                              reason="budget")]
    await publish(infra, "assessment.events", [*attempts, *usage, *generation], tenant_id=tenant,
                  producer="assessment")
    # Telemetry through the ingest (once analytics knows the video is this tenant's): one student watches
    # 0–15 s then rewatches 5–10 s; another 0–5 s.
    await wait_for_row(admin_connection, "SELECT count(*) = 1 FROM analytics.videos WHERE id = %s", (video,))
    assert (await api.post("/v1/events", headers=student, json={"device_id": "tab", "events": [
        _heartbeat(lesson, video, 0, 15), _heartbeat(lesson, video, 5, 10),
        {"type": "error", "message": "stalled"}]})).status_code == 202
    assert (await api.post("/v1/events", headers=teacher, json={"device_id": "t", "events": [
        _heartbeat(lesson, video, 0, 5)]})).status_code == 202

    await wait_for_row(admin_connection, "SELECT count(*) = 2 FROM analytics.student_progress WHERE lesson_id = %s",
                       (lesson,))
    await wait_for_row(admin_connection, "SELECT count(*) = 6 FROM analytics.question_results WHERE lesson_id = %s",
                       (lesson,))
    await wait_for_row(admin_connection, "SELECT count(*) = 2 FROM analytics.student_video_buckets "
                       "WHERE video_id = %s", (video,))
    await wait_for_row(admin_connection, "SELECT count(*) = 2 FROM analytics.generation_outcomes WHERE lesson_id = %s",
                       (lesson,))

    lessons = (await api.get("/v1/dashboards/lessons", headers=teacher)).json()["items"]
    assert len(lessons) == 1 and lessons[0]["title"] == "Cells" and lessons[0]["enrolled_students"] == 2
    assert Decimal(lessons[0]["avg_completion"]) == 75 and Decimal(lessons[0]["avg_score"]) == 70
    assert Decimal(lessons[0]["avg_time_spent"]) == 200

    items = {i["question_id"]: i for i in (await api.get(f"/v1/dashboards/lessons/{lesson}/questions",
                                                          headers=teacher)).json()["items"]}
    assert Decimal(items[str(q1)]["difficulty"]).quantize(Decimal("0.001")) == Decimal("0.667")
    assert items[str(q1)]["option_picks"] == {"a": 2, "b": 1} and items[str(q1)]["students"] == 3
    assert pytest.approx(float(items[str(q1)]["discrimination"])) == 1.0

    engagement = (await api.get(f"/v1/dashboards/videos/{video}/engagement", headers=teacher)).json()
    buckets = {b["start"]: b for b in engagement["buckets"]}
    assert {s: (b["views"], b["rewatches"], b["drop_off"]) for s, b in buckets.items()} == {
        0: (2, 0, 1), 5: (1, 1, 0), 10: (1, 0, 1)}
    assert engagement["milestones"][0]["timestamp"] == 12.0

    rates = (await api.get("/v1/dashboards/rates", headers=teacher)).json()
    row = [r for r in rates["lessons"] if r["lesson_id"] == str(lesson)][0]
    assert (row["started"], row["completed"], Decimal(row["completion_rate"])) == (2, 1, 50)
    today = [d for d in rates["days"] if d["day"] == datetime.now(UTC).date().isoformat()][0]
    assert (today["active_users"], today["events"], today["client_errors"]) == (2, 4, 1)

    ai = (await api.get("/v1/dashboards/ai-usage", headers=admin)).json()
    assert ai["months"][0]["total_requests"] == 2 and Decimal(ai["months"][0]["total_cost"]) == Decimal("0.5")
    assert ai["generation"] == [{"provider": "OPENAI", "jobs": 2, "succeeded": 1, "success_rate": 50.0}]
    assert (await api.get("/v1/dashboards/ai-usage", headers=teacher)).status_code == 403

    # For the web client: JSON numbers (PostgreSQL's Decimals were strings such as "0E-20"), rounded; UTC times.
    assert (lessons[0]["avg_completion"], lessons[0]["avg_score"], lessons[0]["avg_time_spent"]) == (75, 70, 200)
    assert items[str(q1)]["difficulty"] == 0.6667 and items[str(q1)]["average_attempts"] == 1
    assert row["completion_rate"] == 50 and ai["months"][0]["total_cost"] == 0.5
    assert ai["months"][0]["avg_response_time"] == 400 and ai["months"][0]["month"].endswith("Z")
    for body in (lessons, list(items.values()), engagement, rates, ai):
        assert _numeric_strings(body) == []

    csv = await api.get("/v1/dashboards/lessons", headers=teacher, params={"format": "csv"})
    assert csv.headers["content-type"].startswith("text/csv")
    assert csv.text.splitlines()[0] == "title,enrolled_students,avg_completion,avg_score,avg_time_spent"
    assert csv.text.splitlines()[1].startswith("Cells,2,")

    bad_range = await api.get("/v1/dashboards/rates", headers=teacher, params={"start": "2026-05-01",
                                                                             "end": "2026-04-01"})
    assert bad_range.status_code == 422
    assert (await api.get(f"/v1/dashboards/lessons/{uuid.uuid4()}/questions", headers=teacher)).status_code == 404

    # The seed's Teacher Analytics and AI Usage queries, verbatim, as the service's role.
    with psycopg.connect(worker.settings.runtime_database_url.replace("postgresql+psycopg", "postgresql")) as c:
        c.execute("SELECT set_config('app.tenant_id', %s, true)", (str(tenant),))
        assert c.execute(TEACHER_ANALYTICS_SQL.replace("$1", "%s"), (teacher_id,)).fetchall()[0][:2] == ("Cells", 2)
        assert c.execute(AI_USAGE_SQL).fetchall()[0][2] == 2


async def test_audit_chain_detects_changed_and_deleted_entries(api, worker, world, infra, admin_connection):
    admin = world["admin"]
    tenant = uuid.UUID(claims(admin)["tid"])
    actor = uuid.UUID(claims(admin)["sub"])
    lessons = [uuid.uuid4() for _ in range(4)]
    await publish(infra, "content.events", [content.LessonCreated(lesson_id=lesson, title=f"L{i}", created_by_id=actor)
                                            for i, lesson in enumerate(lessons)],
                  tenant_id=tenant, producer="content", actor_id=actor)
    await wait_for_row(admin_connection, "SELECT count(*) >= 4 FROM analytics.audit_logs WHERE tenant_id = %s",
                       (tenant,))
    found = (await api.get("/v1/audit-logs", headers=admin, params={"target_id": str(lessons[2])})).json()["items"]
    assert [(e["action"], e["target_type"], e["actor_id"]) for e in found] == [
        ("content.lesson.created", "lesson", str(actor))]
    assert found[0]["occurred_at"].endswith("Z") and isinstance(found[0]["seq"], int)
    assert (await api.get("/v1/audit-logs/verify", headers=admin)).json()["intact"] is True
    assert (await api.get("/v1/audit-logs", headers=world["teacher"])).status_code == 403

    with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
        admin_connection.execute("UPDATE analytics.audit_logs SET action = 'x' WHERE tenant_id = %s", (tenant,))
    seqs = [r[0] for r in admin_connection.execute(
        "SELECT seq FROM analytics.audit_logs WHERE tenant_id = %s ORDER BY seq", (tenant,))]

    def tamper(sql: str, *params) -> None:  # someone with the database's keys, bypassing the trigger
        admin_connection.execute("ALTER TABLE analytics.audit_logs DISABLE TRIGGER audit_logs_append_only")
        try:
            admin_connection.execute(sql, params)
        finally:
            admin_connection.execute("ALTER TABLE analytics.audit_logs ENABLE TRIGGER audit_logs_append_only")

    tamper("UPDATE analytics.audit_logs SET actor_id = %s WHERE tenant_id = %s AND seq = %s", uuid.uuid4(), tenant,
           seqs[1])
    report = (await api.get("/v1/audit-logs/verify", headers=admin)).json()
    assert report["intact"] is False
    assert report["problems"] == [{"seq": seqs[1], "problem": "altered: its content does not match its hash"}]
    tamper("DELETE FROM analytics.audit_logs WHERE tenant_id = %s AND seq = %s", tenant, seqs[2])
    problems = (await api.get("/v1/audit-logs/verify", headers=admin)).json()["problems"]
    assert {"seq": seqs[2], "problem": f"entries {seqs[2]}–{seqs[2]} are missing"} in problems
    tamper("DELETE FROM analytics.audit_logs WHERE tenant_id = %s AND seq = %s", tenant, seqs[-1])
    problems = (await api.get("/v1/audit-logs/verify", headers=admin)).json()["problems"]
    assert any("end of the log was removed" in p["problem"] for p in problems)


async def test_partitions_are_created_ahead_with_tenant_isolation(analytics_context, admin_connection):
    ensure_partitions(analytics_context, 14)
    months = admin_connection.execute(
        "SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity FROM pg_inherits i "
        "JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent "
        "WHERE p.relname = 'analytics_events' AND c.relname <> 'analytics_events_default' ORDER BY 1").fetchall()
    ahead = (datetime.now(UTC).replace(day=1) + timedelta(days=14 * 31)).strftime("%Y_%m")
    assert f"analytics_events_{ahead}" in {m[0] for m in months}
    assert all(enabled and forced for _, enabled, forced in months)
    assert ensure_partitions(analytics_context, 14) == 0  # idempotent


PROJECTED = " UNION ALL ".join(f"SELECT '{t}' || x::text AS row FROM analytics.{t} x WHERE tenant_id = %(t)s"
                               for t in REBUILT)


def _rows(admin_connection, tenant) -> list[str]:
    return sorted(r[0] for r in admin_connection.execute(PROJECTED, {"t": tenant}))


async def test_rebuild_is_identical_duplicates_change_nothing_and_erasure(api, start_worker, analytics_settings, world,
                                                                          infra, admin_connection):
    student = world["student"]
    tenant, student_id = uuid.UUID(claims(student)["tid"]), uuid.UUID(claims(student)["sub"])
    teacher_id = uuid.UUID(claims(world["teacher"])["sub"])
    lesson, video = uuid.uuid4(), uuid.uuid4()
    async with start_worker():
        sent = await publish(infra, "content.events", [
            content.LessonCreated(lesson_id=lesson, title="Rebuilt", created_by_id=teacher_id),
            content.VideoUploaded(video_id=video, lesson_id=lesson, title="Rebuilt", storage_path="gs://b/o",
                                  content_type="video/mp4", size_bytes=1, checksum="x")],
            tenant_id=tenant, producer="content", actor_id=teacher_id)
        await wait_for_row(admin_connection, "SELECT count(*) = 1 FROM analytics.videos WHERE id = %s", (video,))
        assert (await api.post("/v1/events", headers={**student, "User-Agent": "Safari/19"}, json={
            "device_id": "ipad", "events": [_heartbeat(lesson, video, 0, 10), _heartbeat(lesson, video, 5, 20),
                                            {"type": "navigation", "path": "/me/jane.doe@example.com"}]})
                ).status_code == 202
        await wait_for_row(admin_connection, "SELECT count(*) = 3 FROM analytics.analytics_events WHERE user_id = %s "
                           "AND category <> 'domain'", (student_id,))
        await wait_for_row(admin_connection, "SELECT count(*) = 1 FROM analytics.lessons WHERE id = %s", (lesson,))
        await wait_for_row(admin_connection, "SELECT count(*) = 1 FROM analytics.student_video_buckets "
                           "WHERE student_id = %s", (student_id,))
        live = _rows(admin_connection, tenant)
        # Delivered twice: a domain event (deduplicated by the inbox) and the client events (by the event
        # store's key; counts and engagement must not move either).
        await publish_envelopes(infra, "content.events", sent)
        client = await read_topic(infra, "analytics.client-events", lambda e: e["data"]["user_id"] == str(student_id),
                                  expect=3)
        producer = AIOKafkaProducer(bootstrap_servers=infra.bootstrap_servers)
        await producer.start()
        try:
            for envelope in client:
                await producer.send_and_wait(infra.topic_prefix + "analytics.client-events",
                                             json.dumps(envelope).encode(), key=envelope["key"].encode(),
                                             headers=[("event_type", envelope["event_type"].encode())])
        finally:
            await producer.stop()
        # A marker behind them on the same partition (same user key), in a tenant of its own: once it is
        # stored, the duplicates before it have been handled.
        now = datetime.now(UTC)
        marker = await publish(infra, "analytics.client-events", [analytics.ClientEventRecorded(
            user_id=student_id, device_id="marker", client_event_id=uuid.uuid4(), client_occurred_at=now,
            received_at=now, event=analytics.Navigation(path="/marker"))], tenant_id=uuid.uuid4(), producer="analytics")
        await wait_for_row(admin_connection, "SELECT count(*) = 1 FROM analytics.inbox WHERE event_id = %s",
                           (sent[0].event_id,))
        await wait_for_row(admin_connection, "SELECT count(*) = 1 FROM analytics.analytics_events WHERE id = %s",
                           (marker[0].event_id,))
        assert _rows(admin_connection, tenant) == live

    assert await rebuild(ServiceContext("analytics", analytics_settings), out=_Sink()) == 0
    assert _rows(admin_connection, tenant) == live
    assert admin_connection.execute("SELECT count(*) FROM analytics.audit_logs WHERE tenant_id = %s",
                                    (tenant,)).fetchone()[0] >= 1  # the audit log is never rebuilt

    async with start_worker():
        await publish(infra, "identity.events", [identity.UserErased(user_id=student_id)], tenant_id=tenant,
                      producer="identity")
        await wait_for_row(admin_connection, "SELECT count(*) = 0 FROM analytics.analytics_events WHERE user_id = %s "
                           "AND tenant_id = %s AND (data ? 'path' OR data ? 'user_agent' OR device_id IS NOT NULL) "
                           "AND category <> 'domain'", (student_id, tenant), message="personal data survived erasure")
    assert admin_connection.execute("SELECT count(*) FROM analytics.analytics_events WHERE user_id = %s AND "
                                    "tenant_id = %s AND category <> 'domain'", (student_id, tenant)).fetchone()[0] == 3


class _Sink:
    def write(self, text: str) -> None:
        pass

    def flush(self) -> None:
        pass

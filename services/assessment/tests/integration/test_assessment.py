"""Generation (offline and through the openai SDK), budgets, review, attempts and grades,
on the real PostgreSQL and Kafka. Content's side is played by publishing its events."""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import psycopg
import pytest
from sqlalchemy import text

from cuepoint.assessment.runner import CLAIM
from cuepoint.contracts import content, identity
from cuepoint.contracts.registry import parse_envelope
from cuepoint.runtime import db
from tests.support.accounts import Accounts
from tests.support.platform import Infra
from tests.support.streams import claims, publish, read_topic, wait_for_row

pytestmark = pytest.mark.integration

SEGMENTS = [
    (0, 8, "Photosynthesis happens inside chloroplasts. Chlorophyll absorbs sunlight very efficiently."),
    (8, 16, "Plants combine carbon dioxide and water. The reaction releases oxygen into the atmosphere."),
    (16, 25, "Glucose stores the captured energy. Respiration later releases that energy for growth."),
    (25, 40, "Stomata regulate gas exchange through the leaves. Guard cells open stomata during daylight."),
    (40, 55, "Xylem carries water upward from roots. Phloem distributes sugars throughout the plant."),
    (55, 70, "Seasonal changes affect chlorophyll production. Autumn leaves reveal carotenoid pigments."),
]


@dataclass
class World:
    tenant_id: uuid.UUID
    teacher_id: uuid.UUID
    lesson_id: uuid.UUID
    video_id: uuid.UUID
    milestones: list[uuid.UUID]


async def _world(infra: Infra, admin_connection: psycopg.Connection, teacher: dict[str, str], *,
                 publish_lesson: bool = True, auto_generate: bool = False) -> World:
    """A lesson with one video, two milestones and a transcript, as content announces them."""
    who = claims(teacher)
    world = World(tenant_id=uuid.UUID(who["tid"]), teacher_id=uuid.UUID(who["sub"]), lesson_id=uuid.uuid4(),
                  video_id=uuid.uuid4(), milestones=[uuid.uuid4(), uuid.uuid4()])
    events = [
        content.LessonCreated(lesson_id=world.lesson_id, title="Photosynthesis", created_by_id=world.teacher_id,
                              auto_generate_questions=auto_generate),
        content.MilestoneCreated(milestone_id=world.milestones[0], video_id=world.video_id, lesson_id=world.lesson_id,
                                 timestamp=30.0, title="Gas exchange", is_required=True),
        content.MilestoneCreated(milestone_id=world.milestones[1], video_id=world.video_id, lesson_id=world.lesson_id,
                                 timestamp=70.0, title="Transport", is_required=False),
        content.TranscriptReady(transcript_id=uuid.uuid4(), video_id=world.video_id, lesson_id=world.lesson_id,
                                language="en", segment_count=len(SEGMENTS), segments_url="/v1/…",
                                segments=[content.TranscriptSegment(start=s, end=e, text=t) for s, e, t in SEGMENTS]),
    ]
    if publish_lesson:
        events.append(content.LessonPublished(lesson_id=world.lesson_id, version=1, title="Photosynthesis",
                                              created_by_id=world.teacher_id, video_ids=[world.video_id]))
    await publish(infra, "content.events", events, tenant_id=world.tenant_id, producer="content",
                  actor_id=world.teacher_id)
    status = "PUBLISHED" if publish_lesson else "DRAFT"
    await wait_for_row(admin_connection, "SELECT count(*) = 1 FROM assessment.lessons WHERE id = %s AND status = %s",
                       (world.lesson_id, status), message="the lessons projection was not fed")
    await wait_for_row(admin_connection, "SELECT count(*) = 1 FROM assessment.transcripts WHERE video_id = %s",
                       (world.video_id,), message="the transcripts projection was not fed")
    await wait_for_row(admin_connection, "SELECT count(*) = 2 FROM assessment.milestones WHERE video_id = %s",
                       (world.video_id,), message="the milestones projection was not fed")
    return world


async def _run_jobs(generation) -> None:
    while await generation.run_once():
        pass


async def _generate(api, generation, teacher, world: World, **body) -> dict:
    response = await api.post("/v1/generation-jobs", headers=teacher,
                              json={"lesson_id": str(world.lesson_id), **body})
    assert response.status_code == 202, response.text
    await _run_jobs(generation)
    job = await api.get(f"/v1/generation-jobs/{response.json()['id']}", headers=teacher)
    return job.json()


def _events_of(infra, event_type, **match):
    return lambda e: e["event_type"] == event_type and all(e["data"].get(k) == v for k, v in match.items())


async def test_offline_generation_end_to_end(api, generation, worker, accounts: Accounts, infra, admin_connection):
    teacher = await accounts.login("teacher@example.com")
    world = await _world(infra, admin_connection, teacher)

    job = await _generate(api, generation, teacher, world, count_per_milestone=6)
    assert job["status"] == "SUCCEEDED" and job["provider"] == "OFFLINE", job
    assert job["question_count"] == 12

    queue = (await api.get("/v1/questions", headers=teacher, params={"lesson_id": str(world.lesson_id)})).json()
    assert queue["total"] == 12
    assert {q["type"] for q in queue["items"]} == {"MULTIPLE_CHOICE", "TRUE_FALSE", "SHORT_ANSWER",
                                                   "FILL_IN_THE_BLANK", "MATCHING", "ORDERING"}
    assert {q["status"] for q in queue["items"]} == {"PENDING_REVIEW"}
    first = queue["items"][0]
    assert first["milestone_id"] == str(world.milestones[0]) and first["video_id"] == str(world.video_id)
    assert first["ai"]["provider"] == "OFFLINE" and first["ai"]["prompt_version"] == "offline-v2"
    span = first["ai"]["transcript_span"]
    assert 0 <= span[0] < span[1] <= 40  # the window before the 30 s milestone

    published = await read_topic(infra, "assessment.events", _events_of(
        infra, "assessment.questions.generated.v1", job_id=job["id"]), expect=1)
    assert len(published) == 1
    envelope = parse_envelope(json.dumps(published[0]).encode())
    assert {str(q.question_id) for q in envelope.data.questions} == {q["id"] for q in queue["items"]}
    assert envelope.tenant_id == world.tenant_id and envelope.actor_id == world.teacher_id

    usage = admin_connection.execute("SELECT count(*), bool_and(success), sum(cost) FROM assessment.ai_usage_logs "
                                     "WHERE job_id = %s", (uuid.UUID(job["id"]),)).fetchone()
    assert usage == (2, True, Decimal(0))  # one request per milestone, free
    recorded = await read_topic(infra, "assessment.events", lambda e: e["event_type"] ==
                                "assessment.ai_usage.recorded.v1" and e["data"]["provider"] == "OFFLINE", expect=2)
    assert len(recorded) >= 2

    # Students never see pending questions.
    student = await accounts.login("student@example.com")
    seen = await api.get(f"/v1/milestones/{world.milestones[0]}/questions", headers=student)
    assert seen.status_code == 200 and seen.json()["questions"] == []
    assert (await api.get(f"/v1/questions/{first['id']}", headers=student)).status_code == 404


async def test_generation_runs_on_transcript_ready_when_the_lesson_asks(generation, worker, accounts, infra,
                                                                        admin_connection):
    teacher = await accounts.login("teacher@example.com")
    world = await _world(infra, admin_connection, teacher, auto_generate=True)
    # The transcript and the milestones arrive in any order; every milestone is covered exactly once.
    await wait_for_row(admin_connection, "SELECT count(DISTINCT m) = 2 FROM assessment.generation_jobs, "
                       "unnest(milestone_ids) m WHERE lesson_id = %s AND trigger = 'AUTOMATIC'", (world.lesson_id,))
    await _run_jobs(generation)
    covered = admin_connection.execute(
        "SELECT m, count(*) FROM assessment.generation_jobs, unnest(milestone_ids) m WHERE lesson_id = %s "
        "AND status = 'SUCCEEDED' GROUP BY m", (world.lesson_id,)).fetchall()
    assert sorted(covered) == sorted((m, 1) for m in world.milestones)
    assert admin_connection.execute("SELECT count(*) FROM assessment.questions WHERE lesson_id = %s",
                                    (world.lesson_id,)).fetchone()[0] == 4  # 2 per milestone (the setting)
    # A milestone added later is covered on its own.
    late = uuid.uuid4()
    await publish(infra, "content.events", [content.MilestoneCreated(
        milestone_id=late, video_id=world.video_id, lesson_id=world.lesson_id, timestamp=60.0, title="Late",
        is_required=False)], tenant_id=world.tenant_id, producer="content", actor_id=world.teacher_id)
    await wait_for_row(admin_connection, "SELECT count(*) = 1 FROM assessment.generation_jobs WHERE %s = "
                       "ANY(milestone_ids) AND milestone_ids = ARRAY[%s]::uuid[]", (late, late))


def _openai_output(types=("MULTIPLE_CHOICE", "TRUE_FALSE")) -> str:
    questions = []
    if "MULTIPLE_CHOICE" in types:
        questions.append({"prompt": "Where does photosynthesis happen?", "explanation": "In chloroplasts.",
                          "difficulty": "EASY", "content": {
                              "type": "MULTIPLE_CHOICE", "options": [{"id": "a", "text": "Chloroplasts"},
                                                                     {"id": "b", "text": "Mitochondria"}],
                              "correct_option_ids": ["a"]}})
    if "TRUE_FALSE" in types:
        questions.append({"prompt": "Photosynthesis releases oxygen.", "explanation": "It does.",
                          "content": {"type": "TRUE_FALSE", "correct": True}})
    return json.dumps({"questions": questions})


async def _openai_configuration(api, admin, fake, **fields) -> dict:
    response = await api.post("/v1/ai-configurations", headers=admin, json={
        "name": f"openai-{uuid.uuid4().hex[:6]}", "provider": "OPENAI", "model": "gpt-test", "base_url": fake.url,
        "api_key": "sk-test-secret", "input_price_per_1k": "0.01", "output_price_per_1k": "0.03", "is_active": True,
        **fields})
    assert response.status_code == 201, response.text
    return response.json()


async def test_openai_provider_retries_429_timeouts_and_bad_json(api, generation, worker, accounts, infra,
                                                                 admin_connection, fake_openai):
    # An organisation of its own: an active OpenAI configuration in the demo organisation would outlive
    # this test's fake server and take over the demo's generation in the end-to-end tests of the run.
    users = await accounts.tenant_with_users(f"openai-{uuid.uuid4().hex[:6]}")
    admin, teacher = users["admin"], users["teacher"]
    configuration = await _openai_configuration(api, admin, fake_openai)
    assert configuration["has_api_key"] and "api_key" not in configuration and "sk-test" not in json.dumps(
        configuration)
    stored = admin_connection.execute("SELECT api_key_encrypted FROM assessment.ai_configurations WHERE id = %s",
                                      (uuid.UUID(configuration["id"]),)).fetchone()[0]
    assert stored.startswith("v2.") and "sk-test-secret" not in stored  # v2.<key id>.<...>

    world = await _world(infra, admin_connection, teacher)
    fake_openai.script = [("status", 429), ("sleep", 2.0), ("raw", "{not json"), ("ok", _openai_output())]
    job = await _generate(api, generation, teacher, world, milestone_ids=[str(world.milestones[0])],
                          count_per_milestone=2, types=["MULTIPLE_CHOICE", "TRUE_FALSE"], provider="OPENAI")
    assert job["status"] == "SUCCEEDED" and job["question_count"] == 2 and job["provider"] == "OPENAI", job
    assert len(fake_openai.requests) == 4 and fake_openai.authorization[0] == "Bearer sk-test-secret"
    sent = fake_openai.requests[-1]
    assert sent["model"] == "gpt-test" and sent["response_format"]["type"] == "json_schema"
    assert "Guard cells open stomata" in sent["messages"][1]["content"]  # the window before the milestone
    assert "Phloem" not in sent["messages"][1]["content"]  # … and nothing after it

    logs = admin_connection.execute(
        "SELECT success, error, tokens_in, tokens_out, tokens_used, cost, response_time FROM assessment.ai_usage_logs "
        "WHERE job_id = %s ORDER BY created_at", (uuid.UUID(job["id"]),)).fetchall()
    assert [row[0] for row in logs] == [False, False, False, True]
    assert "429" in logs[0][1] and "in time" in logs[1][1] and "JSON" in logs[2][1]
    assert logs[2][2:5] == (1200, 300, 1500)  # a malformed answer still used (and cost) tokens
    assert logs[3][5] == Decimal("0.021000")  # 1.2 × 0.01 + 0.3 × 0.03
    assert logs[1][6] >= 900  # the timeout took the configured second

    questions = (await api.get("/v1/questions", headers=teacher, params={"lesson_id": str(world.lesson_id)})).json()
    assert {q["ai"]["model"] for q in questions["items"]} == {"gpt-test"}

    # Output that never validates: the job fails visibly, with its reason, after the configured tries.
    fake_openai.script = [("ok", json.dumps({"questions": [{"prompt": "?", "content": {"type": "ESSAY"}}]}))]
    failed = await _generate(api, generation, teacher, world, milestone_ids=[str(world.milestones[0])],
                             provider="OPENAI")
    assert failed["status"] == "FAILED" and "does not fit the question schema" in failed["error"]
    assert "after 4 tries" in failed["error"]
    announced = await read_topic(infra, "assessment.events", _events_of(
        infra, "assessment.generation.failed.v1", job_id=failed["id"]), expect=1)
    assert announced[0]["data"]["reason"] == failed["error"]

    # A 401 is not worth retrying.
    fake_openai.script = [("status", 401)]
    before = len(fake_openai.requests)
    refused = await _generate(api, generation, teacher, world, provider="OPENAI")
    assert refused["status"] == "FAILED" and "401" in refused["error"] and len(fake_openai.requests) == before + 1

    # The seed's "AI Usage Cost Tracking" query runs verbatim in this schema.
    with psycopg.connect(db.libpq_dsn(generation.settings.runtime_database_url)) as connection:
        connection.execute("SELECT set_config('app.tenant_id', %s, true)", (str(world.tenant_id),))
        rows = connection.execute(SEED_USAGE_QUERY).fetchall()
    assert rows and rows[0][1] == "QUESTION_GENERATION" and rows[0][2] >= 6
    usage = (await api.get("/v1/ai-usage", headers=admin)).json()
    assert Decimal(str(usage["this_month"]["spent_usd"])) >= Decimal("0.021")


SEED_USAGE_QUERY = """
SELECT
    DATE_TRUNC('month', created_at) as month,
    request_type,
    COUNT(*) as total_requests,
    SUM(tokens_used) as total_tokens,
    SUM(cost) as total_cost,
    AVG(response_time) as avg_response_time
FROM ai_usage_logs
WHERE created_at >= CURRENT_DATE - INTERVAL '6 months'
GROUP BY month, request_type
ORDER BY month DESC, total_cost DESC;
"""


async def test_monthly_budget_stops_generation(api, generation, worker, accounts, infra, admin_connection,
                                               fake_openai):
    slug = f"budget-{uuid.uuid4().hex[:6]}"
    users = await accounts.tenant_with_users(slug)
    # $60 a request against the default $50 budget: the first request is allowed, then no more.
    await _openai_configuration(api, users["admin"], fake_openai, input_price_per_1k="50", output_price_per_1k="0")
    world = await _world(infra, admin_connection, users["teacher"])
    fake_openai.script = [("ok", _openai_output())]
    job = await _generate(api, generation, users["teacher"], world, provider="OPENAI", count_per_milestone=2)
    # Milestone one spends $60; milestone two's request is refused before it is made.
    assert job["status"] == "FAILED" and "monthly AI budget of $50.00 is reached ($60.00" in job["error"], job
    assert len(fake_openai.requests) == 1

    refused = await api.post("/v1/generation-jobs", headers=users["teacher"],
                             json={"lesson_id": str(world.lesson_id), "provider": "OPENAI"})
    assert refused.status_code == 429 and "budget" in refused.json()["detail"]
    assert int(refused.headers["Retry-After"]) > 0
    # The free built-in generator still works.
    offline = await _generate(api, generation, users["teacher"], world, provider="OFFLINE", count_per_milestone=1)
    assert offline["status"] == "SUCCEEDED"


async def test_configuration_validation(api, accounts):
    admin = await accounts.login("admin@example.com")
    teacher = await accounts.login("teacher@example.com")
    base = {"name": "x", "provider": "OPENAI", "model": "m"}
    cases = [
        ({**base, "prompt_template": "Questions about {topic}: {transcript}"}, "unknown placeholders"),
        ({**base, "prompt_template": "No transcript here: {count}"}, "must include {transcript}"),
        ({**base, "prompt_template": "{transcript"}, "malformed"),
        ({**base, "is_active": True}, "needs an api_key"),
        ({**base, "temperature": 5}, "temperature"),
        ({**base, "provider": "ANTHROPIC"}, "provider"),
        ({**base, "base_url": "not a url"}, "base_url"),
    ]
    for body, expected in cases:
        response = await api.post("/v1/ai-configurations", headers=admin, json=body)
        assert response.status_code == 422, (body, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        assert expected in json.dumps(response.json()), (expected, response.json())
    assert (await api.post("/v1/ai-configurations", headers=teacher, json=base)).status_code == 403


async def test_review_flow(api, generation, worker, accounts, infra, admin_connection):
    teacher = await accounts.login("teacher@example.com")
    world = await _world(infra, admin_connection, teacher)
    await _generate(api, generation, teacher, world, count_per_milestone=3,
                    types=["TRUE_FALSE", "MULTIPLE_CHOICE", "ORDERING"])
    queue = (await api.get("/v1/questions", headers=teacher, params={
        "lesson_id": str(world.lesson_id), "milestone_id": str(world.milestones[0])})).json()
    assert queue["total"] == 3
    by_type = {q["type"]: q for q in queue["items"]}
    tf, mc, order = by_type["TRUE_FALSE"], by_type["MULTIPLE_CHOICE"], by_type["ORDERING"]

    edited = await api.post(f"/v1/questions/{tf['id']}/approve", headers=teacher, json={
        "prompt": "Chloroplasts are where photosynthesis happens.", "content": {"type": "TRUE_FALSE", "correct": True},
        "points": "2"})
    assert edited.status_code == 200, edited.text
    assert edited.json()["status"] == "APPROVED" and edited.json()["points"] == 2
    assert edited.json()["prompt"].startswith("Chloroplasts")

    rejected = await api.post(f"/v1/questions/{order['id']}/reject", headers=teacher, json={"reason": "Too vague"})
    assert rejected.json()["status"] == "REJECTED" and rejected.json()["rejection_reason"] == "Too vague"
    again = await api.post(f"/v1/questions/{order['id']}/reject", headers=teacher, json={})
    assert again.status_code == 409

    bad_edit = await api.patch(f"/v1/questions/{mc['id']}", headers=teacher, json={
        "content": {"type": "MULTIPLE_CHOICE", "options": [{"id": "a", "text": "x"}], "correct_option_ids": ["z"]}})
    assert bad_edit.status_code == 422

    rest = (await api.get("/v1/questions", headers=teacher, params={
        "lesson_id": str(world.lesson_id), "status": "PENDING_REVIEW"})).json()
    bulk = await api.post("/v1/questions/approve", headers=teacher, json={
        "question_ids": [q["id"] for q in rest["items"]] + [tf["id"], str(uuid.uuid4())]})
    assert bulk.status_code == 200
    assert len(bulk.json()["approved"]) == rest["total"] == 4
    assert {s["reason"] for s in bulk.json()["skipped"]} == {"it is APPROVED", "not found"}

    approved = await read_topic(infra, "assessment.events", lambda e: e["event_type"] ==
                                "assessment.question.approved.v1" and e["data"]["lesson_id"] == str(world.lesson_id),
                                expect=5)
    assert len(approved) == 5 and {e["data"]["question_id"] for e in approved} >= {tf["id"]}
    assert [e["data"]["points"] for e in approved if e["data"]["question_id"] == tf["id"]] == ["2.00"]
    rejections = await read_topic(infra, "assessment.events", _events_of(
        infra, "assessment.question.rejected.v1", question_id=order["id"]), expect=1)
    assert rejections[0]["data"]["reason"] == "Too vague"

    # Another teacher of the same organisation cannot touch this lesson's questions; a student cannot review.
    other = await accounts.tenant_with_users(f"review-{uuid.uuid4().hex[:6]}")
    assert (await api.post(f"/v1/questions/{mc['id']}/approve", headers=other["teacher"])).status_code == 404
    student = await accounts.login("student@example.com")
    assert (await api.get("/v1/questions", headers=student)).status_code == 403


async def _approved_question(api, teacher, world: World, content: dict, **fields) -> dict:
    response = await api.post("/v1/questions", headers=teacher, json={
        "lesson_id": str(world.lesson_id), "milestone_id": str(world.milestones[0]), "prompt": "Question?",
        "explanation": "Because.", "content": content, "approve": True, **fields})
    assert response.status_code == 201, response.text
    return response.json()


async def test_attempts_grading_and_once_only_publication(api, worker, accounts, infra, admin_connection):
    teacher = await accounts.login("teacher@example.com")
    student = await accounts.login("student@example.com")
    world = await _world(infra, admin_connection, teacher)
    choice = await _approved_question(api, teacher, world, {
        "type": "MULTIPLE_CHOICE", "options": [{"id": "a", "text": "Oxygen"}, {"id": "b", "text": "Water"},
                                               {"id": "c", "text": "Glucose"}, {"id": "d", "text": "Iron"}],
        "correct_option_ids": ["a", "c"]}, points="4", retry_penalty="0.25")
    order = await _approved_question(api, teacher, world, {
        "type": "ORDERING", "items": [{"id": "x", "text": "Roots"}, {"id": "y", "text": "Xylem"},
                                      {"id": "z", "text": "Leaves"}], "correct_order": ["x", "y", "z"]},
        max_attempts=1)

    listing = (await api.get(f"/v1/milestones/{world.milestones[0]}/questions", headers=student)).json()
    shown = {q["id"]: q for q in listing["questions"]}
    assert set(shown) == {choice["id"], order["id"]}
    assert "correct_option_ids" not in json.dumps(shown) and "correct_order" not in json.dumps(shown)
    assert shown[choice["id"]]["content"]["multiple_answers"] is True and shown[choice["id"]]["attempts_left"] == 3
    assert [i["id"] for i in shown[order["id"]]["content"]["items"]] != ["x", "y", "z"]

    # Partial credit: one right, one wrong of a two-option key → 0; two right of two → 1 (less the retry penalty).
    key = str(uuid.uuid4())
    first = await api.post(f"/v1/questions/{choice['id']}/attempts", headers={**student, "Idempotency-Key": key},
                           json={"answer": {"option_ids": ["a", "b"]}, "time_taken_ms": 5300})
    assert first.status_code == 201, first.text
    result = first.json()
    assert (result["score"], result["is_correct"], result["attempts_left"]) == (0, False, 2)
    assert "correct_answer" not in result  # not settled: the key stays hidden
    retried = await api.post(f"/v1/questions/{choice['id']}/attempts", headers={**student, "Idempotency-Key": key},
                             json={"answer": {"option_ids": ["a", "b"]}, "time_taken_ms": 5300})
    assert retried.status_code == 201 and retried.json()["replayed"] is True
    assert retried.json()["attempt_id"] == result["attempt_id"]
    misuse = await api.post(f"/v1/questions/{choice['id']}/attempts", headers={**student, "Idempotency-Key": key},
                            json={"answer": {"option_ids": ["c"]}})
    assert misuse.status_code == 422 and "Idempotency-Key" in misuse.json()["detail"]

    half = await api.post(f"/v1/questions/{choice['id']}/attempts", headers=student,
                          json={"answer": {"option_ids": ["a"]}})
    assert half.json()["score"] == 1.5  # ½ of 4 points × (1 − 0.25)
    right = await api.post(f"/v1/questions/{choice['id']}/attempts", headers=student,
                           json={"answer": {"option_ids": ["c", "a"]}})
    assert right.json()["is_correct"] and right.json()["score"] == 2  # 4 × (1 − 2 × 0.25)
    assert right.json()["correct_answer"] == {"option_ids": ["a", "c"]} and right.json()["explanation"] == "Because."
    done = await api.post(f"/v1/questions/{choice['id']}/attempts", headers=student,
                          json={"answer": {"option_ids": ["a", "c"]}})
    assert done.status_code == 409

    # Ordering: one try; a wrong type of answer is 422 and does not use it. The ids are the server's, not the
    # author's x, y, z (which would give the order away); by text, the author's order is Roots, Xylem, Leaves.
    by_text = {i["text"]: i["id"] for i in order["content"]["items"]}
    x, y, z = by_text["Roots"], by_text["Xylem"], by_text["Leaves"]
    wrong_shape = await api.post(f"/v1/questions/{order['id']}/attempts", headers=student,
                                 json={"answer": {"option_ids": ["x"]}})
    assert wrong_shape.status_code == 422 and "ORDERING" in wrong_shape.json()["detail"]
    incomplete = await api.post(f"/v1/questions/{order['id']}/attempts", headers=student,
                                json={"answer": {"order": [x, y]}})
    assert incomplete.status_code == 422 and "every item" in incomplete.json()["detail"]
    ordered = await api.post(f"/v1/questions/{order['id']}/attempts", headers=student,
                             json={"answer": {"order": [y, x, z]}})
    assert ordered.json()["score"] == 0.5 and ordered.json()["attempts_left"] == 0
    assert ordered.json()["correct_answer"] == {"order": [x, y, z]}  # settled: attempts are used up
    past = await api.post(f"/v1/questions/{order['id']}/attempts", headers=student,
                          json={"answer": {"order": [x, y, z]}})
    assert past.status_code == 409 and past.json()["attempts_used"] == 1 and past.json()["max_attempts"] == 1

    # Grades: best score per question against all approved points in scope (4 + 1).
    grades = (await api.get("/v1/grades", headers=student, params={"lesson_id": str(world.lesson_id)})).json()
    by_scope = {g["scope"]: g for g in grades["items"]}
    assert set(by_scope) == {"MILESTONE", "VIDEO", "LESSON"}
    assert (by_scope["LESSON"]["score"], by_scope["LESSON"]["max_score"]) == (2.5, 5)
    assert by_scope["LESSON"]["percent"] == 50 and by_scope["LESSON"]["passed"] is False
    teacher_view = (await api.get("/v1/grades", headers=teacher, params={"lesson_id": str(world.lesson_id)})).json()
    assert teacher_view["total"] == 3

    graded = await read_topic(infra, "assessment.events", lambda e: e["event_type"] ==
                              "assessment.attempt.graded.v1" and e["data"]["lesson_id"] == str(world.lesson_id),
                              expect=4)
    assert len(graded) == 4  # the replayed submission was published once
    by_attempt = {e["data"]["attempt_id"]: e for e in graded}
    first_event = by_attempt[result["attempt_id"]]
    assert first_event["key"] == first_event["data"]["student_id"] == claims(student)["sub"]
    assert first_event["data"] | {"answered_at": None} == first_event["data"] | {
        "question_id": choice["id"], "milestone_id": str(world.milestones[0]), "video_id": str(world.video_id),
        "attempt_number": 1, "max_attempts": 3, "attempts_left": 2, "is_correct": False, "score": "0.00",
        "max_score": "4.00", "milestone_answered": False, "time_taken_ms": 5300, "selected_options": ["a", "b"],
        "answered_at": None}


async def test_questions_a_student_cannot_reach(api, worker, accounts, infra, admin_connection):
    teacher = await accounts.login("teacher@example.com")
    student = await accounts.login("student@example.com")
    draft_lesson = await _world(infra, admin_connection, teacher, publish_lesson=False)
    unpublished = await _approved_question(api, teacher, draft_lesson, {"type": "TRUE_FALSE", "correct": True})
    answer = {"answer": {"value": True}}
    assert (await api.post(f"/v1/questions/{unpublished['id']}/attempts", headers=student,
                           json=answer)).status_code == 404

    world = await _world(infra, admin_connection, teacher)
    draft = (await api.post("/v1/questions", headers=teacher, json={
        "lesson_id": str(world.lesson_id), "prompt": "Draft?", "content": {"type": "TRUE_FALSE", "correct": True}}))
    assert draft.json()["status"] == "DRAFT"
    assert (await api.post(f"/v1/questions/{draft.json()['id']}/attempts", headers=student,
                           json=answer)).status_code == 404

    approved = await _approved_question(api, teacher, world, {"type": "TRUE_FALSE", "correct": True})
    elsewhere = await accounts.tenant_with_users(f"other-{uuid.uuid4().hex[:6]}")
    response = await api.post(f"/v1/questions/{approved['id']}/attempts", headers=elsewhere["student"], json=answer)
    assert response.status_code == 404 and response.headers["content-type"].startswith("application/problem+json")
    assert (await api.post(f"/v1/questions/{approved['id']}/attempts", headers=student,
                           json=answer)).status_code == 201


async def test_concurrent_retries_of_one_submission_count_once(api, worker, accounts, infra, admin_connection):
    teacher = await accounts.login("teacher@example.com")
    student = await accounts.login("student@example.com")
    world = await _world(infra, admin_connection, teacher)
    question = await _approved_question(api, teacher, world, {"type": "SHORT_ANSWER",
                                                              "accepted_answers": ["chloroplast"], "tolerance": 1})
    headers = {**student, "Idempotency-Key": "tap-twice"}
    responses = await asyncio.gather(*[api.post(f"/v1/questions/{question['id']}/attempts", headers=headers,
                                                json={"answer": {"text": "Chloroplasts!"}}) for _ in range(5)])
    assert {r.status_code for r in responses} == {201}
    assert len({r.json()["attempt_id"] for r in responses}) == 1 and responses[0].json()["is_correct"]
    assert admin_connection.execute("SELECT count(*) FROM assessment.question_attempts WHERE question_id = %s",
                                    (uuid.UUID(question["id"]),)).fetchone()[0] == 1


async def test_a_job_whose_worker_died_is_run_again_and_given_up_after_max_runs(api, generation, worker, accounts,
                                                                                infra, admin_connection):
    teacher = await accounts.login("teacher@example.com")
    world = await _world(infra, admin_connection, teacher)
    requested = await api.post("/v1/generation-jobs", headers=teacher, json={
        "lesson_id": str(world.lesson_id), "count_per_milestone": 1, "types": ["TRUE_FALSE"]})
    job_id = uuid.UUID(requested.json()["id"])

    # A worker claims the job and dies before finishing: its lease holds the job back …
    admin_connection.execute("UPDATE assessment.generation_queue SET available_at = now() - interval '1 second' "
                             "WHERE job_id <> %s", (job_id,))
    async with generation.sessions() as session, session.begin():
        claimed = (await session.execute(CLAIM, {"lease": 3600, "per_tenant": 10, "per_provider": 10,
                                                 "in_all": 10})).first()
    assert claimed.job_id == job_id
    await _run_jobs(generation)
    assert admin_connection.execute("SELECT status FROM assessment.generation_jobs WHERE id = %s",
                                    (job_id,)).fetchone()[0] == "QUEUED"
    # … until it expires; then the job runs again, and completes once.
    admin_connection.execute("UPDATE assessment.generation_queue SET available_at = now() WHERE job_id = %s",
                             (job_id,))
    await _run_jobs(generation)
    assert admin_connection.execute("SELECT status, runs, question_count FROM assessment.generation_jobs WHERE id = %s",
                                    (job_id,)).fetchone() == ("SUCCEEDED", 2, 2)
    assert admin_connection.execute("SELECT count(*) FROM assessment.generation_queue WHERE job_id = %s",
                                    (job_id,)).fetchone()[0] == 0

    # A job that kept killing its workers is failed for good, with the reason.
    again = await api.post("/v1/generation-jobs", headers=teacher, json={"lesson_id": str(world.lesson_id)})
    stuck = uuid.UUID(again.json()["id"])
    admin_connection.execute("UPDATE assessment.generation_queue SET runs = %s WHERE job_id = %s",
                             (generation.settings.generation_max_runs, stuck))
    await _run_jobs(generation)
    status, error = admin_connection.execute("SELECT status, error FROM assessment.generation_jobs WHERE id = %s",
                                             (stuck,)).fetchone()
    assert status == "FAILED" and "gave up after 3 runs" in error


async def _user_in_tenant_of(accounts: Accounts, headers: dict[str, str], role: str) -> dict[str, str]:
    """Another user of the same organisation as ``headers``' user; their auth headers."""
    identity = accounts.client._transport.app.state.identity  # noqa: SLF001
    tenant_id = uuid.UUID(claims(headers)["tid"])
    email = f"{role.lower()}-{uuid.uuid4().hex[:8]}@example.com"
    await identity.ensure_user(tenant_id=tenant_id, email=email, password="Demo123!", display_name=email, role=role)
    return await accounts.login(email)


async def test_a_student_sees_their_own_attempts_again_and_nobody_elses(api, worker, accounts, infra,
                                                                        admin_connection):
    teacher = await accounts.login("teacher@example.com")
    student = await accounts.login("student@example.com")
    world = await _world(infra, admin_connection, teacher)
    choice = await _approved_question(api, teacher, world, {
        "type": "MULTIPLE_CHOICE", "options": [{"id": "a", "text": "Chloroplasts"}, {"id": "b", "text": "Roots"}],
        "correct_option_ids": ["a"]}, retry_penalty="0.25", explanation="Chloroplasts hold chlorophyll.")
    unanswered = await _approved_question(api, teacher, world, {"type": "TRUE_FALSE", "correct": True})
    later = await _approved_question(api, teacher, world, {"type": "TRUE_FALSE", "correct": False},
                                     milestone_id=str(world.milestones[1]))
    at_milestone = {"milestone_id": str(world.milestones[0])}

    async def own(params, headers=student):
        response = await api.get("/v1/attempts", headers=headers, params=params)
        assert response.status_code == 200, response.text
        return response.json()

    assert await own(at_milestone) == {"items": [], "total": 0, "limit": 50, "offset": 0}

    wrong = await api.post(f"/v1/questions/{choice['id']}/attempts", headers=student,
                           json={"answer": {"option_ids": ["b"]}})
    assert wrong.status_code == 201, wrong.text
    assert wrong.json()["retry_penalty"] == 0.25 and wrong.json()["max_attempts"] == 3
    [item] = (await own(at_milestone))["items"]
    assert item["question_id"] == choice["id"] and item["student_id"] == claims(student)["sub"]
    assert item["answer"] == {"type": "MULTIPLE_CHOICE", "option_ids": ["b"]}
    assert (item["score"], item["best_score"], item["is_correct"], item["settled"]) == (0, 0, False, False)
    assert (item["attempts_used"], item["attempts_left"], item["max_attempts"]) == (1, 2, 3)
    assert item["attempt_id"] == wrong.json()["attempt_id"] and item["retry_penalty"] == 0.25
    assert "correct_answer" not in item and "explanation" not in item  # not settled: the key stays hidden

    right = await api.post(f"/v1/questions/{choice['id']}/attempts", headers=student,
                           json={"answer": {"option_ids": ["a"]}})
    assert right.status_code == 201 and right.json()["settled"] is True
    [item] = (await own(at_milestone))["items"]
    assert item["answer"] == {"type": "MULTIPLE_CHOICE", "option_ids": ["a"]}
    assert (item["attempt_number"], item["attempts_used"], item["attempts_left"]) == (2, 2, 1)
    assert (item["score"], item["best_score"], item["is_correct"], item["settled"]) == (0.75, 0.75, True, True)
    assert item["explanation"] == "Chloroplasts hold chlorophyll." and item["correct_answer"] == {"option_ids": ["a"]}
    assert item["answered_at"] == right.json()["answered_at"]

    # The milestone's questions agree on what is settled; the unanswered one keeps its key.
    shown = {q["id"]: q for q in (await api.get(f"/v1/milestones/{world.milestones[0]}/questions",
                                                headers=student)).json()["questions"]}
    assert shown[choice["id"]]["settled"] and shown[choice["id"]]["correct_answer"] == {"option_ids": ["a"]}
    assert not shown[unanswered["id"]]["settled"] and "correct_answer" not in shown[unanswered["id"]]
    assert shown[unanswered["id"]]["retry_penalty"] == 0 and shown[unanswered["id"]]["attempts_left"] == 3
    one = (await api.get(f"/v1/questions/{unanswered['id']}", headers=student)).json()
    assert one["view"] == "STUDENT" and one["content"] == {"type": "TRUE_FALSE"} and "correct_answer" not in one

    # A lesson's attempts span its milestones, a page at a time, in the order of the video.
    await api.post(f"/v1/questions/{later['id']}/attempts", headers=student, json={"answer": {"value": True}})
    lesson = await own({"lesson_id": str(world.lesson_id)})
    assert [i["question_id"] for i in lesson["items"]] == [choice["id"], later["id"]] and lesson["total"] == 2
    page = await own({"lesson_id": str(world.lesson_id), "limit": 1, "offset": 1})
    assert [i["question_id"] for i in page["items"]] == [later["id"]] and page["total"] == 2

    # Another student of the organisation has none, and cannot read this student's.
    classmate = await _user_in_tenant_of(accounts, student, "STUDENT")
    assert (await own(at_milestone, classmate))["total"] == 0
    student_id = claims(student)["sub"]
    refused = await api.get("/v1/attempts", headers=classmate, params={**at_milestone, "student_id": student_id})
    assert refused.status_code == 404 and refused.headers["content-type"].startswith("application/problem+json")
    # Nor can a teacher who is not the lesson's author, nor a teacher of another organisation.
    colleague = await _user_in_tenant_of(accounts, teacher, "TEACHER")
    assert (await api.get("/v1/attempts", headers=colleague, params={
        **at_milestone, "student_id": student_id})).status_code == 403
    elsewhere = await accounts.tenant_with_users(f"attempts-{uuid.uuid4().hex[:6]}")
    assert (await api.get("/v1/attempts", headers=elsewhere["teacher"], params={
        **at_milestone, "student_id": student_id})).status_code == 404

    # The lesson's author sees what the student sees.
    followed = await own({**at_milestone, "student_id": student_id}, teacher)
    assert followed["items"] == [item]
    assert (await api.get("/v1/attempts", headers=student)).status_code == 422  # no milestone, no lesson


def _numbers_and_timestamps(body, numbers: set[str], path: str = "") -> tuple[int, int]:
    """Every named number is a JSON number and every ``*_at`` a UTC RFC 3339 timestamp; how many of each."""
    seen_numbers = seen_timestamps = 0
    items = body.items() if isinstance(body, dict) else enumerate(body) if isinstance(body, list) else ()
    for key, value in items:
        where = f"{path}.{key}"
        if isinstance(value, dict | list):
            n, t = _numbers_and_timestamps(value, numbers, where)
            seen_numbers, seen_timestamps = seen_numbers + n, seen_timestamps + t
        elif key in numbers and value is not None:
            assert isinstance(value, int | float) and not isinstance(value, bool), (where, value)
            seen_numbers += 1
        elif isinstance(key, str) and (key.endswith("_at") or key == "month") and value is not None:
            assert isinstance(value, str) and value.endswith("Z"), (where, value)
            datetime.fromisoformat(value)
            seen_timestamps += 1
    return seen_numbers, seen_timestamps


NUMBERS = {"score", "max_score", "best_score", "points", "percent", "retry_penalty", "temperature",
           "input_price_per_1k", "output_price_per_1k", "total_cost", "avg_response_time", "budget_usd", "spent_usd",
           "remaining_usd"}


async def test_numbers_are_json_numbers_and_timestamps_utc(api, generation, worker, accounts, infra,
                                                           admin_connection):
    admin = await accounts.login("admin@example.com")
    teacher = await accounts.login("teacher@example.com")
    student = await accounts.login("student@example.com")
    world = await _world(infra, admin_connection, teacher)
    question = await _approved_question(api, teacher, world, {"type": "TRUE_FALSE", "correct": True},
                                        points="1.5", retry_penalty="0.1")
    job = await _generate(api, generation, teacher, world, count_per_milestone=1, types=["TRUE_FALSE"])
    attempt = await api.post(f"/v1/questions/{question['id']}/attempts", headers=student,
                             json={"answer": {"value": False}})
    configuration = await api.post("/v1/ai-configurations", headers=admin, json={
        "name": f"offline-{uuid.uuid4().hex[:6]}", "provider": "OFFLINE", "model": "offline",
        "input_price_per_1k": "0.000001"})
    policy = await api.put(f"/v1/milestones/{world.milestones[1]}/policy", headers=teacher,
                           json={"retry_penalty": "0.125"})
    lesson = {"lesson_id": str(world.lesson_id)}
    listed = {path: (await api.get(path, headers=headers, params=params)).json() for path, headers, params in [
        ("/v1/attempts", student, lesson), ("/v1/grades", student, lesson), ("/v1/questions", teacher, lesson),
        ("/v1/ai-usage", admin, {}), ("/v1/ai-configurations", admin, {}), ("/v1/generation-jobs", teacher, lesson)]}
    milestone_questions = (await api.get(f"/v1/milestones/{world.milestones[0]}/questions", headers=student)).json()
    # (body, has numbers, has timestamps): a job has no number to round, a milestone's questions and the
    # budget no timestamp.
    bodies = [(question, True, True), (job, False, True), (attempt.json(), True, True),
              (configuration.json(), True, True), (policy.json(), True, False), (milestone_questions, True, False),
              *[(body, "generation-jobs" not in path, "ai-usage" not in path) for path, body in listed.items()]]
    for body, has_numbers, has_timestamps in bodies:
        numbers, timestamps = _numbers_and_timestamps(body, NUMBERS)
        assert (bool(numbers), bool(timestamps)) == (has_numbers, has_timestamps), body
    assert (attempt.json()["score"], attempt.json()["max_score"]) == (0, 1.5)
    assert policy.json()["retry_penalty"] == 0.125 and configuration.json()["input_price_per_1k"] == 0.000001
    usage = listed["/v1/ai-usage"]  # the budget only: the monthly report is analytics' (decision 0007)
    assert set(usage) == {"this_month"} and all(isinstance(v, float) for v in usage["this_month"].values())


def _outbox(admin_connection, event_type: str, key) -> list[dict]:
    """The envelopes assessment committed for publication (the outbox is what the relay sends, in order)."""
    rows = admin_connection.execute("SELECT value FROM assessment.outbox WHERE event_type = %s AND key = %s "
                                    "ORDER BY id", (event_type, str(key))).fetchall()
    return [json.loads(row[0]) for row in rows]


async def _draft(api, teacher, world: World, content: dict | None = None, **fields) -> dict:
    response = await api.post("/v1/questions", headers=teacher, json={
        "lesson_id": str(world.lesson_id), "milestone_id": str(world.milestones[0]), "prompt": "Draft?",
        "content": content or {"type": "TRUE_FALSE", "correct": True}, **fields})
    assert response.status_code == 201, response.text
    return response.json()


async def test_bulk_approval_never_reapproves_a_rejected_question(api, worker, accounts, infra, admin_connection):
    teacher = await accounts.login("teacher@example.com")
    world = await _world(infra, admin_connection, teacher)
    pending, rejected, approved = [await _draft(api, teacher, world) for _ in range(3)]
    assert (await api.post(f"/v1/questions/{rejected['id']}/reject", headers=teacher,
                           json={"reason": "Off topic"})).status_code == 200
    assert (await api.post(f"/v1/questions/{approved['id']}/approve", headers=teacher)).status_code == 200

    bulk = await api.post("/v1/questions/approve", headers=teacher, json={
        "question_ids": [pending["id"], rejected["id"], approved["id"]]})
    assert bulk.status_code == 200, bulk.text
    assert bulk.json()["approved"] == [pending["id"]]
    skipped = {s["id"]: s for s in bulk.json()["skipped"]}
    assert set(skipped) == {rejected["id"], approved["id"]}
    assert skipped[rejected["id"]]["status"] == "REJECTED" and "rejected" in skipped[rejected["id"]]["reason"]
    assert skipped[approved["id"]]["status"] == "APPROVED"

    still = (await api.get(f"/v1/questions/{rejected['id']}", headers=teacher)).json()
    assert still["status"] == "REJECTED" and still["rejection_reason"] == "Off topic"
    assert _outbox(admin_connection, "assessment.question.approved.v1", rejected["id"]) == []
    # Approving it on its own stays possible: a reviewer who changed their mind says so for that question.
    one = await api.post(f"/v1/questions/{rejected['id']}/approve", headers=teacher)
    assert one.status_code == 200 and one.json()["status"] == "APPROVED"


async def test_edits_policy_and_ai_configuration_changes_are_announced(api, worker, accounts, infra,
                                                                       admin_connection):
    admin = await accounts.login("admin@example.com")
    teacher = await accounts.login("teacher@example.com")
    world = await _world(infra, admin_connection, teacher)
    question = await _draft(api, teacher, world, points="1")
    edited = await api.patch(f"/v1/questions/{question['id']}", headers=teacher, json={
        "prompt": "Chloroplasts hold chlorophyll.", "points": "2.5", "retry_penalty": "0.2",
        "milestone_id": str(world.milestones[1]), "explanation": question["explanation"]})
    assert edited.status_code == 200, edited.text
    [announced] = _outbox(admin_connection, "assessment.question.edited.v1", question["id"])
    assert announced["actor_id"] == claims(teacher)["sub"] and announced["key"] == question["id"]
    data = announced["data"]
    assert data["changed_fields"] == ["milestone_id", "points", "prompt", "retry_penalty"]  # not the same explanation
    assert data["before"] == {"milestone_id": str(world.milestones[0]), "points": "1.00", "prompt": "Draft?",
                              "retry_penalty": None}
    assert data["after"] == {"milestone_id": str(world.milestones[1]), "points": "2.50",
                             "prompt": "Chloroplasts hold chlorophyll.", "retry_penalty": "0.200"}
    assert (data["status"], data["milestone_id"], data["lesson_id"]) == (
        "DRAFT", str(world.milestones[1]), str(world.lesson_id))
    # Approving with an edit: the edit, then the approval; an edit that changes nothing is not announced.
    await api.post(f"/v1/questions/{question['id']}/approve", headers=teacher, json={
        "content": {"type": "TRUE_FALSE", "correct": False}})
    await api.patch(f"/v1/questions/{question['id']}", headers=teacher, json={"points": "2.50"})
    edits = _outbox(admin_connection, "assessment.question.edited.v1", question["id"])
    assert len(edits) == 2 and edits[1]["data"]["changed_fields"] == ["content"]
    assert edits[1]["data"]["after"]["content"]["correct"] is False and edits[1]["data"]["status"] == "DRAFT"  # approved just after
    approvals = _outbox(admin_connection, "assessment.question.approved.v1", question["id"])
    assert len(approvals) == 1
    order = admin_connection.execute("SELECT event_type FROM assessment.outbox WHERE key = %s ORDER BY id",
                                     (question["id"],)).fetchall()
    assert [row[0] for row in order][-2:] == ["assessment.question.edited.v1", "assessment.question.approved.v1"]

    milestone = world.milestones[0]
    put = await api.put(f"/v1/milestones/{milestone}/policy", headers=teacher,
                        json={"max_attempts": 2, "retry_penalty": "0.5"})
    assert put.status_code == 200, put.text
    await api.put(f"/v1/milestones/{milestone}/policy", headers=teacher, json={"max_attempts": 2,
                                                                             "retry_penalty": "0.500"})
    await api.put(f"/v1/milestones/{milestone}/policy", headers=teacher, json={"max_attempts": 2})
    policies = [e["data"] for e in _outbox(admin_connection, "assessment.milestone_policy.changed.v1", milestone)]
    assert len(policies) == 2  # the same values again changed nothing
    assert policies[0] | {"changed_fields": None} == {
        "milestone_id": str(milestone), "lesson_id": str(world.lesson_id), "max_attempts": 2,
        "retry_penalty": "0.5", "partial_credit": None, "changed_fields": None,
        "before": {"max_attempts": None, "retry_penalty": None}}
    assert policies[0]["changed_fields"] == ["max_attempts", "retry_penalty"]
    assert policies[1]["changed_fields"] == ["retry_penalty"] and policies[1]["before"] == {"retry_penalty": "0.500"}
    assert policies[1]["retry_penalty"] is None

    name = f"cfg-{uuid.uuid4().hex[:6]}"
    created = (await api.post("/v1/ai-configurations", headers=admin, json={
        "name": name, "provider": "OPENAI", "model": "gpt-a", "api_key": "sk-very-secret-1", "is_active": True,
        "input_price_per_1k": "0.01"})).json()
    other = (await api.post("/v1/ai-configurations", headers=admin, json={
        "name": f"{name}-b", "provider": "OPENAI", "model": "gpt-b", "api_key": "sk-very-secret-2"})).json()
    await api.patch(f"/v1/ai-configurations/{created['id']}", headers=admin, json={"model": "gpt-a2",
                                                                                   "api_key": "sk-very-secret-3"})
    await api.patch(f"/v1/ai-configurations/{created['id']}", headers=admin, json={"model": "gpt-a2"})
    await api.patch(f"/v1/ai-configurations/{other['id']}", headers=admin, json={"is_active": True})
    mine = _outbox(admin_connection, "assessment.ai_configuration.changed.v1", created["id"])
    assert "sk-very-secret" not in json.dumps(mine) + json.dumps(
        _outbox(admin_connection, "assessment.ai_configuration.changed.v1", other["id"]))
    assert [e["data"]["change"] for e in mine] == ["CREATED", "UPDATED", "DEACTIVATED"]
    first, update, off = (e["data"] for e in mine)
    assert first["before"] == {} and first["after"]["input_price_per_1k"] == "0.010000" and first["api_key_changed"]
    assert first["after"]["model"] == "gpt-a" and first["is_active"] and first["has_api_key"]
    assert "api_key" not in first["after"] and "api_key_encrypted" not in first["after"]
    assert (update["changed_fields"], update["before"], update["after"]) == (["model"], {"model": "gpt-a"},
                                                                            {"model": "gpt-a2"})
    assert update["api_key_changed"] is True and update["has_api_key"] is True
    assert (off["changed_fields"], off["is_active"], mine[2]["actor_id"]) == (["is_active"], False,
                                                                              claims(admin)["sub"])
    activated = _outbox(admin_connection, "assessment.ai_configuration.changed.v1", other["id"])[-1]["data"]
    assert activated["change"] == "UPDATED" and activated["after"] == {"is_active": True}


async def test_a_teacher_overrides_a_short_answers_score_with_a_reason(api, worker, accounts, infra,
                                                                       admin_connection):
    teacher = await accounts.login("teacher@example.com")
    student = await accounts.login("student@example.com")
    world = await _world(infra, admin_connection, teacher)
    typed = await _approved_question(api, teacher, world, {"type": "SHORT_ANSWER", "accepted_answers": ["stomata"],
                                                           "tolerance": 0}, points="2", max_attempts=1)
    choice = await _approved_question(api, teacher, world, {
        "type": "MULTIPLE_CHOICE", "options": [{"id": "a", "text": "Xylem"}, {"id": "b", "text": "Phloem"}],
        "correct_option_ids": ["a"]})
    answered = (await api.post(f"/v1/questions/{typed['id']}/attempts", headers=student,
                               json={"answer": {"text": "the stomatal pores"}})).json()
    assert answered["score"] == 0 and answered["settled"]
    picked = (await api.post(f"/v1/questions/{choice['id']}/attempts", headers=student,
                             json={"answer": {"option_ids": ["b"]}})).json()
    url = f"/v1/attempts/{answered['attempt_id']}/override"

    # Only the lesson's author or an admin; nobody in another organisation; never a student; only typed answers.
    colleague = await _user_in_tenant_of(accounts, teacher, "TEACHER")
    body = {"score": "1.5", "reason": "Stomatal pores are stomata."}
    assert (await api.post(url, headers=colleague, json=body)).status_code == 403
    elsewhere = await accounts.tenant_with_users(f"override-{uuid.uuid4().hex[:6]}")
    assert (await api.post(url, headers=elsewhere["teacher"], json=body)).status_code == 404
    assert (await api.post(url, headers=elsewhere["admin"], json=body)).status_code == 404
    assert (await api.post(url, headers=student, json=body)).status_code == 404
    keyed = await api.post(f"/v1/attempts/{picked['attempt_id']}/override", headers=teacher, json=body)
    assert keyed.status_code == 409 and "MULTIPLE_CHOICE" in keyed.json()["detail"]
    too_much = await api.post(url, headers=teacher, json={**body, "score": "2.5"})
    assert too_much.status_code == 422 and too_much.json()["max_score"] == 2
    assert (await api.post(url, headers=teacher, json={"score": "1"})).status_code == 422  # a reason is required
    assert (await api.post(url, headers=teacher, json={**body, "score": "-1"})).status_code == 422

    overridden = await api.post(url, headers=teacher, json=body)
    assert overridden.status_code == 200, overridden.text
    result = overridden.json()
    assert result | {"overridden_at": None} == {
        "attempt_id": answered["attempt_id"], "question_id": typed["id"], "student_id": claims(student)["sub"],
        "lesson_id": str(world.lesson_id), "type": "SHORT_ANSWER", "attempt_number": 1, "score": 1.5,
        "previous_score": 0, "graded_score": 0, "max_score": 2, "best_score": 1.5, "is_correct": False,
        "reason": "Stomatal pores are stomata.", "overridden_by_id": claims(teacher)["sub"], "overridden_at": None}
    assert result["overridden_at"].endswith("Z")

    # The student sees the teacher's score, and that it is the teacher's; the grades count it.
    mine = (await api.get("/v1/attempts", headers=student, params={"lesson_id": str(world.lesson_id)})).json()
    item = {i["question_id"]: i for i in mine["items"]}[typed["id"]]
    assert (item["score"], item["best_score"], item["score_overridden"]) == (1.5, 1.5, True)
    assert item["override"] == {"graded_score": 0, "reason": "Stomatal pores are stomata.",
                                "overridden_at": result["overridden_at"]}
    assert {i["question_id"]: i for i in mine["items"]}[choice["id"]]["override"] is None
    grades = (await api.get("/v1/grades", headers=student, params={"lesson_id": str(world.lesson_id)})).json()
    lesson = [g for g in grades["items"] if g["scope"] == "LESSON"][0]
    assert (lesson["score"], lesson["max_score"]) == (1.5, 3)

    # Overriding again keeps what the grading gave; each override is announced, keyed by the student.
    again = (await api.post(url, headers=teacher, json={"score": "2", "reason": "Full marks on review."})).json()
    assert (again["score"], again["previous_score"], again["graded_score"]) == (2, 1.5, 0)
    announced = _outbox(admin_connection, "assessment.attempt.score_overridden.v1", claims(student)["sub"])
    mine_only = [e for e in announced if e["data"]["attempt_id"] == answered["attempt_id"]]
    assert [(e["data"]["score"], e["data"]["previous_score"], e["data"]["graded_score"]) for e in mine_only] == [
        ("1.50", "0.00", "0.00"), ("2.00", "1.50", "0.00")]
    assert mine_only[1]["data"]["reason"] == "Full marks on review." and mine_only[1]["actor_id"] == claims(
        teacher)["sub"]
    assert mine_only[1]["data"]["best_score"] == "2.00" and mine_only[1]["data"]["max_score"] == "2.00"


async def test_the_review_queue_shows_where_each_ai_draft_came_from(api, generation, worker, accounts, infra,
                                                                    admin_connection):
    teacher = await accounts.login("teacher@example.com")
    world = await _world(infra, admin_connection, teacher)
    job = await _generate(api, generation, teacher, world, count_per_milestone=1, types=["TRUE_FALSE"])
    queue = (await api.get("/v1/questions", headers=teacher, params={
        "lesson_id": str(world.lesson_id), "status": "PENDING_REVIEW"})).json()
    assert queue["total"] == 2
    by_milestone = {q["ai"]["milestone_id"]: q for q in queue["items"]}
    assert set(by_milestone) == {str(m) for m in world.milestones}
    first = by_milestone[str(world.milestones[0])]
    assert first["ai"]["generation_job_id"] == job["id"]
    start, end = first["ai"]["transcript_span"]
    assert 0 <= start < end <= 40  # the transcript segments up to the 30 s milestone it was drawn for
    # Moved to another milestone on review, it still says which milestone's transcript it was drawn from.
    await api.patch(f"/v1/questions/{first['id']}", headers=teacher, json={"milestone_id": str(world.milestones[1])})
    moved = (await api.get(f"/v1/questions/{first['id']}", headers=teacher)).json()
    assert moved["milestone_id"] == str(world.milestones[1]) and moved["ai"]["milestone_id"] == str(world.milestones[0])
    handwritten = await _draft(api, teacher, world)
    assert handwritten["ai"] is None and handwritten["source"] == "MANUAL"


async def test_a_job_that_breaks_unexpectedly_says_why_in_words(api, generation, worker, accounts, infra,
                                                                 admin_connection, monkeypatch):
    teacher = await accounts.login("teacher@example.com")
    world = await _world(infra, admin_connection, teacher)

    async def broken(job, engine):
        raise RuntimeError("the transcript store is unreachable")

    monkeypatch.setattr(generation, "_draft_all", broken)
    requested = await api.post("/v1/generation-jobs", headers=teacher, json={"lesson_id": str(world.lesson_id)})
    job_id = requested.json()["id"]
    for _ in range(generation.settings.generation_max_runs + 1):
        admin_connection.execute("UPDATE assessment.generation_queue SET available_at = now() WHERE job_id = %s",
                                 (uuid.UUID(job_id),))
        assert await generation.run_once()
        job = (await api.get(f"/v1/generation-jobs/{job_id}", headers=teacher)).json()
        if job["status"] == "FAILED":
            break
        assert job["status"] == "QUEUED" and "the transcript store is unreachable" in job["error"], job
        assert "tried again" in job["error"]
    assert job["status"] == "FAILED", job
    assert "gave up after" in job["error"] and "the transcript store is unreachable" in job["error"]


def _guess_from_ids(view: dict) -> dict:
    """A first attempt from the ids alone, as an attacker would: pairs by their shared number or by
    position in sorted order, items in the order of their ids."""
    if view["type"] == "MATCHING":
        lefts, rights = sorted(i["id"] for i in view["left"]), sorted(i["id"] for i in view["right"])
        by_number = {r.lstrip("abcdefghijklmnopqrstuvwxyz_-"): r for r in rights}
        matches = {left: by_number.get(left.lstrip("abcdefghijklmnopqrstuvwxyz_-"), rights[n])
                   for n, left in enumerate(lefts)}
        return {"matches": matches}
    return {"order": sorted(i["id"] for i in view["items"])}


async def test_ids_shown_to_students_give_no_answer_away(api, generation, worker, accounts, infra,
                                                         admin_connection):
    teacher = await accounts.login("teacher@example.com")
    student = await accounts.login("student@example.com")
    classmate = await _user_in_tenant_of(accounts, student, "STUDENT")
    world = await _world(infra, admin_connection, teacher)
    # Written by hand as authors do: numbered in answer order.
    matching = await _approved_question(api, teacher, world, {"type": "MATCHING", "pairs": [
        {"left_id": f"t{n}", "left": left, "right_id": f"s{n}", "right": right} for n, (left, right) in enumerate(
            [("Xylem", "carries water"), ("Phloem", "carries sugars"), ("Stomata", "exchange gases"),
             ("Chlorophyll", "absorbs light")], start=1)]})
    ordering = await _approved_question(api, teacher, world, {
        "type": "ORDERING", "items": [{"id": f"i{n}", "text": text} for n, text in enumerate(
            ["Roots take up water", "Xylem carries it", "Leaves open stomata", "Light is absorbed",
             "Glucose is made"], start=1)], "correct_order": ["i1", "i2", "i3", "i4", "i5"]})
    # … and drafted by the offline generator, approved as they come.
    await _generate(api, generation, teacher, world, milestone_ids=[str(world.milestones[0])],
                    count_per_milestone=2, types=["MATCHING", "ORDERING"])
    drafts = (await api.get("/v1/questions", headers=teacher, params={
        "lesson_id": str(world.lesson_id), "status": "PENDING_REVIEW"})).json()["items"]
    assert {d["type"] for d in drafts} == {"MATCHING", "ORDERING"}
    await api.post("/v1/questions/approve", headers=teacher, json={"question_ids": [d["id"] for d in drafts]})

    # The ids students see are none of the author's.
    written = {f"t{n}" for n in range(1, 5)} | {f"s{n}" for n in range(1, 5)} | {f"i{n}" for n in range(1, 6)}
    stored = json.dumps([matching["content"], ordering["content"]])
    assert not any(f'"{i}"' in stored for i in written), stored
    for draft in drafts:
        ids = [p[side] for p in draft["content"].get("pairs", []) for side in ("left_id", "right_id")] + [
            i["id"] for i in draft["content"].get("items", [])]
        assert not any(len(i) <= 3 for i in ids), draft["content"]  # no t1/s1/i1 numbering

    listing = (await api.get(f"/v1/milestones/{world.milestones[0]}/questions", headers=student)).json()
    views = {q["id"]: q["content"] for q in listing["questions"] if q["type"] in ("MATCHING", "ORDERING")}
    assert len(views) == 4
    # First attempts from the ids alone do not score full marks.
    scored = maximum = 0
    for question_id, view in views.items():
        answer = await api.post(f"/v1/questions/{question_id}/attempts", headers=student,
                                json={"answer": _guess_from_ids(view)})
        assert answer.status_code == 201, answer.text
        scored, maximum = scored + answer.json()["score"], maximum + answer.json()["max_score"]
    assert scored < maximum, "the ids alone answered every matching and ordering question"

    # The order shown is each student's own (and the same on every reload).
    theirs = (await api.get(f"/v1/milestones/{world.milestones[0]}/questions", headers=classmate)).json()
    again = (await api.get(f"/v1/milestones/{world.milestones[0]}/questions", headers=student)).json()
    shown = lambda listing: [q["content"] for q in listing["questions"] if q["id"] in views]  # noqa: E731
    assert shown(again) == shown(listing) and shown(theirs) != shown(listing)
    # A teacher's edit that keeps the items keeps their ids (the attempts' answers still name them).
    kept = await api.patch(f"/v1/questions/{ordering['id']}", headers=teacher, json={
        "content": ordering["content"], "prompt": "Put the steps in order."})
    assert kept.status_code == 200 and kept.json()["content"] == ordering["content"]


# --- the AI runner (issue 17) -------------------------------------------------------------------------


def _usage_rows(admin_connection, job_id) -> list[tuple]:
    return admin_connection.execute("SELECT success, error, tokens_used, cost FROM assessment.ai_usage_logs "
                                    "WHERE job_id = %s ORDER BY created_at", (uuid.UUID(job_id),)).fetchall()


async def test_a_provider_answering_200_with_a_page_or_other_json_fails_at_once_logged_and_costed(
        api, generation, worker, accounts, infra, admin_connection, fake_openai):
    users = await accounts.tenant_with_users(f"html-{uuid.uuid4().hex[:6]}")
    await _openai_configuration(api, users["admin"], fake_openai)
    world = await _world(infra, admin_connection, users["teacher"])
    one = {"milestone_ids": [str(world.milestones[0])], "provider": "OPENAI", "count_per_milestone": 2,
           "types": ["MULTIPLE_CHOICE", "TRUE_FALSE"]}
    cases = [("html", "<!doctype html><html><body>Please sign in</body></html>", "text/html"),
             ("body", json.dumps({"status": "ok", "usage": {"prompt_tokens": 100, "completion_tokens": 10}}),
              "application/json"),
             ("body", "{truncated", "")]
    for kind, body, shown in cases:
        fake_openai.script = [(kind, body)]
        before = len(fake_openai.requests)
        job = await _generate(api, generation, users["teacher"], world, **one)
        # Failed in the first run, after one request: retrying would get the same page.
        assert job["status"] == "FAILED" and job["runs"] == 1, job
        assert len(fake_openai.requests) == before + 1
        assert "not a chat completion" in job["error"] or "not valid JSON" in job["error"], job["error"]
        assert shown in job["error"]
        [(success, error, tokens, cost)] = _usage_rows(admin_connection, job["id"])
        assert success is False and error in job["error"]
        if kind == "body" and "usage" in body:
            assert (tokens, cost) == (110, Decimal("0.001300"))  # billed tokens it did report are costed
    failed = await read_topic(infra, "assessment.events", _events_of(
        infra, "assessment.generation.failed.v1", job_id=job["id"]), expect=1)
    assert "not valid JSON" in failed[0]["data"]["reason"]


async def test_every_provider_call_has_a_total_deadline(api, generation, worker, accounts, infra, admin_connection,
                                                        fake_openai):
    users = await accounts.tenant_with_users(f"trickle-{uuid.uuid4().hex[:6]}")
    await _openai_configuration(api, users["admin"], fake_openai)
    world = await _world(infra, admin_connection, users["teacher"])
    # A byte every 0.2 s: no single read waits as long as the 1 s timeout, the whole answer would take 4 s.
    fake_openai.script = [("trickle", 4.0), ("ok", _openai_output())]
    job = await _generate(api, generation, users["teacher"], world, milestone_ids=[str(world.milestones[0])],
                          provider="OPENAI", count_per_milestone=2, types=["MULTIPLE_CHOICE", "TRUE_FALSE"])
    assert job["status"] == "SUCCEEDED", job
    rows = _usage_rows(admin_connection, job["id"])
    assert [row[0] for row in rows] == [False, True] and "within 1 s in all" in rows[0][1], rows


async def test_a_slow_provider_holds_neither_other_tenants_nor_other_providers(
        api, assessment_context, worker, accounts, infra, admin_connection, fake_openai):
    from cuepoint.assessment.bootstrap import build_generation

    generation = build_generation(assessment_context)
    generation.settings = generation.settings.model_copy(update={
        "generation_concurrency": 3, "generation_per_tenant": 2, "generation_per_provider": 2,
        "ai_timeout_seconds": 10.0})
    slow = await accounts.tenant_with_users(f"slow-{uuid.uuid4().hex[:6]}")
    other = await accounts.tenant_with_users(f"other-{uuid.uuid4().hex[:6]}")
    await _openai_configuration(api, slow["admin"], fake_openai)
    slow_world = await _world(infra, admin_connection, slow["teacher"])
    other_world = await _world(infra, admin_connection, other["teacher"])
    fake_openai.script = [("slow", (4.0, _openai_output()))]
    body = {"milestone_ids": [str(slow_world.milestones[0])], "provider": "OPENAI", "count_per_milestone": 2,
            "types": ["MULTIPLE_CHOICE", "TRUE_FALSE"], "lesson_id": str(slow_world.lesson_id)}
    slow_jobs = [(await api.post("/v1/generation-jobs", headers=slow["teacher"], json=body)).json()["id"]
                 for _ in range(3)]
    offline = (await api.post("/v1/generation-jobs", headers=other["teacher"], json={
        "lesson_id": str(other_world.lesson_id), "provider": "OFFLINE", "count_per_milestone": 1})).json()["id"]
    admin_connection.execute("UPDATE assessment.generation_queue SET available_at = now() + interval '1 hour' "
                             "WHERE NOT job_id = ANY(%s)", ([uuid.UUID(j) for j in [*slow_jobs, offline]],))

    def status(job_id):
        return admin_connection.execute("SELECT status FROM assessment.generation_jobs WHERE id = %s",
                                        (uuid.UUID(job_id),)).fetchone()[0]

    stop = asyncio.Event()
    loop = asyncio.create_task(generation.run(stop))
    try:
        # The other tenant's offline job finishes while the slow provider still holds the first ones …
        await wait_for_row(admin_connection, "SELECT status = 'SUCCEEDED' FROM assessment.generation_jobs "
                           "WHERE id = %s", (uuid.UUID(offline),), message="the offline job waited")
        assert fake_openai.in_flight >= 1 and status(slow_jobs[0]) == "RUNNING"
        # … and the slow tenant never has more than its two jobs running.
        await wait_for_row(admin_connection, "SELECT bool_and(status = 'SUCCEEDED') FROM assessment.generation_jobs "
                           "WHERE id = ANY(%s)", ([uuid.UUID(j) for j in slow_jobs],), timeout=30,
                           message="the slow jobs did not finish")
    finally:
        stop.set()
        await loop
    assert fake_openai.max_in_flight == 2


async def test_a_runner_renews_its_lease_and_a_dead_runners_job_is_taken_over(
        api, assessment_context, worker, accounts, infra, admin_connection, fake_openai):
    from cuepoint.assessment.bootstrap import build_generation
    from cuepoint.assessment.settings import AssessmentSettings

    assert AssessmentSettings.model_fields["generation_lease_seconds"].default <= 60  # taken over within a minute
    runner, rival = build_generation(assessment_context), build_generation(assessment_context)
    for one in (runner, rival):
        one.settings = one.settings.model_copy(update={"generation_lease_seconds": 1.0, "ai_timeout_seconds": 10.0})
    users = await accounts.tenant_with_users(f"lease-{uuid.uuid4().hex[:6]}")
    await _openai_configuration(api, users["admin"], fake_openai)
    world = await _world(infra, admin_connection, users["teacher"])
    fake_openai.script = [("slow", (3.5, _openai_output()))]
    requested = await api.post("/v1/generation-jobs", headers=users["teacher"], json={
        "lesson_id": str(world.lesson_id), "milestone_ids": [str(world.milestones[0])], "provider": "OPENAI",
        "count_per_milestone": 2, "types": ["MULTIPLE_CHOICE", "TRUE_FALSE"]})
    job_id = uuid.UUID(requested.json()["id"])
    admin_connection.execute("UPDATE assessment.generation_queue SET available_at = now() + interval '1 hour' "
                             "WHERE job_id <> %s", (job_id,))

    # A live runner works 3.5 s on a 1 s lease: renewed, the rival never gets the job.
    working = asyncio.create_task(runner.run_once())
    await wait_for_row(admin_connection, "SELECT status = 'RUNNING' FROM assessment.generation_jobs WHERE id = %s",
                       (job_id,))
    taken = []
    while not working.done():
        taken.append(await rival.run_once())
        await asyncio.sleep(0.3)
    assert await working and not any(taken)
    assert admin_connection.execute("SELECT status, runs FROM assessment.generation_jobs WHERE id = %s",
                                    (job_id,)).fetchone() == ("SUCCEEDED", 1)
    assert len(fake_openai.requests) == 1

    # A runner that dies stops renewing: its job is taken over once the lease lapses.
    again = await api.post("/v1/generation-jobs", headers=users["teacher"], json={
        "lesson_id": str(world.lesson_id), "milestone_ids": [str(world.milestones[0])], "provider": "OFFLINE",
        "count_per_milestone": 1})
    dead = uuid.UUID(again.json()["id"])
    claimed = await runner.claim()  # … and never runs it
    assert claimed.job_id == dead
    while not await rival.run_once():
        await asyncio.sleep(0.2)
    assert admin_connection.execute("SELECT status, runs FROM assessment.generation_jobs WHERE id = %s",
                                    (dead,)).fetchone() == ("SUCCEEDED", 2)


async def test_admins_see_the_queue_depth_and_its_oldest_job(api, generation, worker, accounts, infra,
                                                             admin_connection):
    users = await accounts.tenant_with_users(f"queue-{uuid.uuid4().hex[:6]}")
    world = await _world(infra, admin_connection, users["teacher"])
    empty = await api.get("/v1/generation-queue", headers=users["admin"])
    assert empty.status_code == 200, empty.text
    assert (empty.json()["waiting"], empty.json()["running"], empty.json()["oldest_waiting_job_id"]) == (0, 0, None)
    ids = [(await api.post("/v1/generation-jobs", headers=users["teacher"], json={
        "lesson_id": str(world.lesson_id), "count_per_milestone": 1})).json()["id"] for _ in range(2)]
    queue = (await api.get("/v1/generation-queue", headers=users["admin"])).json()
    assert (queue["waiting"], queue["running"], queue["oldest_waiting_job_id"]) == (2, 0, ids[0]), queue
    assert queue["oldest_waiting_seconds"] >= 0 and queue["oldest_waiting_since"].endswith("Z")
    assert queue["by_provider"] == [{"provider": "OFFLINE", "waiting": 2, "running": 0}]
    assert queue["limits"]["per_tenant"] >= 1 and queue["limits"]["lease_seconds"] <= 60
    # Another organisation's queue is its own; teachers and students do not see it.
    elsewhere = await accounts.tenant_with_users(f"queue-{uuid.uuid4().hex[:6]}")
    assert (await api.get("/v1/generation-queue", headers=elsewhere["admin"])).json()["waiting"] == 0
    refused = await api.get("/v1/generation-queue", headers=users["teacher"])
    assert refused.status_code == 403 and refused.headers["content-type"].startswith("application/problem+json")


# --- grades that agree (issue 17) -----------------------------------------------------------------------


async def test_the_lesson_score_counts_required_milestones_and_answered_optional_ones(api, worker, accounts, infra,
                                                                                      admin_connection):
    users = await accounts.tenant_with_users(f"score-{uuid.uuid4().hex[:6]}")
    teacher, student = users["teacher"], users["student"]
    world = await _world(infra, admin_connection, teacher)  # milestone 0 required, milestone 1 optional
    required = [await _approved_question(api, teacher, world, {"type": "TRUE_FALSE", "correct": True},
                                         points=points) for points in ("2", "1")]
    optional = [await _approved_question(api, teacher, world, {"type": "TRUE_FALSE", "correct": True},
                                         milestone_id=str(world.milestones[1])) for _ in range(2)]

    async def lesson_grade() -> dict:
        grades = (await api.get("/v1/grades", headers=student, params={"lesson_id": str(world.lesson_id)})).json()
        return next(g for g in grades["items"] if g["scope"] == "LESSON")

    # Every required question right, the optional milestone skipped: the lesson is complete and the grade is
    # full marks (before, the skipped optional questions counted as 0: 60 %, not passed, beside progress'
    # average of 100).
    for question in required:
        await api.post(f"/v1/questions/{question['id']}/attempts", headers=student, json={"answer": {"value": True}})
    grade = await lesson_grade()
    assert (grade["score"], grade["max_score"], grade["percent"], grade["passed"]) == (3, 3, 100, True), grade
    assert (grade["questions_answered"], grade["questions_total"]) == (2, 2)
    # An optional question answered counts like any other, by its points.
    wrong = await api.post(f"/v1/questions/{optional[0]['id']}/attempts", headers=student,
                           json={"answer": {"value": False}})
    assert wrong.status_code == 201
    grade = await lesson_grade()
    assert (grade["score"], grade["max_score"], grade["percent"], grade["passed"]) == (3, 4, 75, True), grade
    # Each change of the lesson grade is announced, for progress' average_score and the dashboards.
    announced = _outbox(admin_connection, "assessment.lesson.graded.v1", claims(student)["sub"])
    assert [(e["data"]["percent"], e["data"]["passed"], e["data"]["reason"]) for e in announced] == [
        ("66.67", False, "ANSWERED"), ("100.00", True, "ANSWERED"), ("75.00", True, "ANSWERED")]
    assert announced[-1]["data"]["questions_counted"] == 3 and float(announced[-1]["data"]["passing_threshold"]) == 70

    # The organisation raises its passing threshold: every existing grade is judged again, at once.
    tenant_id = uuid.UUID(claims(teacher)["tid"])
    await publish(infra, "identity.system-configs", [identity.SystemConfigChanged(
        config_id=f"{tenant_id}:grading.passingThreshold", key="grading.passingThreshold", value=80,
        scope_tenant_id=tenant_id)], tenant_id=tenant_id, producer="identity", actor_id=claims(users["admin"])["sub"])
    await wait_for_row(admin_connection, "SELECT NOT passed FROM assessment.grades WHERE student_id = %s AND "
                       "scope = 'LESSON'", (uuid.UUID(claims(student)["sub"]),), message="passed was not re-evaluated")
    grade = await lesson_grade()
    assert (grade["percent"], grade["passed"]) == (75, False)
    flipped = _outbox(admin_connection, "assessment.lesson.graded.v1", claims(student)["sub"])[-1]["data"]
    assert (flipped["percent"], flipped["passed"], flipped["reason"]) == ("75.00", False, "THRESHOLD_CHANGED")
    assert float(flipped["passing_threshold"]) == 80


async def test_a_platform_wide_passing_threshold_judges_every_organisation_without_its_own_again(
        api, worker, accounts, infra, admin_connection):
    users = await accounts.tenant_with_users(f"platform-{uuid.uuid4().hex[:6]}")
    teacher, student = users["teacher"], users["student"]
    world = await _world(infra, admin_connection, teacher)
    for answer in (True, False):  # one of two right: 50 %, not passed against the default 70
        question = await _approved_question(api, teacher, world, {"type": "TRUE_FALSE", "correct": True})
        await api.post(f"/v1/questions/{question['id']}/attempts", headers=student, json={"answer": {"value": answer}})
    student_id = uuid.UUID(claims(student)["sub"])
    lesson = "SELECT passed FROM assessment.grades WHERE student_id = %s AND scope = 'LESSON'"
    assert admin_connection.execute(lesson, (student_id,)).fetchone() == (False,)
    platform = uuid.uuid4()  # the platform admin's organisation

    async def platform_threshold(value) -> None:
        await publish(infra, "identity.system-configs", [identity.SystemConfigChanged(
            config_id="platform:grading.passingThreshold", key="grading.passingThreshold", value=value,
            is_default=value is None)], tenant_id=platform, producer="identity", actor_id=uuid.uuid4())

    try:
        await platform_threshold(40)
        await wait_for_row(admin_connection, lesson.replace("SELECT passed", "SELECT passed IS TRUE"), (student_id,),
                           message="a platform-wide threshold did not reach the organisation's grades")
        flipped = _outbox(admin_connection, "assessment.lesson.graded.v1", str(student_id))[-1]
        assert flipped["data"]["reason"] == "THRESHOLD_CHANGED" and flipped["tenant_id"] == str(world.tenant_id)
    finally:
        await platform_threshold(None)  # back to the default for the tests that follow
    await wait_for_row(admin_connection, lesson.replace("SELECT passed", "SELECT passed IS FALSE"), (student_id,))

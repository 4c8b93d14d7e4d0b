"""What the runner's process exports about AI (runtime/metrics.py), on real PostgreSQL and Kafka: each
provider request (the built-in generator, a local OpenAI-compatible server) counted by provider, request
type and outcome with its tokens, cost and duration — the same figures as ai_usage_logs — and the
generation queue's depth and age across tenants, which the runtime role can only count through
generation_queue_stats(), never read."""

from __future__ import annotations

import json
import uuid
from decimal import Decimal

import psycopg
import pytest
from prometheus_client import REGISTRY
from sqlalchemy import text

from cuepoint.contracts import content
from cuepoint.runtime import db
from tests.support.accounts import Accounts
from tests.support.streams import claims, publish, wait_for_row

pytestmark = pytest.mark.integration

SEGMENTS = [
    (0, 10, "Photosynthesis happens inside chloroplasts. Chlorophyll absorbs sunlight very efficiently."),
    (10, 20, "Plants combine carbon dioxide and water. The reaction releases oxygen into the atmosphere."),
    (20, 30, "Stomata regulate gas exchange through the leaves. Guard cells open stomata during daylight."),
]
OUTPUT = json.dumps({"questions": [{"prompt": "Photosynthesis releases oxygen.", "explanation": "It does.",
                                    "content": {"type": "TRUE_FALSE", "correct": True}}]})


def _value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def _ai_figures(provider: str, request_type: str = "QUESTION_GENERATION") -> dict[str, float]:
    figures = {}
    for outcome in ("success", "error"):
        figures[f"requests_{outcome}"] = _value("cuepoint_ai_requests_total", provider=provider,
                                                request_type=request_type, outcome=outcome)
        figures[f"timed_{outcome}"] = _value("cuepoint_ai_request_duration_seconds_count", provider=provider,
                                             outcome=outcome)
    figures["seconds"] = sum(_value("cuepoint_ai_request_duration_seconds_sum", provider=provider, outcome=outcome)
                             for outcome in ("success", "error"))
    for direction in ("input", "output"):
        figures[f"tokens_{direction}"] = _value("cuepoint_ai_tokens_total", provider=provider, direction=direction)
    figures["cost"] = _value("cuepoint_ai_cost_usd_total", provider=provider)
    return figures


def _moved(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {key: after[key] - before[key] for key in before}


async def _lesson(infra, admin_connection, teacher: dict[str, str]) -> tuple[uuid.UUID, uuid.UUID]:
    """A lesson with one video, one milestone and its transcript, as content announces them."""
    who = claims(teacher)
    tenant_id, teacher_id = uuid.UUID(who["tid"]), uuid.UUID(who["sub"])
    lesson_id, video_id = uuid.uuid4(), uuid.uuid4()
    await publish(infra, "content.events", [
        content.LessonCreated(lesson_id=lesson_id, title="Photosynthesis", created_by_id=teacher_id),
        content.MilestoneCreated(milestone_id=uuid.uuid4(), video_id=video_id, lesson_id=lesson_id, timestamp=30.0,
                                 title="Gas exchange", is_required=True),
        content.TranscriptReady(transcript_id=uuid.uuid4(), video_id=video_id, lesson_id=lesson_id, language="en",
                                segment_count=len(SEGMENTS), segments_url="/v1/…",
                                segments=[content.TranscriptSegment(start=s, end=e, text=t) for s, e, t in SEGMENTS]),
    ], tenant_id=tenant_id, producer="content", actor_id=teacher_id)
    await wait_for_row(admin_connection, "SELECT count(*) = 1 FROM assessment.transcripts WHERE video_id = %s",
                       (video_id,), message="the transcripts projection was not fed")
    await wait_for_row(admin_connection, "SELECT count(*) = 1 FROM assessment.milestones WHERE video_id = %s",
                       (video_id,), message="the milestones projection was not fed")
    return tenant_id, lesson_id


async def _generate(api, generation, teacher, lesson_id: uuid.UUID, **body) -> dict:
    response = await api.post("/v1/generation-jobs", headers=teacher,
                              json={"lesson_id": str(lesson_id), "count_per_milestone": 1, "types": ["TRUE_FALSE"],
                                    **body})
    assert response.status_code == 202, response.text
    while await generation.run_once():
        pass
    return (await api.get(f"/v1/generation-jobs/{response.json()['id']}", headers=teacher)).json()


def _logged(admin_connection, job_id: str) -> tuple[int, int, int, int, Decimal]:
    """The job's requests in ai_usage_logs: (succeeded, failed, tokens in, tokens out, cost)."""
    return admin_connection.execute(
        "SELECT count(*) FILTER (WHERE success), count(*) FILTER (WHERE NOT success), sum(tokens_in), "
        "sum(tokens_out), sum(cost) FROM assessment.ai_usage_logs WHERE job_id = %s", (uuid.UUID(job_id),)).fetchone()


async def test_each_provider_request_moves_the_ai_counters_and_histogram_by_provider_and_outcome(
        api, generation, worker, accounts: Accounts, infra, admin_connection, fake_openai):
    # An organisation of its own: its active OpenAI configuration must not outlive the fake server elsewhere.
    users = await accounts.tenant_with_users(f"ai-metrics-{uuid.uuid4().hex[:6]}")
    admin, teacher = users["admin"], users["teacher"]
    _, lesson_id = await _lesson(infra, admin_connection, teacher)

    # The built-in generator: one request, free.
    before = _ai_figures("OFFLINE")
    offline = await _generate(api, generation, teacher, lesson_id, provider="OFFLINE")
    assert offline["status"] == "SUCCEEDED", offline
    moved = _moved(before, _ai_figures("OFFLINE"))
    succeeded, failed, tokens_in, tokens_out, cost = _logged(admin_connection, offline["id"])
    assert (succeeded, failed, cost) == (1, 0, 0)
    assert moved == {"requests_success": 1, "requests_error": 0, "timed_success": 1, "timed_error": 0,
                     "seconds": moved["seconds"], "tokens_input": tokens_in, "tokens_output": tokens_out, "cost": 0}
    assert tokens_in > 0 and tokens_out > 0

    # OpenAI: a 429 (retried), a billed answer that is not valid JSON (retried), then questions.
    response = await api.post("/v1/ai-configurations", headers=admin, json={
        "name": f"openai-{uuid.uuid4().hex[:6]}", "provider": "OPENAI", "model": "gpt-test",
        "base_url": fake_openai.url,
        "api_key": "sk-test-secret", "input_price_per_1k": "0.01", "output_price_per_1k": "0.03", "is_active": True})
    assert response.status_code == 201, response.text
    configuration = response.json()
    fake_openai.script = [("status", 429), ("raw", "{not json"), ("ok", OUTPUT)]
    before, offline_before = _ai_figures("OPENAI"), _ai_figures("OFFLINE")
    job = await _generate(api, generation, teacher, lesson_id, provider="OPENAI")
    assert job["status"] == "SUCCEEDED" and len(fake_openai.requests) == 3, job
    moved = _moved(before, _ai_figures("OPENAI"))
    assert _ai_figures("OFFLINE") == offline_before  # labelled by the provider that answered
    succeeded, failed, tokens_in, tokens_out, cost = _logged(admin_connection, job["id"])
    assert (succeeded, failed, tokens_in, tokens_out) == (1, 2, 2400, 600)  # the fake bills 1200 + 300
    assert moved == pytest.approx({
        "requests_success": 1, "requests_error": 2, "timed_success": 1, "timed_error": 2, "seconds": moved["seconds"],
        "tokens_input": 2400, "tokens_output": 600, "cost": float(cost)})
    assert cost == Decimal("0.042")  # twice 1.2 × 0.01 + 0.3 × 0.03
    assert moved["seconds"] > 0

    # An admin's connection test is a request of its own type.
    tests_before = _ai_figures("OPENAI", "CONNECTION_TEST")
    fake_openai.script = [("status", 500)]
    tested = await api.post(f"/v1/ai-configurations/{configuration['id']}/test", headers=admin)
    assert tested.status_code == 200 and tested.json()["ok"] is False, tested.text
    moved = _moved(tests_before, _ai_figures("OPENAI", "CONNECTION_TEST"))
    assert (moved["requests_error"], moved["requests_success"], moved["tokens_input"]) == (1, 0, 0)
    assert _ai_figures("OPENAI")["requests_error"] == before["requests_error"] + 2  # not a generation request
    # Deactivated, so that no later test finds it active.
    assert (await api.patch(f"/v1/ai-configurations/{configuration['id']}", headers=admin,
                            json={"is_active": False})).status_code == 200


def _queue(provider: str) -> dict[str, float]:
    figures = {state: _value("cuepoint_generation_queue_jobs", provider=provider, state=state)
               for state in ("waiting", "running", "deferred")}
    figures["oldest"] = _value("cuepoint_generation_queue_oldest_waiting_age_seconds", provider=provider)
    return figures


async def test_the_queue_gauges_count_every_tenants_jobs_that_the_runtime_role_cannot_read(
        generation, admin_connection):
    tenant_a, tenant_b = uuid.uuid4(), uuid.uuid4()
    rows = [  # (tenant, due, lease held since)
        (tenant_a, "now() - interval '10 minutes'", None),  # waiting: due for 10 minutes
        (tenant_a, "now()", None),  # waiting
        (tenant_b, "now() - interval '1 second'", None),  # waiting
        (tenant_b, "now() + interval '5 minutes'", "now()"),  # running: a runner holds its lease
        (tenant_a, "now() + interval '5 minutes'", None),  # deferred: backing off after a failed run
    ]
    job_ids = [uuid.uuid4() for _ in rows]
    await generation.sample_queue_once()  # whatever earlier tests of the run left queued
    before = _queue("OFFLINE")
    try:
        for job_id, (tenant_id, available, leased) in zip(job_ids, rows, strict=True):
            admin_connection.execute(
                f"INSERT INTO assessment.generation_queue (job_id, tenant_id, available_at, leased_at, provider) "
                f"VALUES (%s, %s, {available}, {leased or 'NULL'}, 'OFFLINE')", (job_id, tenant_id))

        sampled = await generation.sample_queue_once()
        after = _queue("OFFLINE")
        assert {k: after[k] - before[k] for k in ("waiting", "running", "deferred")} == {
            "waiting": 3, "running": 1, "deferred": 1}
        assert after["oldest"] >= 600  # A's job due for 10 minutes, whichever tenant waits longest
        assert {row.provider for row in sampled} >= {"OFFLINE"}
        assert set(sampled[0]._fields) == {"provider", "waiting", "running", "deferred", "oldest_waiting_seconds"}

        # The runtime role reads neither tenant's rows: none without a tenant, only its own with one.
        dsn = db.libpq_dsn(generation.settings.runtime_database_url)
        with psycopg.connect(dsn) as runtime:
            mine = "SELECT tenant_id FROM assessment.generation_queue WHERE job_id = ANY(%s)"
            assert runtime.execute(mine, (job_ids,)).fetchall() == []
            runtime.execute("SELECT set_config('app.tenant_id', %s, false)", (str(tenant_a),))
            assert {t for t, in runtime.execute(mine, (job_ids,)).fetchall()} == {tenant_a}
        async with generation.sessions() as session:  # the runner's own sessions: counts, never rows
            counted = await session.execute(text(
                "SELECT count(*) FROM assessment.generation_queue WHERE tenant_id = :b"), {"b": tenant_b})
            assert counted.scalar() == 0
    finally:
        admin_connection.execute("DELETE FROM assessment.generation_queue WHERE job_id = ANY(%s)", (job_ids,))
    await generation.sample_queue_once()
    assert _queue("OFFLINE")["waiting"] == before["waiting"]

    # A narrow function: the owner's, SECURITY DEFINER, executable by assessment's runtime role and no other.
    owner, definer = admin_connection.execute(
        "SELECT r.rolname, p.prosecdef FROM pg_proc p JOIN pg_roles r ON r.oid = p.proowner "
        "WHERE p.oid = 'assessment.generation_queue_stats'::regproc").fetchone()
    assert (owner, definer) == ("cuepoint_assessment_owner", True)
    may = "SELECT has_function_privilege(%s, 'assessment.generation_queue_stats()', 'EXECUTE')"
    assert admin_connection.execute(may, ("cuepoint_assessment",)).fetchone()[0] is True
    assert admin_connection.execute(may, ("cuepoint_content",)).fetchone()[0] is False

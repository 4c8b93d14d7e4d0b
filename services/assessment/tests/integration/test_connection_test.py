"""Testing an AI configuration's connection: one tiny request to a local OpenAI-compatible server
on 127.0.0.1 (conftest's ``fake_openai``), classified; real PostgreSQL and Kafka behind it."""

from __future__ import annotations

import json
import socket
import time
import uuid
from decimal import Decimal

import pytest

from tests.support.accounts import Accounts
from tests.support.streams import read_topic

pytestmark = pytest.mark.integration

KEY = "sk-test-connection-secret"
ANSWER_FIELDS = {"configuration_id", "provider", "model", "ok", "latency_ms", "problem", "detail", "tokens_used",
                 "usage_logged"}


async def _configuration(api, admin, **fields) -> dict:
    response = await api.post("/v1/ai-configurations", headers=admin, json={
        "name": f"test-{uuid.uuid4().hex[:8]}", "provider": "OPENAI", "model": "gpt-probe",
        "input_price_per_1k": "0.01", "output_price_per_1k": "0.03", **fields})
    assert response.status_code == 201, response.text
    return response.json()


async def _test(api, headers, configuration: dict) -> dict:
    response = await api.post(f"/v1/ai-configurations/{configuration['id']}/test", headers=headers)
    assert response.status_code == 200, response.text
    assert KEY not in response.text
    body = response.json()
    assert set(body) == ANSWER_FIELDS
    assert body["configuration_id"] == configuration["id"] and body["model"] == configuration["model"]
    return body


def _logged(admin_connection, configuration: dict) -> list[tuple]:
    return admin_connection.execute(
        "SELECT request_type, tokens_used, cost, success, job_id FROM assessment.ai_usage_logs "
        "WHERE configuration_id = %s", (uuid.UUID(configuration["id"]),)).fetchall()


async def test_a_valid_chat_completion_is_ok_with_its_latency_and_the_billed_test_is_logged(
        api, worker, accounts: Accounts, infra, admin_connection, fake_openai):
    admin = await accounts.login("admin@example.com")
    configuration = await _configuration(api, admin, base_url=fake_openai.url, api_key=KEY)
    fake_openai.script = [("sleep", 0.3)]  # answers a valid completion after 300 ms

    result = await _test(api, admin, configuration)

    assert result["ok"] is True and result["problem"] is None and result["detail"] is None, result
    assert 300 <= result["latency_ms"] < 1000
    assert result["tokens_used"] == 1500 and result["usage_logged"] is True  # the fake bills 1200 + 300
    # One small, bounded request with the configured key and model.
    assert len(fake_openai.requests) == 1 and fake_openai.authorization == [f"Bearer {KEY}"]
    sent = fake_openai.requests[0]
    assert sent["model"] == "gpt-probe" and sent["max_tokens"] <= 5
    assert len(sent["messages"]) == 1 and len(sent["messages"][0]["content"]) < 100
    assert _logged(admin_connection, configuration) == [("CONNECTION_TEST", 1500, Decimal("0.021000"), True, None)]
    announced = await read_topic(infra, "assessment.events", lambda e: e["event_type"] ==
                                 "assessment.ai_usage.recorded.v1" and e["data"]["request_type"] == "CONNECTION_TEST"
                                 and e["data"]["model"] == "gpt-probe", expect=1)
    assert announced and announced[-1]["data"]["tokens_used"] == 1500


async def test_a_refused_key_says_authentication_and_logs_nothing(api, accounts, admin_connection, fake_openai):
    admin = await accounts.login("admin@example.com")
    configuration = await _configuration(api, admin, base_url=fake_openai.url, api_key=KEY)
    fake_openai.script = [("status", 401)]

    result = await _test(api, admin, configuration)

    assert result["ok"] is False and result["problem"] == "AUTHENTICATION_REFUSED", result
    assert "refused the API key" in result["detail"] and "401" in result["detail"]
    assert "Traceback" not in result["detail"] and isinstance(result["latency_ms"], int)
    assert result["usage_logged"] is False and _logged(admin_connection, configuration) == []


async def test_an_html_page_with_200_is_an_unexpected_answer(api, accounts, admin_connection, fake_openai):
    admin = await accounts.login("admin@example.com")
    configuration = await _configuration(api, admin, base_url=fake_openai.url, api_key=KEY)
    fake_openai.script = [("html", "<!doctype html><html><body>Sign in</body></html>")]

    result = await _test(api, admin, configuration)

    assert result["ok"] is False and result["problem"] == "UNEXPECTED_ANSWER", result
    assert "not a chat completion" in result["detail"] and "text/html" in result["detail"]
    assert "<html" not in result["detail"]
    assert _logged(admin_connection, configuration) == []


async def test_a_provider_that_never_answers_times_out_within_the_deadline(api, accounts, fake_openai):
    admin = await accounts.login("admin@example.com")
    configuration = await _configuration(api, admin, base_url=fake_openai.url, api_key=KEY)
    fake_openai.script = [("hang", 5.0)]

    started = time.monotonic()
    result = await _test(api, admin, configuration)
    elapsed = time.monotonic() - started

    assert result["ok"] is False and result["problem"] == "TIMED_OUT", result
    assert "did not answer within 1 s" in result["detail"]
    assert 0.9 <= elapsed < 3.0 and 900 <= result["latency_ms"] < 3000  # the test deadline is 1 s


async def test_nothing_listening_is_unreachable(api, accounts):
    admin = await accounts.login("admin@example.com")
    # A port just closed on 127.0.0.1: nothing listens there.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    configuration = await _configuration(api, admin, base_url=f"http://127.0.0.1:{port}/v1", api_key=KEY)

    result = await _test(api, admin, configuration)

    assert result["ok"] is False and result["problem"] == "UNREACHABLE", result
    assert f"127.0.0.1:{port}" in result["detail"]


async def test_an_unknown_model_says_so(api, accounts, fake_openai):
    admin = await accounts.login("admin@example.com")
    configuration = await _configuration(api, admin, base_url=fake_openai.url, api_key=KEY)
    fake_openai.script = [("status", 404)]

    result = await _test(api, admin, configuration)

    assert result["ok"] is False and result["problem"] == "MODEL_NOT_FOUND", result
    assert "'gpt-probe'" in result["detail"]


async def test_no_key_is_said_without_any_request(api, accounts, fake_openai):
    admin = await accounts.login("admin@example.com")
    configuration = await _configuration(api, admin, base_url=fake_openai.url)  # inactive: allowed without a key
    fake_openai.script = [("ok", "{}")]

    result = await _test(api, admin, configuration)

    assert result["ok"] is False and result["problem"] == "NO_API_KEY" and "no API key" in result["detail"]
    assert result["latency_ms"] is None and fake_openai.requests == []


async def test_the_offline_provider_is_ok_at_once(api, accounts, admin_connection):
    admin = await accounts.login("admin@example.com")
    configuration = await _configuration(api, admin, provider="OFFLINE", model="offline-test")

    result = await _test(api, admin, configuration)

    assert result == {"configuration_id": configuration["id"], "provider": "OFFLINE", "model": "offline-test",
                      "ok": True, "latency_ms": 0, "problem": None, "detail": None, "tokens_used": 0,
                      "usage_logged": False}
    assert _logged(admin_connection, configuration) == []


async def test_only_the_tenants_admins_may_test(api, accounts: Accounts, fake_openai):
    admin = await accounts.login("admin@example.com")
    configuration = await _configuration(api, admin, base_url=fake_openai.url, api_key=KEY)
    fake_openai.script = [("ok", "{}")]
    url = f"/v1/ai-configurations/{configuration['id']}/test"

    teacher = await accounts.login("teacher@example.com")
    refused = await api.post(url, headers=teacher)
    assert refused.status_code == 403, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")

    elsewhere = await accounts.tenant_with_users(f"probe-{uuid.uuid4().hex[:6]}")
    hidden = await api.post(url, headers=elsewhere["admin"])
    assert hidden.status_code == 404, hidden.text
    assert hidden.headers["content-type"].startswith("application/problem+json")
    assert json.loads(hidden.text)["status"] == 404

    unknown = await api.post(f"/v1/ai-configurations/{uuid.uuid4()}/test", headers=admin)
    assert unknown.status_code == 404
    assert fake_openai.requests == []  # none of them reached the provider

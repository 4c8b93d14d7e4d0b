"""assessment on the real PostgreSQL and Kafka, with a local OpenAI-compatible HTTP server."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import psycopg
import pytest
from faststream.kafka import KafkaBroker

from cuepoint.assessment.bootstrap import build_assessment, build_generation, consumers, spec
from cuepoint.assessment.settings import AssessmentSettings
from cuepoint.runtime import db
from cuepoint.runtime.consumer import DeadLetters
from cuepoint.runtime.outbox import OutboxRelay
from cuepoint.runtime.service import ServiceContext, build_app
from tests.support.accounts import Accounts
from tests.support.platform import Infra


@pytest.fixture(scope="session")
def assessment_settings(infra: Infra, test_database: str, topics: list[str]) -> AssessmentSettings:
    return infra.settings("assessment", AssessmentSettings, ai_backoff_seconds=0.05, ai_timeout_seconds=1.0,
                          generation_poll_seconds=0.2)


@pytest.fixture
async def assessment_context(assessment_settings: AssessmentSettings, accounts: Accounts
                             ) -> AsyncIterator[ServiceContext]:
    context = ServiceContext("assessment", assessment_settings)
    context.__dict__["verifier"] = accounts.verifier()
    yield context
    await context.close()


@pytest.fixture
async def api(assessment_context: ServiceContext) -> AsyncIterator[httpx.AsyncClient]:
    app = build_app(spec(), assessment_context)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://assessment") as client:
        yield client


@pytest.fixture
def generation(assessment_context: ServiceContext):
    return build_generation(assessment_context)


@pytest.fixture
def assessment(assessment_context: ServiceContext):
    return build_assessment(assessment_context)


@pytest.fixture
def admin_connection(infra: Infra, test_database: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(infra.admin_database_url(), autocommit=True) as connection:
        yield connection


@pytest.fixture
async def worker(assessment_context: ServiceContext, infra: Infra) -> AsyncIterator[None]:
    """The worker's consumers (content.events projection) and the outbox relay, running."""
    stop = asyncio.Event()
    relay = OutboxRelay(dsn=db.libpq_dsn(assessment_context.settings.runtime_database_url), schema="assessment",
                        bootstrap_servers=infra.bootstrap_servers, poll_interval=0.3)
    relay_task = asyncio.create_task(relay.run(stop))
    broker = KafkaBroker(infra.bootstrap_servers, acks="all", enable_idempotence=True)
    dead_letters = DeadLetters(infra.bootstrap_servers, client_id="assessment-test")
    consumers(assessment_context, broker, dead_letters)
    await broker.start()
    try:
        yield
    finally:
        await broker.stop()
        await dead_letters.close()
        stop.set()
        await relay_task


# --- a local OpenAI-compatible server -------------------------------------------------------------


@dataclass
class FakeOpenAI:
    """Serves /v1/chat/completions from a script: each request takes the next step (the last repeats).

    A step is ("ok", content_json_text) | ("status", code) | ("sleep", seconds) | ("raw", text).
    """

    url: str
    script: list[tuple[str, Any]] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    authorization: list[str] = field(default_factory=list)

    def next_step(self) -> tuple[str, Any]:
        return self.script.pop(0) if len(self.script) > 1 else self.script[0]


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    state: dict[str, FakeOpenAI] = {}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:  # noqa: N802 - the http.server API
            server = state["server"]
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            server.requests.append(body)
            server.authorization.append(self.headers.get("Authorization", ""))
            kind, value = server.next_step()
            if kind == "sleep":
                time.sleep(value)
                kind, value = "ok", json.dumps({"questions": []})
            if kind == "status":
                payload = json.dumps({"error": {"message": f"scripted {value}", "type": "scripted"}}).encode()
                self.send_response(value)
                self.send_header("Content-Type", "application/json")
                if value == 429:
                    self.send_header("Retry-After", "0")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                return
            content = value
            payload = json.dumps({
                "id": "chatcmpl-test", "object": "chat.completion", "created": int(time.time()), "model": body["model"],
                "choices": [{"index": 0, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": content}}],
                "usage": {"prompt_tokens": 1200, "completion_tokens": 300, "total_tokens": 1500},
            }).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    fake = FakeOpenAI(url=f"http://127.0.0.1:{httpd.server_address[1]}/v1")
    state["server"] = fake
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield fake
    httpd.shutdown()
    httpd.server_close()

"""assessment on the real PostgreSQL and Kafka, with a local OpenAI-compatible HTTP server."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from cuepoint.assessment.bootstrap import build_assessment, build_generation, spec
from cuepoint.assessment.settings import AssessmentSettings
from cuepoint.runtime.service import ServiceContext
from tests.support.accounts import Accounts
from tests.support.platform import Infra
from tests.support.services import api_client, running_worker, service_context


@pytest.fixture(scope="session")
def assessment_settings(infra: Infra, test_database: str, topics: list[str]) -> AssessmentSettings:
    return infra.settings("assessment", AssessmentSettings, ai_backoff_seconds=0.05, ai_timeout_seconds=1.0,
                          ai_test_timeout_seconds=1.0, generation_poll_seconds=0.2)


@pytest.fixture
async def assessment_context(assessment_settings: AssessmentSettings, accounts: Accounts
                             ) -> AsyncIterator[ServiceContext]:
    async with service_context(spec(), assessment_settings, accounts) as context:
        yield context


@pytest.fixture
async def api(assessment_context: ServiceContext) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(spec(), assessment_context) as client:
        yield client


@pytest.fixture
def generation(assessment_context: ServiceContext):
    return build_generation(assessment_context)


@pytest.fixture
def assessment(assessment_context: ServiceContext):
    return build_assessment(assessment_context)


@pytest.fixture
async def worker(assessment_settings: AssessmentSettings, infra: Infra) -> AsyncIterator[ServiceContext]:
    """The worker's consumers (content.events projection) and the outbox relay, running. The generation
    loop is not: tests run jobs themselves (``generation.run_once``) to control when."""
    async with running_worker(spec(), assessment_settings, infra) as context:
        yield context


# --- a local OpenAI-compatible server -------------------------------------------------------------


@dataclass
class FakeOpenAI:
    """Serves /v1/chat/completions from a script: each request takes the next step (the last repeats).

    A step is ("ok", content_json_text) | ("status", code) | ("sleep", seconds) | ("raw", text)
    | ("html", page): a 200 that is not JSON | ("hang", seconds): no answer at all, then the connection closes
    | ("body", json_text): a 200 application/json body that is not a chat completion
    | ("trickle", seconds): a 200 whose body comes a byte every 0.2 s for that long (each read is quick)
    | ("slow", (seconds, content_json_text)): "ok", after that long.
    ``in_flight``/``max_in_flight``: requests being answered now / at most at once.
    """

    url: str
    script: list[tuple[str, Any]] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    authorization: list[str] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

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
            with server.lock:
                server.in_flight += 1
                server.max_in_flight = max(server.max_in_flight, server.in_flight)
            try:
                self.answer(server)
            finally:
                with server.lock:
                    server.in_flight -= 1

        def answer(self, server: FakeOpenAI) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            with server.lock:
                server.requests.append(body)
                server.authorization.append(self.headers.get("Authorization", ""))
                kind, value = server.next_step()
            if kind == "body":
                page = value.encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(page)))
                self.end_headers()
                self.wfile.write(page)
                return
            if kind == "trickle":
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "100000")
                self.end_headers()
                until = time.monotonic() + value
                try:
                    while time.monotonic() < until:
                        self.wfile.write(b" ")
                        self.wfile.flush()
                        time.sleep(0.2)
                except OSError:  # the client gave up
                    pass
                self.close_connection = True
                return
            if kind == "slow":
                seconds, value = value
                time.sleep(seconds)
                kind = "ok"
            if kind == "hang":
                time.sleep(value)
                self.close_connection = True
                return
            if kind == "html":
                page = value.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(page)))
                self.end_headers()
                self.wfile.write(page)
                return
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

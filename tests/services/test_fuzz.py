"""Every route of every service, fuzzed from its own OpenAPI document (schemathesis): whatever a
client sends, no answer is a 5xx (issue 16, finding 5). Bad input is the client's mistake and answers
4xx as problem+json; a 500 means an input class reached a place that cannot take it (a NUL in text,
an integer past PostgreSQL's range, JSON nested past the parser's recursion limit …).

The apps run in-process on the real PostgreSQL and Kafka, each request as an admin or a teacher of an
organisation made for the run (never the demo accounts: a valid request may erase the caller).
Hypothesis draws the cases (schemathesis' strategies, positive and negative); they are sent from the
test's own event loop, where the services' engines live. About a minute for the ~100 operations at
``EXAMPLES`` each on two cores."""

from __future__ import annotations

import asyncio
import importlib
import json
import logging
import os
import socket
import uuid
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import schemathesis
from gcp_storage_emulator.server import create_server
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.generation import GenerationMode

from cuepoint.contracts.topics import SERVICES
from cuepoint.runtime.service import ServiceContext, build_app
from tests.support.accounts import Accounts
from tests.support.platform import Infra

pytestmark = pytest.mark.integration

EXAMPLES = 20
SETTINGS = {"content": {"storage_bucket": "cuepoint-fuzz-media"}}


@pytest.fixture(scope="module")
def storage_emulator() -> Iterator[str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = create_server("127.0.0.1", port, in_memory=True, default_bucket=SETTINGS["content"]["storage_bucket"])
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


def _cases(document: dict) -> list[tuple[str, object]]:
    """(operation, case) pairs: ``EXAMPLES`` drawn for each operation, valid and invalid input alike."""
    schema = schemathesis.openapi.from_dict(document)
    schema.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
    drawn: list[tuple[str, object]] = []
    for result in schema.get_all_operations():
        operation = result.ok()

        @settings(max_examples=EXAMPLES, phases=[Phase.generate], database=None, deadline=None,
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def draw(case) -> None:
            drawn.append((operation.label, case))

        draw()
    return drawn


@pytest.fixture
async def clients(infra: Infra, test_database: str, topics: list[str], accounts: Accounts,
                  storage_emulator: str) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    opened, contexts = {}, []
    for service in SERVICES:
        spec = importlib.import_module(f"cuepoint.{service}.bootstrap").spec()
        overrides = dict(SETTINGS.get(service, {}))
        if service == "content":
            overrides["STORAGE_EMULATOR_HOST"] = storage_emulator
        settings_class = type(spec.settings())
        context = ServiceContext(service, infra.settings(service, settings_class, **overrides))
        if service != "identity":
            context.__dict__["verifier"] = accounts.verifier()  # identity's real JWKS, in-process
        contexts.append(context)
        app = build_app(spec, context)
        opened[service] = httpx.AsyncClient(transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
                                            base_url=f"http://{service}")
    yield opened
    for client in opened.values():
        await client.aclose()
    for context in contexts:
        await context.close()


@pytest.mark.parametrize("service", SERVICES)
async def test_no_route_answers_5xx_to_any_input(service, clients, accounts: Accounts) -> None:
    logging.disable(logging.CRITICAL if not os.environ.get("CUEPOINT_FUZZ_LOGS") else logging.NOTSET)
    try:
        client = clients[service]
        document = (await client.get("/openapi.json")).json()
        # An organisation of its own: the fuzz erases, deactivates and logs out whoever it acts as
        # (POST /v1/users/me/erase is a valid request), which must not be the demo accounts later tests use.
        users = await accounts.tenant_with_users(f"fuzz-{service}-{uuid.uuid4().hex[:6]}")
        logins = [users["admin"], users["teacher"]]
        failures = []
        streams = {f"{method.upper()} {path}" for path, operations in document["paths"].items()
                   for method, operation in operations.items()
                   if "text/event-stream" in json.dumps(operation.get("responses", {}))}
        for index, (label, case) in enumerate(_cases(document)):
            kwargs = case.as_transport_kwargs(base_url=f"http://{service}")
            headers = {**(kwargs.pop("headers", None) or {}), **logins[index % 2]}
            kwargs.pop("cookies", None)
            request = client.request(kwargs.pop("method"), kwargs.pop("url"), headers=headers,
                                     params=kwargs.pop("params", None), json=kwargs.pop("json", None),
                                     content=kwargs.pop("data", None) if "data" in kwargs else None,
                                     files=kwargs.pop("files", None))
            try:
                # The in-process transport buffers the whole body: a live stream that opened never ends.
                response = await asyncio.wait_for(request, timeout=3 if label in streams else 30)
            except TimeoutError:
                if label not in streams:
                    failures.append(f"{label} → no answer in 30 s: {case.as_curl_command()}")
                continue
            # /readyz answers 503 by contract when a dependency is down, and so does a route that found
            # PostgreSQL or Kafka unavailable (with Retry-After): those say when to come back, not a bug.
            unavailable = response.status_code == 503 and (label == "GET /readyz" or "retry-after" in response.headers)
            if response.status_code >= 500 and not unavailable:
                failures.append(f"{label} → {response.status_code}: {case.as_curl_command()}"[:2000])
        assert not failures, f"{len(failures)} 5xx answers:\n" + "\n".join(failures[:40])
    finally:
        logging.disable(logging.NOTSET)


async def test_the_inputs_the_attack_found_answer_422_problems(clients, accounts: Accounts) -> None:
    """The instances of issue 16's finding 5, each now a 422 problem: NUL in text, a paging offset past
    PostgreSQL's bigint, JSON nested 1,000 deep."""
    teacher = await accounts.login("teacher@example.com")
    admin = await accounts.login("admin@example.com")
    deep = "[" * 1000 + "]" * 1000
    answers = [
        await clients["content"].post("/v1/lessons", headers=teacher, json={"title": "Cells\u0000"}),
        await clients["content"].post("/v1/lessons", headers=teacher, json={"title": "Cells", "tags": ["a\u0000"]}),
        await clients["identity"].get("/v1/users", headers=admin, params={"q": "ada\u0000"}),
        await clients["content"].get("/v1/lessons", headers=teacher, params={"offset": 10**20}),
        await clients["identity"].get("/v1/users", headers=admin, params={"offset": 10**20}),
        await clients["progress"].get("/v1/dashboard", headers=teacher, params={"offset": 10**20}),
        await clients["analytics"].post("/v1/events", headers={**teacher, "Content-Type": "application/json"},
                                        content='{"device_id": "d", "events": [' + deep + "]}"),
        await clients["content"].post("/v1/lessons", headers={**teacher, "Content-Type": "application/json"},
                                      content='{"title": "Cells", "metadata": {"a": ' + deep + "}}"),
        await clients["content"].post("/v1/lessons", headers=teacher, json={"title": "x" * 201}),
    ]
    assert [a.status_code for a in answers] == [422] * len(answers), [a.text[:200] for a in answers]
    assert all(a.headers["content-type"].startswith("application/problem+json") for a in answers)

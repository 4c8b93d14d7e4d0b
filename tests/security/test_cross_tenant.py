"""Nobody reaches another organisation's data, on any route (issue 16, "Tests"): driven by every service's
own OpenAPI document, so that a new route is covered the day it is added.

Organisation B gets one of everything through the APIs (tests/support/tenant_world.py: a lesson with a
thumbnail, a chapter, a video, a transcript, a milestone, an approved question, an attempt, a published
version, a generation job, an AI configuration, a system config value, an invitation, telemetry, progress
and sessions). Then every operation of every service is called as each role of organisation A (admin,
teacher, student), its path parameters and its id query parameters and body fields filled with B's ids of
the right kind (``KINDS``: a parameter with no kind fails the test, so no route slips past), with a
minimal valid body built from the operation's schema. Each answer:

- is never a 5xx;
- as a 2xx, holds nothing of B (no id of B's but those the request sent, and none of the marker every one
  of B's texts carries: titles, names, emails, device, user agent);
- has the status the same request gets with ids that exist nowhere (fresh random ones): B's ids must be
  indistinguishable from no ids at all (a 403 for B's lesson where a missing one is a 404 tells A it exists).

And when all is done, B's resources read as they did before (``_snapshot``), and B's people are still
signed in. The public routes (test_roles' PUBLIC) are attacked too: login, registration and recovery with
B's slug and B's student's email must answer as for an email of nobody. ``ALLOWED`` lists the only routes
that may tell B's ids from none, each with its reason. A request per operation, role and variant, and one
more with random ids where it names any: about 650 in all, ~15 s of requests after ~10 s building B on two
quiet cores (run it with -s to see the count and the times)."""

from __future__ import annotations

import asyncio
import importlib
import json
import logging
import os
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from cuepoint.contracts.topics import SERVICES
from cuepoint.runtime.service import ServiceContext, build_app
from tests.contracts.test_roles import PUBLIC
from tests.support.accounts import Accounts
from tests.support.inprocess import service_clients, storage_emulator
from tests.support.platform import Infra, eventually
from tests.support.tenant_world import VTT, World, build_world, new_marker, tenant_with_people, thumbnail_png

pytestmark = pytest.mark.integration

ROLES = ("admin", "teacher", "student")

# What each parameter (path, query or body field) names, as a key of World.ids. A path parameter, or a
# query parameter ending in _id, that is in neither table fails test_every_parameter_has_a_kind.
KINDS = {
    "tenant_id": "tenant_id", "user_id": "user_id", "student_id": "user_id", "lesson_id": "lesson_id",
    "video_id": "video_id", "group_id": "group_id", "video_group_id": "group_id", "milestone_id": "milestone_id",
    "question_id": "question_id", "attempt_id": "attempt_id", "job_id": "job_id",
    "configuration_id": "configuration_id", "export_id": "export_id", "file_name": "file_name", "language": "language",
    "teacher_id": "teacher_id", "actor_id": "teacher_id", "target_id": "lesson_id",
    "question_ids": "question_id", "milestone_ids": "milestone_id", "video_ids": "video_id",
    "tenant": "tenant", "email": "email",  # the public routes' organisation (a slug) and account
}
KINDS_BY_SERVICE = {("identity", "session_id"): "identity_session_id",
                    ("progress", "session_id"): "progress_session_id"}
# Path parameters that are not an organisation's ids: a config key names a setting every organisation has.
NOT_IDS = {"key": "ai.monthlyBudgetUsd"}
# The same in the control request: "en" is not B's, and an organisation's slug is what its people type to
# sign in (not a secret; the accounts in it are: register, login and recovery must not tell B's from none).
NOT_RANDOM = {"language", "tenant"}

# The routes anyone may call without a token (tests/contracts/test_roles.py), as (service, METHOD, path):
# ("GET", "/api/identity/.well-known/jwks.json") → ("identity", "GET", "/.well-known/jwks.json"). Attacked
# like the others; only their 401s (a wrong password, a malformed refresh token) are not a gate's.
PUBLIC_ROUTES = {(path.split("/")[2], method, "/" + path.split("/", 3)[3]) for method, path in PUBLIC}

# Global by design: the only routes that may answer B's ids otherwise than random ones (they are still never
# a 5xx and never show B's data), each with its reason.
ALLOWED: dict[tuple[str, str, str], str] = {
    **{(service, "GET", probe): "a probe of the process: no organisation, no ids" for service in SERVICES
       for probe in ("/healthz", "/readyz")},
    ("content", "GET", "/v1/thumbnails/{tenant_id}/{file_name}"):
        "public: a thumbnail is an <img> (no header), its name unguessable (tests/contracts/test_roles.py)",
}
assert ("content", "GET", "/v1/thumbnails/{tenant_id}/{file_name}") in PUBLIC_ROUTES

# Known bugs this test found, by (service, METHOD path, role): each an xfail(strict=True) until fixed.
KNOWN: dict[tuple[str, str, str], str] = {}

# Reads whose answers to B's own people are B's data: what the oracle must see when it is there.
SELF_CHECK = [("content", "GET", "/v1/lessons/{lesson_id}"), ("assessment", "GET", "/v1/questions/{question_id}"),
              ("identity", "GET", "/v1/users/{user_id}"), ("progress", "GET", "/v1/sessions")]

# Operations that end the caller's session or account: sent last, each with a fresh login.
LAST = {("identity", "POST", "/v1/auth/logout"), ("identity", "POST", "/v1/users/me/erase")}


# A generation job waiting in the database from another test (an AI configuration whose server is gone)
# may be claimed by this test's generation loop: it fails fast rather than at production's timeouts.
QUICK = {"assessment": {"ai_timeout_seconds": 1.0, "ai_backoff_seconds": 0.05}}


def _documents() -> dict[str, dict]:
    """Each service's OpenAPI document, from its app as build_app makes it (no I/O)."""
    documents = {}
    logging.disable(logging.WARNING)
    try:
        for service in SERVICES:
            spec = importlib.import_module(f"cuepoint.{service}.bootstrap").spec()
            documents[service] = build_app(spec, ServiceContext(service, spec.settings())).openapi()
    finally:
        logging.disable(logging.NOTSET)
    return documents


DOCUMENTS = _documents()
OPERATIONS = [(service, method.upper(), path) for service, document in DOCUMENTS.items()
              for path, operations in document["paths"].items() for method in operations
              if method in ("get", "post", "put", "patch", "delete")]


def _kind(service: str, name: str) -> str | None:
    return KINDS_BY_SERVICE.get((service, name)) or KINDS.get(name)


def _operation(service: str, method: str, path: str) -> dict:
    return DOCUMENTS[service]["paths"][path][method.lower()]


def _resolve(document: dict, schema: dict) -> dict:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _example(document: dict, schema: dict, name: str, ids: dict[str, str], service: str) -> Any:
    """The least a schema takes: its required properties (and any property that names an id, filled with
    ``ids``), the first of an enum or of alternatives, the smallest number, the shortest string."""
    schema = _resolve(document, schema)
    kind = _kind(service, name)
    for key in ("anyOf", "oneOf"):
        if key in schema:
            options = [option for option in schema[key] if _resolve(document, option).get("type") != "null"]
            return _example(document, options[0], name, ids, service) if options else None
    if "allOf" in schema:
        return _example(document, schema["allOf"][0], name, ids, service)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    kind_of = schema.get("type")
    if kind_of == "object" or "properties" in schema:
        properties = schema.get("properties", {})
        return {key: _example(document, value, key, ids, service) for key, value in properties.items()
                if key in schema.get("required", []) or _kind(service, key)}
    if kind_of == "array":
        count = max(schema.get("minItems", 0), 1 if kind else 0)
        return [_example(document, schema.get("items", {}), name, ids, service) for _ in range(count)]
    if kind is not None and kind in ids:
        return ids[kind]
    if kind_of == "string":
        form = schema.get("format")
        if form == "uuid":
            return str(uuid.uuid4())
        if form == "email":
            return f"someone-{uuid.uuid4().hex[:8]}@a.example"
        if form == "date-time":
            return "2026-01-01T00:00:00Z"
        if form == "date":
            return "2026-01-01"
        if form == "uri":
            return "https://example.com/"
        return "Correct-Horse-Battery-9" if "password" in name else "x" * max(schema.get("minLength", 1), 1)
    if kind_of in ("integer", "number"):
        low = schema.get("minimum", schema.get("exclusiveMinimum", 0) + (1 if "exclusiveMinimum" in schema else 0))
        return int(low) if kind_of == "integer" else float(low)
    if kind_of == "boolean":
        return False
    return "1"  # any value (a system config's)


# Bodies the schema alone does not make valid (a discriminated answer, a transcript's text …): by operation.
def _bodies(ids: dict[str, str]) -> dict[tuple[str, str, str], Any]:
    return {
        ("analytics", "POST", "/v1/events"): {"device_id": "cross-tenant", "events": [
            {"type": "video.heartbeat", "lesson_id": ids["lesson_id"], "video_id": ids["video_id"], "position": 5,
             "played": [{"start": 0, "end": 5}]},
            {"type": "question.shown", "lesson_id": ids["lesson_id"], "question_id": ids["question_id"],
             "milestone_id": ids["milestone_id"]}]},
        ("assessment", "POST", "/v1/questions"): {
            "lesson_id": ids["lesson_id"], "milestone_id": ids["milestone_id"], "prompt": "Which?",
            "content": {"type": "TRUE_FALSE", "correct": True}},
        ("assessment", "POST", "/v1/questions/{question_id}/attempts"): {"answer": {"option_ids": ["a"]}},
        ("content", "PUT", "/v1/videos/{video_id}/transcripts/{language}"): {
            "format": "vtt", "content": VTT.format(marker="hello")},
        ("content", "POST", "/v1/lessons/{lesson_id}/videos"): {
            "title": "x", "content_type": "video/mp4", "size_bytes": 100, "video_group_id": ids["group_id"]},
        ("content", "POST", "/v1/videos/{video_id}/replace"): {"content_type": "video/mp4", "size_bytes": 100},
        ("identity", "PUT", "/v1/users/{user_id}/role"): {"role": "TEACHER"},
        ("identity", "PUT", "/v1/system-configs/{key}"): {"value": "12.00"},
        ("identity", "PUT", "/v1/platform/system-configs/{key}"): {"value": "12.00"},
    }


@dataclass
class Request:
    method: str
    path: str
    params: dict[str, str] = field(default_factory=dict)
    json: Any = None
    content: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    sent: set[str] = field(default_factory=set)  # the ids it names


def _requests(service: str, method: str, path: str, ids: dict[str, str], own: dict[str, str]
              ) -> list[Request]:
    """The variants of one operation with ``ids``: every id query parameter at once; where there are several
    optional ones, each alone; and where a student is named, the caller's ``own`` lesson with that student."""
    operation = _operation(service, method, path)
    document = DOCUMENTS[service]
    filled = path
    sent = set()
    for parameter in operation.get("parameters", []):
        if parameter["in"] == "path":
            name = parameter["name"]
            value = NOT_IDS[name] if name in NOT_IDS else ids[_kind(service, name)]
            filled = filled.replace("{" + name + "}", value)
            sent.add(value)
    query = {p["name"]: ids[_kind(service, p["name"])] for p in operation.get("parameters", [])
             if p["in"] == "query" and _kind(service, p["name"])}
    body: Any = None
    content = None
    headers = {}
    kinds = operation.get("requestBody", {}).get("content", {})
    special = _bodies(ids)
    if (service, method, path) in special:
        body = special[(service, method, path)]
    elif "application/json" in kinds:
        body = _example(document, kinds["application/json"]["schema"], "", ids, service)
    elif kinds:
        content, headers = thumbnail_png(), {"Content-Type": next(iter(kinds))}
    sent |= set(query.values()) | {value for value in ids.values() if body is not None and value in json.dumps(body)}
    variants = [Request(method, filled, query, body, content, headers, sent)]
    optional = [p["name"] for p in operation.get("parameters", [])
                if p["in"] == "query" and p["name"] in query and not p.get("required")]
    if len(optional) > 1:
        required = {name: value for name, value in query.items() if name not in optional}
        variants += [Request(method, filled, {**required, name: query[name]}, body, content, headers, sent)
                     for name in optional]
    if {"lesson_id", "student_id"} <= set(query) and "lesson_id" in own:
        mixed = {"lesson_id": own["lesson_id"], "student_id": query["student_id"]}
        variants.append(Request(method, filled, mixed, body, content, headers, sent | {query["student_id"]}))
    return variants


def _control_ids(ids: dict[str, str]) -> dict[str, str]:
    """Ids of every kind that exist nowhere."""
    fresh = {kind: (value if kind in NOT_RANDOM else str(uuid.uuid4())) for kind, value in ids.items()}
    fresh["file_name"] = f"{uuid.uuid4().hex}.png"
    fresh["email"] = f"nobody-{uuid.uuid4().hex[:8]}@nowhere.example"
    return fresh


def _streams(service: str, method: str, path: str) -> bool:
    return "text/event-stream" in json.dumps(_operation(service, method, path).get("responses", {}))


async def _stream(client: httpx.AsyncClient, request: Request, headers: dict[str, str]) -> tuple[int, str]:
    """A server-sent-events route, straight on its ASGI app: the status and what it sends in the half second
    after, then the client goes away (the in-process transport would wait for a live stream's end). 0: no
    answer began."""
    app = client._transport.app  # noqa: SLF001
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": request.method,
             "scheme": "http", "path": request.path, "raw_path": request.path.encode(), "root_path": "",
             "query_string": urlencode(request.params).encode(), "server": ("test", 80),
             "client": ("127.0.0.1", 50000),
             "headers": [(k.lower().encode(), v.encode()) for k, v in {**headers, "host": "test"}.items()]}
    gone = asyncio.Event()
    asked = False
    started: dict[str, Any] = {}
    chunks: list[bytes] = []

    async def receive() -> dict[str, Any]:
        nonlocal asked
        if not asked:
            asked = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await gone.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            started.update(message)
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    task = asyncio.create_task(app(scope, receive, send))
    clock = asyncio.get_running_loop()
    deadline = clock.time() + 15
    while not started and not task.done() and clock.time() < deadline:  # the status, however busy the machine
        await asyncio.sleep(0.05)
    await asyncio.wait({task}, timeout=0.5)  # and what a stream sends first
    gone.set()
    try:
        await asyncio.wait_for(task, timeout=5)
    except Exception:  # noqa: BLE001 - a stream cut off; what it sent is what counts
        task.cancel()
    return started.get("status", 0), b"".join(chunks).decode(errors="replace")


async def _send(client: httpx.AsyncClient, request: Request, headers: dict[str, str], stream: bool
                ) -> tuple[int, str, httpx.Headers | None]:
    if stream:
        status, text = await _stream(client, request, headers)
        return status, text, None
    response = await asyncio.wait_for(client.request(
        request.method, request.path, params=request.params or None, headers={**headers, **request.headers},
        json=request.json if request.content is None else None, content=request.content), timeout=30)
    return response.status_code, response.text, response.headers


def _label(service: str, method: str, path: str, role: str) -> str:
    return f"{service} {method} {path} as {role}"


async def _snapshot(clients: dict[str, httpx.AsyncClient], world: World) -> dict[str, Any]:
    """B's resources as B's people read them."""
    ids, admin, teacher, student = world.ids, *(world.headers[r] for r in ROLES)
    lesson = {"lesson_id": ids["lesson_id"]}
    reads = {
        "users": ("identity", "/v1/users", admin, {}),
        "student": ("identity", f"/v1/users/{ids['user_id']}", admin, {}),
        "configs": ("identity", "/v1/system-configs", admin, {}),
        "lesson": ("content", f"/v1/lessons/{ids['lesson_id']}", teacher, {}),
        "versions": ("content", f"/v1/lessons/{ids['lesson_id']}/versions", teacher, {}),
        "milestones": ("content", f"/v1/videos/{ids['video_id']}/milestones", teacher, {}),
        "transcript": ("content", f"/v1/videos/{ids['video_id']}/transcripts/en", teacher, {}),
        "questions": ("assessment", "/v1/questions", teacher, lesson),
        "question": ("assessment", f"/v1/questions/{ids['question_id']}", teacher, {}),
        "ai": ("assessment", "/v1/ai-configurations", admin, {}),
        "jobs": ("assessment", "/v1/generation-jobs", teacher, lesson),
        "attempts": ("assessment", "/v1/attempts", student, lesson),
        "grades": ("assessment", "/v1/grades", student, lesson),
        "sessions": ("progress", "/v1/sessions", student, {}),
        "resume": ("progress", "/v1/resume", student, lesson),
        "me": ("identity", "/v1/users/me", student, {}),
    }
    seen = {}
    for name, (service, path, headers, params) in reads.items():
        response = await clients[service].get(path, headers=headers, params=params)
        seen[name] = (response.status_code, response.json())
    # B's people: the public register route (sent with B's slug) may add an unverified account to B, as it is for.
    people = {user["id"] for user in world.users.values()}
    seen["users"] = [user for user in seen["users"][1]["items"] if user["id"] in people]
    for role in ROLES:  # each still signed in
        seen[f"{role} signed in"] = (await clients["identity"].get("/v1/users/me", headers=world.headers[role])
                                     ).status_code
    seen["identity sessions"] = sorted(s["id"] for s in (await clients["identity"].get(
        "/v1/auth/sessions", headers=student)).json())
    return seen


async def _settled(clients: dict[str, httpx.AsyncClient], world: World) -> dict[str, Any]:
    """B's snapshot once its projections are done with B's own events (progress learns of the attempt a moment
    after assessment answers it): the same twice, a second apart."""
    seen = await _snapshot(clients, world)
    for _ in range(30):
        await asyncio.sleep(1)
        again = await _snapshot(clients, world)
        if again == seen:
            return seen
        seen = again
    raise AssertionError("B's resources did not settle within 30 s")


@dataclass
class Matrix:
    problems: dict[str, list[str]]  # by label: what went wrong
    statuses: dict[str, list[int]]  # by label: B's answers
    requests: int
    before: dict[str, Any]
    after: dict[str, Any]
    seen_by_b: dict[str, list[str]]  # SELF_CHECK's problems as B's own people


@pytest.fixture(scope="module")
async def matrix(infra: Infra, test_database: str, topics: list[str], accounts: Accounts) -> AsyncIterator[Matrix]:
    quiet = not os.environ.get("CUEPOINT_CROSS_TENANT_LOGS")
    with storage_emulator() as storage:
        async with service_clients(infra, accounts, storage, workers=True, overrides=QUICK) as (clients, workers):
            generation = importlib.import_module("cuepoint.assessment.bootstrap").build_generation(
                workers["assessment"])
            run = f"{uuid.uuid4().hex[:6]}"
            started = asyncio.get_running_loop().time()
            world = await build_world(clients, accounts, f"xt-b-{run}", new_marker(),
                                      run_generation=generation.run_once)
            world.ids["teacher_id"] = world.users["teacher"]["id"]
            world.ids["tenant"], world.ids["email"] = world.slug, world.users["student"]["email"]
            attacker = await tenant_with_people(accounts, f"xt-a-{run}", new_marker())
            attacker.ids["lesson_id"] = await _own_lesson(clients, attacker)
            live = {service: (await client.get("/openapi.json")).json() for service, client in clients.items()}
            assert {s: list(d["paths"]) for s, d in live.items()} == {s: list(d["paths"]) for s, d in DOCUMENTS.items()}
            before = await _settled(clients, world)
            built = asyncio.get_running_loop().time()
            if quiet:
                logging.disable(logging.CRITICAL)
            try:
                problems, statuses, count = await _attack(clients, accounts, world, attacker)
            finally:
                logging.disable(logging.NOTSET)
            attacked = asyncio.get_running_loop().time()
            after = await _snapshot(clients, world)
            if os.environ.get("CUEPOINT_CROSS_TENANT_DUMP"):  # every answer's status, to look at
                with open(os.environ["CUEPOINT_CROSS_TENANT_DUMP"], "w") as dump:
                    json.dump({"details": details, "problems": problems}, dump, indent=1, default=str)
            # The oracle itself: B's people asking for B's own resources are told apart from ids of nothing.
            seen_by_b = (await _attack(clients, accounts, world, world, operations=SELF_CHECK))[0]
            print(f"\ncross-tenant: {len(OPERATIONS)} operations × {len(ROLES)} roles = "
                  f"{len(OPERATIONS) * len(ROLES)} cases, {count} requests (those with B's ids twice: with ids "
                  "of nothing too); "
                  f"B built in {built - started:.0f} s, attacked in {attacked - built:.0f} s")
            yield Matrix(problems, statuses, count, before, after, seen_by_b)


details: list[list[Any]] = []  # what each request of the last run sent and got (CUEPOINT_CROSS_TENANT_DUMP)


async def _own_lesson(clients: dict[str, httpx.AsyncClient], attacker: World) -> str:
    """A lesson of A's teacher, known to assessment (from content's events): A asks for B's student in it."""
    teacher = attacker.headers["teacher"]
    lesson = (await clients["content"].post("/v1/lessons", headers=teacher, json={"title": "A's own"})).json()

    async def known() -> bool:
        grades = await clients["assessment"].get("/v1/grades", headers=teacher, params={"lesson_id": lesson["id"]})
        return grades.status_code == 200

    await eventually(known, timeout=120, message="assessment learning A's lesson")
    return lesson["id"]


async def _attack(clients: dict[str, httpx.AsyncClient], accounts: Accounts, world: World, attacker: World,
                  operations: list[tuple[str, str, str]] = OPERATIONS
                  ) -> tuple[dict[str, list[str]], dict[str, list[int]], int]:
    problems: dict[str, list[str]] = {}
    statuses: dict[str, list[int]] = {}
    count = 0
    details.clear()
    secrets = world.secrets
    order = sorted(operations, key=lambda operation: operation in LAST)
    for role in ROLES:
        for service, method, path in order:
            label = _label(service, method, path, role)
            found = problems.setdefault(label, [])
            headers = attacker.headers[role]
            if (service, method, path) == ("identity", "POST", "/v1/auth/logout"):
                headers = await accounts.login(attacker.users[role]["email"], tenant=attacker.slug)
            stream = _streams(service, method, path)
            control_ids = _control_ids(world.ids)
            own = attacker.ids if attacker is not world else {}
            pairs = zip(_requests(service, method, path, world.ids, own),
                        _requests(service, method, path, control_ids, own), strict=True)
            for request, control in pairs:
                began = asyncio.get_running_loop().time()
                try:
                    status, text, answer = await _send(clients[service], request, headers, stream)
                    # The same with ids that exist nowhere, where there are ids to compare.
                    control_status = (await _send(clients[service], control, headers, stream))[0] \
                        if request.sent else status
                except TimeoutError:
                    found.append(f"{request.method} {request.path} {request.params}: no answer in 30 s")
                    continue
                count += 2 if request.sent else 1
                if 0 in (status, control_status):
                    found.append(f"{request.method} {request.path}: no answer began in 15 s")
                statuses.setdefault(label, []).append(status)
                details.append([label, request.method, request.path, request.params, request.json, status,
                                control_status, text[:200], round(asyncio.get_running_loop().time() - began, 3)])
                where = f"{request.method} {request.path}" + (f"?{urlencode(request.params)}" if request.params else "")
                for answered in (status, control_status):
                    retry = answer is not None and "retry-after" in answer
                    if answered >= 500 and not (answered == 503 and (path == "/readyz" or retry)):
                        found.append(f"{where} → {answered}: {text[:300]}")
                if 200 <= status < 300:
                    rest = text
                    for value in sorted(request.sent, key=len, reverse=True):  # an echo of what it was sent
                        rest = rest.replace(value, "")
                    leaked = sorted(secret for secret in secrets if secret in rest)
                    if leaked:
                        found.append(f"{where} → {status} with B's {leaked}: {text[:300]}")
                if request.sent and status != control_status and (service, method, path) not in ALLOWED:
                    found.append(f"{where} → {status} with B's ids but {control_status} with ids that exist "
                                 f"nowhere: {text[:300]}")
    return problems, statuses, count


def test_every_parameter_has_a_kind() -> None:
    """A route that takes an id nobody mapped here would be attacked with nothing: name its kind in KINDS."""
    unmapped = sorted({f"{service} {method} {path}: {parameter['in']} {parameter['name']}"
                       for service, method, path in OPERATIONS
                       for parameter in _operation(service, method, path).get("parameters", [])
                       if (parameter["in"] == "path" or re.search(r"_ids?$", parameter["name"]))
                       and not _kind(service, parameter["name"]) and parameter["name"] not in NOT_IDS})
    assert not unmapped, "parameters of no known kind:\n" + "\n".join(unmapped)


def _cases() -> list:
    cases = []
    for service, method, path in OPERATIONS:
        for role in ROLES:
            reason = KNOWN.get((service, f"{method} {path}", role))
            marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
            cases.append(pytest.param(service, method, path, role, marks=marks,
                                      id=_label(service, method, path, role)))
    return cases


@pytest.mark.parametrize(("service", "method", "path", "role"), _cases())
def test_no_route_gives_another_organisation_away(matrix: Matrix, service: str, method: str, path: str,
                                                   role: str) -> None:
    label = _label(service, method, path, role)
    assert label in matrix.statuses, f"{label} was never sent"
    assert not matrix.problems[label], "\n".join(matrix.problems[label])


def test_the_other_organisation_is_as_it_was(matrix: Matrix) -> None:
    changed = {name: (matrix.before[name], matrix.after.get(name)) for name in matrix.before
               if matrix.before[name] != matrix.after.get(name)}
    assert not changed, "B's resources changed under A's requests:\n" + json.dumps(changed, indent=1,
                                                                                 default=str)[:4000]
    assert all(matrix.before[f"{role} signed in"] == 200 for role in ROLES)


def test_the_matrix_reached_past_the_gates(matrix: Matrix) -> None:
    """Not every answer a 401 or a 422 of a malformed request: the bodies were valid and the tokens good,
    so the services had to look the ids up."""
    guarded = {_label(*operation, role) for operation in OPERATIONS for role in ROLES
               if operation not in ALLOWED and operation not in PUBLIC_ROUTES}
    answers = [status for label in guarded for status in matrix.statuses[label]]
    assert matrix.requests >= len(OPERATIONS) * len(ROLES)
    assert answers.count(401) == 0, sorted(label for label in guarded if 401 in matrix.statuses[label])
    looked_up = sum(1 for status in answers if status in (403, 404) or 200 <= status < 300)
    assert looked_up > 0.7 * len(answers), sorted(answers)


def test_the_oracle_sees_data_where_there_is_some(matrix: Matrix) -> None:
    """The same checks, with B's own people as the callers: B's ids answer unlike ids of nothing, and with
    B's data (so the checks above would see a leak if there were one)."""
    for operation, role in zip(SELF_CHECK[:3], ("teacher", "student", "admin"), strict=True):
        problems = "\n".join(matrix.seen_by_b[_label(*operation, role)])
        assert "with ids that exist nowhere" in problems and "with B's" in problems, (operation, role, problems)
    # An operation without ids: only B's data in the answer is a finding (the device id, the user agent).
    assert "with B's" in "\n".join(matrix.seen_by_b[_label(*SELF_CHECK[3], "student")])

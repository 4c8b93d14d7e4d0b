"""A relay and an API SIGKILLed mid-work, as the OOM killer or a crash would, and started again (as the
supervisor of services.sh does).

Relay: it marks a row published only after the broker acknowledged it, so a kill between the two
publishes that row again (a duplicate, which at-least-once allows and consumers' inboxes absorb), and a
kill never loses a row or lets a later event of a key overtake an earlier one. API: a use case's rows and
its outbox event are one transaction, so a request cut off by the kill left both or neither."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psycopg
import pytest
import uvicorn
from aiokafka import AIOKafkaConsumer

from cuepoint.contracts.content import LessonCreated
from cuepoint.runtime import db
from cuepoint.runtime.outbox import Outbox
from cuepoint.runtime.unit_of_work import UnitsOfWork
from tests.support.accounts import Accounts
from tests.support.platform import ROOT, TEST_DATABASE, Infra, eventually
from tests.support.streams import claims

from .load import FIGURES

pytestmark = [pytest.mark.integration, pytest.mark.faults]

LESSON_CREATED = LessonCreated.event_type


class ContentProcess:
    """``python -m cuepoint.content <command>`` on this run's database and topics, as services.sh starts it;
    each start's output goes to a log of its own under ``logs`` (read it when a test fails)."""

    def __init__(self, infra: Infra, command: list[str], logs: Path, **env: str) -> None:
        self.command = command
        self.logs = logs
        self.env = {**os.environ, "CUEPOINT_PG_HOST": infra.pg_host, "CUEPOINT_PG_PORT": str(infra.pg_port),
                    "CUEPOINT_PG_DATABASE": TEST_DATABASE, "CUEPOINT_KAFKA_BOOTSTRAP": infra.bootstrap_servers,
                    "CUEPOINT_TOPIC_PREFIX": infra.topic_prefix, "NO_GCE_CHECK": "True",
                    "CUEPOINT_METRICS_PORT": "0",  # a free port: the platform's relays hold the default ones
                    **env}
        self.starts = 0
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.starts += 1
        log = (self.logs / f"content-{self.command[0]}-{self.starts}.log").open("w")
        self.process = subprocess.Popen([sys.executable, "-m", "cuepoint.content", *self.command], env=self.env,
                                        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        log.close()  # the child holds its own copy

    def sigkill(self) -> None:
        assert self.process is not None and self.process.poll() is None, "it died before the kill"
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


async def _until(check: Callable[[], bool], *, timeout: float, message: str) -> None:
    """``eventually`` for a plain (synchronous) check."""
    async def condition() -> bool:
        return check()

    await eventually(condition, timeout=timeout, interval=0.05, message=message)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _record(line: dict) -> None:
    """The scenario's figures, printed (pytest -s) and appended to .local/logs/faults.jsonl as load.record does."""
    print(f"\nFAULT FIGURES {json.dumps(line)}")
    FIGURES.parent.mkdir(parents=True, exist_ok=True)
    with FIGURES.open("a") as out:
        out.write(json.dumps({"at": datetime.now(UTC).isoformat(), **line}) + "\n")


# --- 1. the relay -------------------------------------------------------------------------------------------

KEYS = 8  # lessons: few enough that every key has hundreds of events whose order can be checked
MIN_EVENTS = 3000
WRITERS = 4


async def _write_events(units: UnitsOfWork, tenant: uuid.UUID, keys: list[uuid.UUID], committed: list[uuid.UUID],
                        enough: asyncio.Event) -> None:
    """Tenant transactions of one to four LessonCreated each, on random keys, until ``enough`` is set; the
    event ids of those that committed go into ``committed``. A transaction emits its keys in one global
    order: emit takes each key's advisory lock, and two transactions taking two keys' locks in opposite
    orders deadlock."""
    while not enough.is_set():
        async with units(tenant) as uow:
            envelopes = [await uow.emit(LessonCreated(lesson_id=key, title="relay kill", created_by_id=tenant))
                         for key in sorted(random.choices(keys, k=random.randint(1, 4)))]
        committed += [envelope.event_id for envelope in envelopes]
        await asyncio.sleep(0.005)  # a steady stream rather than a PostgreSQL benchmark on two shared cores


def _published(connection: psycopg.Connection, tenant: uuid.UUID) -> int:
    return connection.execute("SELECT count(*) FROM content.outbox WHERE headers->>'tenant_id' = %s "
                              "AND published_at IS NOT NULL", (str(tenant),)).fetchone()[0]


async def _read_topic(infra: Infra, tenant: uuid.UUID, expected: set[uuid.UUID],
                      timeout: float = 90) -> list[tuple[str, uuid.UUID]]:
    """(key, event id) of the tenant's records on content.events, in offset order per partition (a key is
    on one partition, so each key's records are in the order the broker appended them), read from the start
    with no consumer group until every expected id was seen, and a moment more for trailing duplicates."""
    consumer = AIOKafkaConsumer(infra.topic_prefix + "content.events", bootstrap_servers=infra.bootstrap_servers,
                                group_id=None, auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    found: list[tuple[str, uuid.UUID]] = []
    deadline = time.monotonic() + timeout
    settle: float | None = None
    try:
        while time.monotonic() < deadline and (settle is None or time.monotonic() < settle):
            for records in (await consumer.getmany(timeout_ms=500)).values():
                for record in records:
                    # The run's topic also holds other tests' records, the poison test's bytes among them.
                    try:
                        envelope = json.loads(record.value)
                    except (TypeError, ValueError):
                        continue
                    if isinstance(envelope, dict) and envelope.get("tenant_id") == str(tenant):
                        found.append((record.key.decode(), uuid.UUID(envelope["event_id"])))
            if settle is None and expected <= {event for _, event in found}:
                settle = time.monotonic() + 2
    finally:
        await consumer.stop()
    return found


async def test_relay_sigkilled_mid_publish_three_times_loses_and_reorders_nothing(
        infra: Infra, topics: list[str], admin_connection: psycopg.Connection, tmp_path: Path) -> None:
    tenant = uuid.uuid4()
    keys = [uuid.uuid4() for _ in range(KEYS)]
    engine = db.create_engine(infra.settings("content").runtime_database_url, pool_size=WRITERS)
    units = UnitsOfWork(db.session_factory(engine), Outbox("content", "content", topic_prefix=infra.topic_prefix))
    committed: list[uuid.UUID] = []
    enough = asyncio.Event()
    relay = ContentProcess(infra, ["relay"], tmp_path)
    kills: list[dict] = []
    began = time.monotonic()
    relay.start()
    writers = [asyncio.create_task(_write_events(units, tenant, keys, committed, enough)) for _ in range(WRITERS)]
    try:
        for _ in range(3):
            # Kill while it publishes, not while it starts: once this instance has marked rows of its own, at
            # a random moment within the next second. The writers never pause, so it is then forever fetching,
            # sending and marking small batches: a kill after the broker's acknowledgement and before the mark
            # shows up as duplicates, one anywhere else as nothing at all.
            before = _published(admin_connection, tenant)
            await _until(lambda: _published(admin_connection, tenant) > before, timeout=60,
                         message="a (re)started relay publishes")
            await asyncio.sleep(random.uniform(0, 1))
            backlog = admin_connection.execute(
                "SELECT count(*) FROM content.outbox WHERE headers->>'tenant_id' = %s AND published_at IS NULL",
                (str(tenant),)).fetchone()[0]
            relay.sigkill()
            kills.append({"at_s": round(time.monotonic() - began, 1), "backlog": backlog})
            await asyncio.sleep(1)  # the supervisor's first pause
            relay.start()
        while len(committed) < MIN_EVENTS:
            await asyncio.sleep(0.2)
        enough.set()
        await asyncio.gather(*writers)

        # The last instance publishes the rest; then every committed event must be on the topic.
        await _until(lambda: _published(admin_connection, tenant) >= len(committed), timeout=60,
                     message="the relay publishes the whole outbox")
        on_topic = await _read_topic(infra, tenant, set(committed))
    finally:
        enough.set()
        await asyncio.gather(*writers, return_exceptions=True)
        relay.stop()
        await engine.dispose()

    rows = admin_connection.execute(
        "SELECT id, event_id, key, published_at IS NOT NULL FROM content.outbox WHERE headers->>'tenant_id' = %s "
        "ORDER BY id", (str(tenant),)).fetchall()
    written_order: dict[str, list[uuid.UUID]] = defaultdict(list)  # key → event ids in outbox id order
    for _, event_id, key, _ in rows:
        written_order[key].append(event_id)
    seen_order: dict[str, list[uuid.UUID]] = defaultdict(list)  # key → event ids by first appearance on the topic
    seen: set[uuid.UUID] = set()
    for key, event_id in on_topic:
        if event_id not in seen:
            seen.add(event_id)
            seen_order[key].append(event_id)
    copies = Counter(event_id for _, event_id in on_topic)
    line = {"scenario": "content relay SIGKILL x3 mid-publish", "events": len(committed), "keys": KEYS,
            "kills": kills, "records_on_topic": len(on_topic), "lost": len(set(committed) - seen),
            "duplicated": sum(n - 1 for n in copies.values()), "events_duplicated": sum(n > 1 for n in copies.values()),
            "unpublished_rows": sum(not published for *_, published in rows),
            "keys_out_of_order": [key for key in written_order if seen_order[key] != written_order[key]],
            "took_s": round(time.monotonic() - began, 1)}
    _record(line)
    assert len(kills) == 3 and relay.starts == 4, line
    assert {event_id for _, event_id, _, _ in rows} == set(committed), "the outbox holds what was committed"
    assert line["lost"] == 0, line
    assert line["keys_out_of_order"] == [], line
    assert line["unpublished_rows"] == 0, line
    assert seen == set(committed), "nothing on the topic that was not committed"


# --- 2. the API ---------------------------------------------------------------------------------------------

CONCURRENT = 24  # requests in flight at once, each a new lesson after the last answer


@contextlib.asynccontextmanager
async def identity_on_a_port(accounts: Accounts) -> AsyncIterator[str]:
    """The test's identity (its real app and signing keys) served on a real port, so that an API in another
    process fetches its JWKS as it would from `python -m cuepoint.identity api`; the JWKS URL."""
    app = accounts.client._transport.app  # noqa: SLF001 - the same app tenant_with_users reaches
    listening = socket.socket()
    listening.bind(("127.0.0.1", 0))
    # lifespan off: the app's lifespan would close the accounts fixture's context on shutdown.
    server = uvicorn.Server(uvicorn.Config(app, lifespan="off", log_config=None, access_log=False))
    serving = asyncio.create_task(server.serve(sockets=[listening]))
    while not server.started:
        assert not serving.done(), serving
        await asyncio.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{listening.getsockname()[1]}/.well-known/jwks.json"
    finally:
        server.should_exit = True
        await serving
        listening.close()


def _open_transactions(connection: psycopg.Connection) -> int:
    """Transactions the content API's connections (its pool's application name) have open now."""
    return connection.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND "
                              "application_name = 'cuepoint-content' AND xact_start IS NOT NULL",
                              (TEST_DATABASE,)).fetchone()[0]


async def _ready(client: httpx.AsyncClient, timeout: float = 60) -> None:
    async def answers() -> bool:
        with contextlib.suppress(httpx.HTTPError):
            return (await client.get("/readyz", timeout=5)).status_code == 200
        return False

    await eventually(answers, timeout=timeout, interval=0.2, message="the content API is ready")


async def _create_lessons(client: httpx.AsyncClient, teacher: dict[str, str], outcomes: dict[str, object],
                          stop: asyncio.Event) -> None:
    """POST /v1/lessons, each with a title of its own, until ``stop``; title → the answer (status and lesson
    id) or the exception's name (the connection was cut, or refused once the process was gone)."""
    while not stop.is_set():
        title = f"kill {uuid.uuid4().hex[:12]}"
        outcomes[title] = "pending"
        try:
            response = await client.post("/v1/lessons", headers=teacher, json={"title": title}, timeout=30)
        except httpx.HTTPError as error:
            outcomes[title] = type(error).__name__
            continue
        outcomes[title] = (response.status_code, response.json().get("id") if response.status_code == 201 else None)


async def test_api_sigkilled_mid_request_leaves_no_half_state(
        infra: Infra, topics: list[str], accounts: Accounts, admin_connection: psycopg.Connection,
        tmp_path: Path) -> None:
    teacher = (await accounts.tenant_with_users(f"faults-{uuid.uuid4().hex[:6]}"))["teacher"]
    tenant = claims(teacher)["tid"]
    port = _free_port()
    outcomes: dict[str, object] = {}
    began = time.monotonic()
    async with identity_on_a_port(accounts) as jwks_url, \
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
        api = ContentProcess(infra, ["api", "--port", str(port)], tmp_path, CUEPOINT_JWKS_URL=jwks_url)
        api.start()
        try:
            await _ready(client)
            stop = asyncio.Event()
            firing = [asyncio.create_task(_create_lessons(client, teacher, outcomes, stop)) for _ in range(CONCURRENT)]
            # Kill once the API is well into the load (its JWKS fetched, its pool warm), at a random moment.
            await _until(lambda: sum(isinstance(o, tuple) for o in outcomes.values()) >= 100, timeout=60,
                         message="the API answers the load")
            await asyncio.sleep(random.uniform(0, 1))
            for _ in range(40):  # a moment when the API holds transactions open, so the kill cuts them mid-way
                open_at_kill = _open_transactions(admin_connection)
                if open_at_kill:
                    break
                await asyncio.sleep(0.02)
            in_flight = sum(o == "pending" for o in outcomes.values())
            api.sigkill()
            killed_at = time.monotonic()
            stop.set()
            await asyncio.gather(*firing)
            # PostgreSQL sees the dead process's connections close and rolls their transactions back.
            await _until(lambda: _open_transactions(admin_connection) == 0, timeout=30,
                         message="the killed API's transactions end")

            api.start()
            await _ready(client)
            after = await client.post("/v1/lessons", headers=teacher, json={"title": "after the kill"}, timeout=30)
            restarted_s = time.monotonic() - killed_at
        finally:
            api.stop()
    assert after.status_code == 201, after.text

    lessons = dict(admin_connection.execute(  # lesson id → title, every lesson of the tenant
        "SELECT id::text, title FROM content.lessons WHERE tenant_id = %s", (tenant,)).fetchall())
    events = Counter(row[0] for row in admin_connection.execute(  # lesson id → LessonCreated events in the outbox
        "SELECT key FROM content.outbox WHERE event_type = %s AND headers->>'tenant_id' = %s",
        (LESSON_CREATED, tenant)).fetchall())
    answered = {title: outcome for title, outcome in outcomes.items() if isinstance(outcome, tuple)}
    created = {title: lesson_id for title, (status, lesson_id) in answered.items() if status == 201}
    cut = {title: outcome for title, outcome in outcomes.items() if not isinstance(outcome, tuple)}
    stored_titles = set(lessons.values())
    line = {"scenario": "content API SIGKILL mid-request", "requests": len(outcomes), "created_201": len(created),
            "other_answers": dict(Counter(str(status) for status, _ in answered.values() if status != 201)),
            "in_flight_at_kill": in_flight, "transactions_open_at_kill": open_at_kill,
            "cut_off": dict(Counter(cut.values())),
            "cut_off_but_committed": len(stored_titles & set(cut)), "lessons": len(lessons),
            "events": sum(events.values()),
            "lessons_without_event": sorted(set(lessons) - set(events)),
            "events_without_lesson": sorted(set(events) - set(lessons)),
            "lessons_with_several_events": sorted(key for key, n in events.items() if n > 1),
            "answered_but_missing": sorted(t for t, i in created.items() if lessons.get(i) != t),
            "restart_answers_s": round(restarted_s, 1), "took_s": round(time.monotonic() - began, 1)}
    _record(line)
    assert line["other_answers"] == {}, line  # every answer before the kill was a 201
    assert open_at_kill > 0 and cut, f"the kill should cut requests and transactions off mid-way: {line}"
    assert line["answered_but_missing"] == [], line  # a 201 is a stored lesson…
    assert all(events[lesson_id] == 1 for lesson_id in created.values()), line  # …with exactly one event
    assert line["lessons_without_event"] == [] and line["events_without_lesson"] == [], line
    assert line["lessons_with_several_events"] == [], line
    assert stored_titles <= set(outcomes) | {"after the kill"}, "a lesson no request asked for"

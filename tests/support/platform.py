"""Real PostgreSQL and Kafka for integration tests (a pytest plugin, see conftest.py).

By default the local platform of ``deploy/local/infra.sh`` (``make infra``) is used, and started if it
is not running; with ``CUEPOINT_TESTS_INFRA=containers`` testcontainers starts them from the images
``make images`` builds, on the engine DOCKER_HOST names (tests/docker/test_testcontainers.py runs it).
The tests are the same either way; they never swap in an in-memory stand-in.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest

from cuepoint.contracts.topics import SERVICES, all_topics
from cuepoint.runtime.kafka import ensure_topics, kafka_reachable, prefixed
from cuepoint.runtime.provision import provision
from cuepoint.runtime.settings import RuntimeSettings

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "deploy" / "local" / "infra.sh"
# Overridable so that two test runs on one machine (say, two developers' branches) never share a database.
TEST_DATABASE = os.environ.get("CUEPOINT_TEST_DATABASE", "cuepoint_test")
ROLE_PASSWORD = "cuepoint-local"


@dataclass
class Infra:
    """Where the real PostgreSQL and Kafka of this test run are. Nothing here stops or kills them:
    others share them (a test that disturbs a broker starts its own, tests/support/own_broker.py)."""

    pg_host: str
    pg_port: int
    admin_url: str  # superuser, database "postgres"
    bootstrap_servers: str
    topic_prefix: str = field(default_factory=lambda: f"test-{uuid.uuid4().hex[:8]}.")
    kind: str = "local"  # "local": make infra's processes; "containers": testcontainers (our images)
    database: str = TEST_DATABASE  # the services' database of this run (tests/e2e has one of its own)

    def settings(self, service: str, cls: type[RuntimeSettings] = RuntimeSettings, **overrides: object) -> RuntimeSettings:
        values: dict[str, object] = {
            "service": service,
            "pg_host": self.pg_host,
            "pg_port": self.pg_port,
            "pg_database": self.database,
            "db_password": ROLE_PASSWORD,
            "kafka_bootstrap": self.bootstrap_servers,
            "topic_prefix": self.topic_prefix,
            "metrics_port": 0,  # a free port: the platform's processes hold the default ones
        }
        values.update(overrides)
        return cls(**values)

    def admin_database_url(self, database: str | None = None) -> str:
        return self.admin_url.rsplit("/", 1)[0] + "/" + (database or self.database)


def containers_wanted() -> bool:
    """Whether the test infrastructure is testcontainers' (see ``_container_infra``): only when asked,
    ``CUEPOINT_TESTS_INFRA=containers`` (with DOCKER_HOST naming the engine, e.g. deploy/docker/engine.sh's).
    Unset or ``local``: make infra's processes, even on a machine with an engine (`make test` starts them
    anyway, and the containers need `make images` first). CUEPOINT_TESTS_USE_LOCAL=1 still means local."""
    if os.environ.get("CUEPOINT_TESTS_USE_LOCAL") == "1":
        return False
    wanted = os.environ.get("CUEPOINT_TESTS_INFRA", "local")
    if wanted not in ("local", "containers"):
        pytest.exit(f"CUEPOINT_TESTS_INFRA={wanted!r}: 'local' (make infra) or 'containers' (testcontainers)", returncode=3)
    return wanted == "containers"


def _local_infra() -> Infra:
    pg_port = int(os.environ.get("CUEPOINT_PG_PORT", "5432"))
    kafka_port = int(os.environ.get("CUEPOINT_KAFKA_PORT", "9092"))
    password = os.environ.get("CUEPOINT_PG_SUPERUSER_PASSWORD", "cuepoint-admin")
    result = subprocess.run([str(INFRA), "up"], capture_output=True, text=True)
    if result.returncode != 0:
        pytest.exit(f"the local platform did not start (make infra):\n{result.stdout}\n{result.stderr}", returncode=3)

    return Infra(
        pg_host="127.0.0.1",
        pg_port=pg_port,
        admin_url=f"postgresql://postgres:{password}@127.0.0.1:{pg_port}/postgres",
        bootstrap_servers=f"127.0.0.1:{kafka_port}",
    )


# The images `make images` builds (deploy/docker/; no Docker Hub): the same PostgreSQL 15 and Kafka as compose.
CONTAINER_IMAGE_TAG = os.environ.get("CUEPOINT_IMAGE_TAG", "local")
CONTAINER_LABEL = "cuepoint.tests.infra"  # every container this path starts, so a leftover can be found


def _free_port(host: str) -> int:
    import socket

    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def _container_infra(stack: list) -> Infra:
    """PostgreSQL and Kafka as containers of our own images (cuepoint/postgres, cuepoint/kafka: `make images`),
    started and configured as docker-compose.yml does, each ready when it serves (a query; a produced and
    fetched record), stopped and removed after the session. testcontainers' PostgresContainer and
    KafkaContainer assume the official images' entrypoints, so both are plain DockerContainers. Kafka's
    EXTERNAL listener must advertise the address clients on this machine use before the broker starts, so
    its host port is chosen here and bound, not left to the engine. Ryuk (testcontainers' reaper, a Docker
    Hub image) is off unless TESTCONTAINERS_RYUK_DISABLED says otherwise: the containers carry the label
    ``cuepoint.tests.infra`` and are removed in the session's teardown."""
    os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.docker_client import DockerClient

    engine_host = DockerClient().host()
    host = "127.0.0.1" if engine_host in ("localhost", "127.0.0.1", "::1") else engine_host
    bind = "127.0.0.1" if host == "127.0.0.1" else "0.0.0.0"  # a remote engine: its published ports must be reachable
    password = "cuepoint-admin"
    labels = {CONTAINER_LABEL: uuid.uuid4().hex[:8]}
    postgres = (DockerContainer(f"cuepoint/postgres:{CONTAINER_IMAGE_TAG}", labels=labels, shm_size="256m")
                .with_env("POSTGRES_PASSWORD", password)
                # compose's settings (docker-compose.yml), for tests: more connections than a demo needs.
                .with_command(["-c", "max_connections=300", "-c", "random_page_cost=1.1", "-c", "shared_buffers=256MB",
                               "-c", "shared_preload_libraries=pg_stat_statements", "-c", "track_io_timing=on"]))
    kafka_port = _free_port("127.0.0.1")
    kafka = (DockerContainer(f"cuepoint/kafka:{CONTAINER_IMAGE_TAG}", labels=labels)
             .with_envs(KAFKA_HEAP="512m", KAFKA_METRICS_PORT="0",
                        # the broker reaches itself on INTERNAL (no compose network names it "kafka" here);
                        # clients here on EXTERNAL, the published port.
                        KAFKA_INTERNAL_ADVERTISED="127.0.0.1:9092", KAFKA_EXTERNAL_ADVERTISED=f"{host}:{kafka_port}"))
    # The docker SDK's (address, port) form: published on loopback only when the engine is this machine's.
    # (with_bind_ports takes a port alone, which publishes on every interface.)
    postgres.ports["5432/tcp"] = (bind, _free_port("127.0.0.1"))
    kafka.ports["29092/tcp"] = (bind, kafka_port)
    for container in (postgres, kafka):
        stack.append(container)  # before start: one that fails to start is still removed
        container.start()
    pg_port = int(postgres.get_exposed_port(5432))
    admin_url = f"postgresql://postgres:{password}@{host}:{pg_port}/postgres"
    _wait_ready("PostgreSQL", postgres, lambda: psycopg.connect(admin_url, connect_timeout=3).close())
    bootstrap = f"{host}:{kafka_port}"
    _wait_ready("Kafka", kafka, lambda: asyncio.run(_produce_and_fetch(bootstrap)))
    print(f"test infrastructure: containers ({postgres.image} on {host}:{pg_port}, {kafka.image} on {bootstrap})")
    return Infra(pg_host=host, pg_port=pg_port, admin_url=admin_url, bootstrap_servers=bootstrap, kind="containers")


def _wait_ready(name: str, container, check: Callable[[], object], timeout: float = 180) -> None:
    """Until ``check()`` succeeds; a container that exits, or a timeout, fails with its log."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        try:
            check()
            return
        except Exception as error:
            container.reload()
            if container.status not in ("created", "running") or time.monotonic() > deadline:
                out, err = container.get_logs()
                pytest.exit(f"{name} ({container.image}) not ready ({container.status}): {error!r}\n"
                            f"{(out + err).decode(errors='replace')[-4000:]}", returncode=3)
            time.sleep(1)


async def _produce_and_fetch(bootstrap_servers: str) -> None:
    """One record through the broker from this machine: its metadata, a topic made, a produce acknowledged
    by the partition's leader and the record fetched back (a broker that only accepts connections fails)."""
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

    from cuepoint.contracts.topics import Topic

    topic = "cuepoint-tests-ready"
    await asyncio.wait_for(ensure_topics(bootstrap_servers, [Topic(topic, "tests", "readiness probe", partitions=1)],
                                         timeout=10), 15)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers, acks="all", request_timeout_ms=5000)
    await producer.start()
    try:
        sent = await asyncio.wait_for(producer.send_and_wait(topic, b"ready"), 15)
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, enable_auto_commit=False, request_timeout_ms=5000)
    await consumer.start()
    try:
        partition = TopicPartition(topic, sent.partition)
        consumer.assign([partition])
        consumer.seek(partition, sent.offset)
        fetched = await asyncio.wait_for(consumer.getone(), 15)
        assert fetched.value == b"ready", fetched
    finally:
        await consumer.stop()


@pytest.fixture(scope="session")
def infra() -> Iterator[Infra]:
    stack: list = []
    try:
        found = _container_infra(stack) if containers_wanted() else _local_infra()
    except BaseException:  # pytest.exit too: containers started before the failure go
        _stop(stack)
        raise
    try:
        yield found
    finally:
        if found.kind == "local":
            _drop_topics(found.bootstrap_servers, found.topic_prefix)
        _stop(stack)


def _stop(stack: list) -> None:
    for container in reversed(stack):
        container.stop()  # removed, with its anonymous volumes


def _drop_topics(bootstrap_servers: str, prefix: str) -> None:
    """Deletes this run's topics (every one a test created is named under its prefix) from the
    shared broker. Left there, they add up to thousands of partitions, and a restarted broker
    then takes minutes to lead them all again, the platform's own topics among them."""
    from aiokafka.admin import AIOKafkaAdminClient

    async def drop() -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=30_000)
        await admin.start()
        try:
            names = [name for name in await admin.list_topics() if name.startswith(prefix)]
            if names:
                await admin.delete_topics(names)
        finally:
            await admin.close()

    try:
        asyncio.run(drop())
    except Exception as error:  # a broker a test left down: nothing to clean, nothing to fail
        print(f"could not delete this run's topics ({prefix}*): {error!r}")


@pytest.fixture(scope="session")
def test_database(infra: Infra) -> str:
    """The test database (``cuepoint_test``), provisioned like production and migrated to head for every service."""
    import importlib

    from cuepoint.runtime.migrations import upgrade

    # A fresh database each run: every test starts from what migrations create, nothing left over.
    with psycopg.connect(infra.admin_url, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {infra.database} WITH (FORCE)")
    provision(infra.admin_url, infra.database, ROLE_PASSWORD, SERVICES)
    for service in SERVICES:
        spec = importlib.import_module(f"cuepoint.{service}.bootstrap").spec()
        upgrade(spec.migrations, schema=service, url=infra.settings(service).owner_database_url)
    return infra.database


@pytest.fixture
def admin_connection(infra: Infra, test_database: str) -> Iterator[psycopg.Connection]:
    """The test database as its superuser (autocommit): to look behind the services' backs."""
    with psycopg.connect(infra.admin_database_url(), autocommit=True) as connection:
        yield connection


@pytest.fixture(scope="session")
def topics(infra: Infra) -> list[str]:
    """Every registry topic (and .dlt) under this run's prefix."""
    wanted = prefixed(all_topics(), infra.topic_prefix)
    asyncio.run(ensure_topics(infra.bootstrap_servers, wanted))
    return [topic.name for topic in wanted]


async def wait_for_kafka(bootstrap_servers: str, timeout: float = 60) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await kafka_reachable(bootstrap_servers):
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"Kafka at {bootstrap_servers} did not come back within {timeout}s")
        await asyncio.sleep(0.5)


async def eventually(condition: Callable[[], object], *, timeout: float = 60, interval: float = 0.2, message: str = "") -> None:
    """Waits until the async ``condition()`` is truthy."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        if await condition():  # type: ignore[misc]
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not within {timeout}s: {message}")
        await asyncio.sleep(interval)

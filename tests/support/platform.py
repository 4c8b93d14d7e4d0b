"""Real PostgreSQL and Kafka for integration tests (a pytest plugin, see conftest.py).

With a Docker engine, testcontainers starts them; without one, the local platform of
``deploy/local/infra.sh`` (``make infra``) is used and started if it is not running.
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
    kind: str = "local"  # "local": make infra's processes; "containers": testcontainers
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


def docker_engine_available() -> bool:
    if os.environ.get("CUEPOINT_TESTS_USE_LOCAL") == "1":
        return False
    try:
        import docker

        docker.from_env(timeout=3).ping()
        return True
    except Exception:
        return False


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


def _container_infra(stack: list) -> Infra:  # pragma: no cover - needs a Docker engine
    from testcontainers.kafka import KafkaContainer
    from testcontainers.postgres import PostgresContainer

    postgres = PostgresContainer("postgres:15", username="postgres", password="cuepoint-admin", dbname="postgres")
    kafka = KafkaContainer("apache/kafka:4.1.0").with_kraft()
    postgres.start()
    stack.append(postgres)
    kafka.start()
    stack.append(kafka)
    return Infra(
        pg_host=postgres.get_container_host_ip(),
        pg_port=int(postgres.get_exposed_port(5432)),
        admin_url=postgres.get_connection_url(driver=None),
        bootstrap_servers=kafka.get_bootstrap_server(),
        kind="containers",
    )


@pytest.fixture(scope="session")
def infra() -> Iterator[Infra]:
    stack: list = []
    found = _container_infra(stack) if docker_engine_available() else _local_infra()
    try:
        yield found
    finally:
        if found.kind == "local":
            _drop_topics(found.bootstrap_servers, found.topic_prefix)
        for container in reversed(stack):
            container.stop()


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

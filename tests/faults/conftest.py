"""Fault tests: a broker (tests/support/own_broker.py), a three-node cluster and a PostgreSQL cluster
(private.py) of their own; the services in process."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Iterator

import pytest

from cuepoint.contracts.topics import SERVICES, all_topics
from cuepoint.runtime.kafka import ensure_topics, prefixed
from tests.support.own_broker import OwnBroker
from tests.support.platform import ROLE_PASSWORD, TEST_DATABASE, Infra

from .private import PrivatePostgres

# A port apart from make infra's (5432) and from deploy/docker's compose platform.
PRIVATE_PG_PORT = 15442


@pytest.fixture(scope="session")
async def private_kafka(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[OwnBroker]:
    broker = OwnBroker(tmp_path_factory.mktemp("faults-kafka"))
    await broker.start()
    try:
        yield broker
    finally:
        broker.close()


@pytest.fixture(scope="session")
async def on_private_kafka(infra: Infra, private_kafka: OwnBroker) -> Infra:
    """The shared PostgreSQL (the test database), the private broker with every registry topic."""
    moved = dataclasses.replace(infra, bootstrap_servers=private_kafka.bootstrap_servers)
    await ensure_topics(moved.bootstrap_servers, prefixed(all_topics(), moved.topic_prefix))
    return moved


@pytest.fixture(scope="session")
def private_postgres(infra: Infra) -> Iterator[PrivatePostgres]:
    postgres = PrivatePostgres(PRIVATE_PG_PORT)
    postgres.init()
    try:
        yield postgres
    finally:
        postgres.close()


@pytest.fixture(scope="session")
def on_private_postgres(infra: Infra, private_postgres: PrivatePostgres, topics: list[str]) -> Infra:
    """The private cluster, provisioned and migrated like the test database; the shared broker (this run's topics)."""
    import importlib

    from cuepoint.runtime.migrations import upgrade
    from cuepoint.runtime.provision import provision

    moved = dataclasses.replace(infra, pg_port=private_postgres.port, admin_url=private_postgres.admin_url)
    provision(moved.admin_url, TEST_DATABASE, ROLE_PASSWORD, SERVICES)
    for service in ("analytics", "progress"):
        spec = importlib.import_module(f"cuepoint.{service}.bootstrap").spec()
        upgrade(spec.migrations, schema=service, url=moved.settings(service).owner_database_url)
    return moved

"""The whole platform as `make up` runs it — every service's api, worker and relay, and the nginx
gateway — started by deploy/local/services.sh on a database, topics and ports of its own, so it
never touches a developer's running platform.

Its database and topics are not the service tests' either: those tests leave data in the demo
organisation (an active OpenAI configuration, students enrolled in the demo lesson) and thousands
of events, some malformed on purpose, on their topics; a platform that shared them found the
demo not as `make seed` leaves it and read that backlog before its own events. So every fixture
the platform and these tests stand on is declared again here, on an `infra` of this folder's own
(pytest keeps a separate instance of a fixture declared in a conftest)."""

from __future__ import annotations

import dataclasses
import os
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from cuepoint.contracts.topics import SERVICES
from tests.support.accounts import Accounts
from tests.support.accounts import accounts  # noqa: F401 - declared again: on this folder's infra
from tests.support.mail import Mailbox
from tests.support.platform import Infra
from tests.support.platform import admin_connection, test_database, topics  # noqa: F401 - the same

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Platform:
    gateway: str
    mailbox: Mailbox
    infra: Infra
    env: dict[str, str]  # what the platform's processes were started with: for commands run against it


@pytest.fixture(scope="session")
def infra(infra: Infra) -> Infra:
    """The run's PostgreSQL and Kafka, with a database and a topic prefix for the end-to-end tests
    alone (under the run's prefix, so the run's clean-up deletes these topics too)."""
    return dataclasses.replace(infra, database=f"{infra.database}_e2e", topic_prefix=f"{infra.topic_prefix}e2e.")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")  # stopped after the module: its workers would share the later tests' groups
def platform(infra: Infra, test_database: str, topics: list[str], accounts: Accounts,
             mailbox: Mailbox) -> Iterator[Platform]:
    if infra.kind != "local":  # pragma: no cover - the containers' ports are not the scripts'
        pytest.skip("the end-to-end platform runs on `make infra`, not on testcontainers")
    local = tempfile.mkdtemp(prefix="cuepoint-e2e-")
    env = {**os.environ, "CUEPOINT_LOCAL_DIR": local, "CUEPOINT_PG_DATABASE": test_database,
           "CUEPOINT_PG_PORT": str(infra.pg_port), "CUEPOINT_KAFKA_BOOTSTRAP": infra.bootstrap_servers,
           "CUEPOINT_TOPIC_PREFIX": infra.topic_prefix, "CUEPOINT_GATEWAY_PORT": str(_free_port()),
           "CUEPOINT_SMTP_HOST": "127.0.0.1", "CUEPOINT_SMTP_PORT": str(mailbox.port),
           "CUEPOINT_SMTP_STARTTLS": "false", "CUEPOINT_LOG_LEVEL": "INFO",
           # The platform's own Prometheus and metrics ports may be taken: none, and free ones.
           "CUEPOINT_PROMETHEUS_PORT": "0", "CUEPOINT_METRICS_PORT_BASE": "0"}
    for service in SERVICES:
        env[f"CUEPOINT_{service.upper()}_PORT"] = str(_free_port())
    env.pop("CUEPOINT_PUBLIC_BASE_URL", None)  # services.sh derives the emailed links' base from the gateway's port
    env.pop("CUEPOINT_JWKS_URL", None)
    script = ROOT / "deploy/local/services.sh"
    started = subprocess.run([str(script), "up"], env=env, capture_output=True, text=True, timeout=300)
    if started.returncode != 0:
        subprocess.run([str(script), "down"], env=env, capture_output=True, timeout=120)
        raise AssertionError(f"the platform did not start:\n{started.stdout}\n{started.stderr}")
    try:
        yield Platform(gateway=f"http://127.0.0.1:{env['CUEPOINT_GATEWAY_PORT']}", mailbox=mailbox, infra=infra, env=env)
    finally:
        subprocess.run([str(script), "down"], env=env, capture_output=True, timeout=120)

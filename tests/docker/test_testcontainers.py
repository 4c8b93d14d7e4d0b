"""The test suite's container path (tests/support/platform.py, ``CUEPOINT_TESTS_INFRA=containers``), really
run: PostgreSQL and Kafka from the images `make images` builds (deploy/docker/images.sh infra: no Docker Hub),
started by testcontainers on the project's engine, and one service's integration test module against them
(identity's events: every service's schema provisioned and migrated, identity's API, its outbox relay
publishing to the broker, a consumer on this machine reading them through the advertised host port).
Nothing is left behind: no container, no volume.

No engine is no skip: deploy/docker/engine.sh starts the project's own (or uses DOCKER_HOST)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.platform import CONTAINER_LABEL

pytestmark = pytest.mark.docker

ROOT = Path(__file__).resolve().parents[2]
MODULE = "services/identity/tests/integration/test_events.py"


def _run(args: list[str], env: dict[str, str], timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=timeout, cwd=ROOT)


@pytest.fixture(scope="module")
def engine() -> Iterator[dict[str, str]]:
    """The environment of a test run on containers: DOCKER_HOST, CUEPOINT_TESTS_INFRA=containers, and no
    other CUEPOINT_* setting (nothing may point at the local platform)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("CUEPOINT_")}
    engine_was_running = "running" in _run([str(ROOT / "deploy/docker/engine.sh"), "status"], env, 30).stdout
    started = _run([str(ROOT / "deploy/docker/engine.sh"), "up"], env, 300)
    assert started.returncode == 0, f"the Docker engine did not start:\n{started.stdout}\n{started.stderr}"
    env["DOCKER_HOST"] = _run([str(ROOT / "deploy/docker/engine.sh"), "env"], env, 30).stdout.split("=", 1)[1].strip()
    try:
        images = _run(["nice", "-n", "10", str(ROOT / "deploy/docker/images.sh"), "infra"], env, 1800)
        assert images.returncode == 0, f"images.sh infra failed:\n{images.stdout}\n{images.stderr}"
        yield {**env, "CUEPOINT_TESTS_INFRA": "containers"}
    finally:
        if not engine_was_running:
            _run([str(ROOT / "deploy/docker/engine.sh"), "down"], env, 120)


def _ours(env: dict[str, str], *command: str) -> list[str]:
    result = _run(["docker", *command, "--filter", f"label={CONTAINER_LABEL}"], env, 60)
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def _volumes(env: dict[str, str]) -> set[str]:
    result = _run(["docker", "volume", "ls", "-q"], env, 60)
    assert result.returncode == 0, result.stderr
    return set(result.stdout.split())


def test_a_service_module_runs_on_the_test_containers_and_leaves_nothing(engine: dict[str, str]) -> None:
    volumes_before = _volumes(engine)
    assert _ours(engine, "ps", "-aq") == [], "test infra containers left by an earlier run"
    done = _run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-s", MODULE], engine, 900)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-8000:]
    assert " passed" in done.stdout and " failed" not in done.stdout, done.stdout[-4000:]
    # It ran on the containers, not on make infra's processes (their line is the session's first setup).
    assert "test infrastructure: containers (cuepoint/postgres:" in output, output[-4000:]
    assert _ours(engine, "ps", "-aq") == [], "the test infra's containers were not removed"
    assert _volumes(engine) <= volumes_before, "the test infra's containers left volumes behind"

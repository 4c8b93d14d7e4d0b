"""What can be checked of the Docker deployment without a Docker engine, and the
local scripts' command-line contracts."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from cuepoint.contracts.topics import SERVICES

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
PROCESSES = ("migrate", "api", "worker", "relay")


def test_compose_runs_every_process_of_every_service_and_nothing_unknown() -> None:
    expected = {f"{service}-{process}" for service in SERVICES for process in PROCESSES}
    app_services = {name for name, spec in COMPOSE.items() if "build" in spec and name not in ("provision", "topics")}
    assert app_services == expected
    assert {"postgres", "kafka", "gateway"} <= set(COMPOSE)


def test_the_gateways_route_every_service_to_its_api() -> None:
    docker = (ROOT / "deploy/docker/gateway.conf").read_text()
    local = (ROOT / "deploy/local/services.sh").read_text()
    for service in SERVICES:
        assert f"location /api/{service}/ {{ proxy_pass http://{service}-api:" in docker
        assert service in local.split("SERVICES=(", 1)[1].split(")", 1)[0]
    assert "location /api/%s/ { proxy_pass http://127.0.0.1:%s/; }" in local


@pytest.mark.parametrize("service", SERVICES)
def test_each_compose_service_builds_its_own_package_with_the_right_command(service: str) -> None:
    for process in PROCESSES:
        spec = COMPOSE[f"{service}-{process}"]
        dockerfile = ROOT / spec["build"]["dockerfile"]
        assert dockerfile.is_file()
        assert spec["build"]["args"]["SERVICE"] == service
        assert spec["command"] == [process]
        assert (ROOT / "services" / service / "cuepoint" / service / "__main__.py").is_file()
        if process != "migrate":
            assert spec["depends_on"] == {f"{service}-migrate": {"condition": "service_completed_successfully"}}
    assert COMPOSE[f"{service}-api"]["ports"] == [f"127.0.0.1:{_port(service)}:{_port(service)}"]


def _port(service: str) -> int:
    return importlib.import_module(f"cuepoint.{service}.settings").__dict__[f"{service.capitalize()}Settings"]().http_port


def test_the_dockerfile_runs_the_service_module_with_the_command() -> None:
    text = (ROOT / "deploy/docker/service.Dockerfile").read_text()
    assert 'python -m \\"cuepoint.$SERVICE\\"' in text
    assert re.search(r"uv sync --frozen --no-dev --no-editable --package \"cuepoint-\$\{SERVICE\}\"", text)
    assert "USER 10001" in text


@pytest.mark.parametrize("service", SERVICES)
def test_entry_point_has_the_four_commands_and_help(service: str) -> None:
    result = subprocess.run([sys.executable, "-m", f"cuepoint.{service}", "--help"], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    for command in ("api", "worker", "relay", "migrate"):
        assert re.search(rf"^\s+{command}\s", result.stdout, re.M), f"{service} --help lacks {command}"


def test_infra_script_explains_itself_on_unknown_commands() -> None:
    for script in ("infra.sh", "services.sh"):
        result = subprocess.run([str(ROOT / "deploy/local" / script), "nonsense"], capture_output=True, text=True)
        assert result.returncode == 2
        assert "up" in result.stdout and "down" in result.stdout and "status" in result.stdout

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
    app_services = {name for name, spec in COMPOSE.items()
                    if spec["image"].split(":")[0] in {f"cuepoint/{s}" for s in SERVICES} and name not in ("provision", "topics")}
    assert app_services == expected
    assert {"postgres", "kafka", "storage", "gateway"} <= set(COMPOSE)


def test_the_gateways_route_every_service_to_its_api() -> None:
    docker = (ROOT / "deploy/docker/gateway.conf").read_text()
    local = (ROOT / "deploy/local/services.sh").read_text()
    for service in SERVICES:
        assert f"set ${service} {service}-api:{_port(service)};" in docker
        assert re.search(rf"location /api/{service}/ {{ rewrite \^/api/{service}\(/\.\*\)\$ \$1 break; "
                         rf"proxy_pass http://\${service};[^}}]* }}", docker)  # then its security headers
        assert service in local.split("SERVICES=(", 1)[1].split(")", 1)[0]
    assert "location /api/%s/ { proxy_bind %s; proxy_pass http://127.0.0.1:%s/;" in local


def test_the_compose_gateway_passes_the_callers_request_id_through() -> None:
    # It used to set X-Request-ID to nginx's own $request_id, so a caller's id was lost at the gateway.
    docker = (ROOT / "deploy/docker/gateway.conf").read_text()
    assert 'map $http_x_request_id $request_id_out { "" $request_id; default $http_x_request_id; }' in docker
    assert "proxy_set_header X-Request-ID $request_id_out;" in docker
    assert "proxy_set_header X-Request-ID $request_id;" not in docker


def test_compose_hands_browsers_storage_urls_through_the_gateway() -> None:
    # STORAGE_EMULATOR_HOST alone made every upload and playback URL http://storage:9023/…, a name
    # only containers resolve; content rewrites them to the public URL, the gateway's /storage/.
    env = COMPOSE["content-api"]["environment"]
    gateway_port = COMPOSE["gateway"]["ports"][0].removeprefix("127.0.0.1:").removesuffix(":8080")
    assert env["STORAGE_EMULATOR_HOST"] == "http://storage:9023"
    assert env["CUEPOINT_STORAGE_PUBLIC_URL"] == f"http://127.0.0.1:{gateway_port}/storage"
    assert "location /storage/ {" in (ROOT / "deploy/docker/gateway.conf").read_text()


def test_compose_kafka_has_a_listener_for_the_host_and_the_version_make_infra_runs() -> None:
    kafka = COMPOSE["kafka"]
    assert kafka["image"].startswith("cuepoint/kafka:")  # built from deploy/local/kafka/pom.xml's jars
    port = "${CUEPOINT_COMPOSE_KAFKA_PORT:-29092}"
    assert kafka["ports"] == [f"127.0.0.1:{port}:29092"]
    assert kafka["environment"]["KAFKA_EXTERNAL_ADVERTISED"] == f"127.0.0.1:{port}"
    entrypoint = (ROOT / "deploy/docker/kafka-entrypoint.sh").read_text()
    assert "advertised.listeners=INTERNAL://${KAFKA_INTERNAL_ADVERTISED:-kafka:9092},EXTERNAL://${KAFKA_EXTERNAL_ADVERTISED}" in entrypoint
    assert "deploy/local/kafka/pom.xml" in (ROOT / "deploy/docker/images.sh").read_text()


def test_compose_host_ports_differ_from_make_ups() -> None:
    published = [port for spec in COMPOSE.values() for port in spec.get("ports", [])]
    assert all(port.startswith("127.0.0.1:${CUEPOINT_COMPOSE_") for port in published), published
    defaults = {int(re.search(r":-(\d+)}", port).group(1)) for port in published}
    assert defaults.isdisjoint({5432, 9092, 9093, 9023, 8080, 8001, 8002, 8003, 8004, 8005})


@pytest.mark.parametrize("service", SERVICES)
def test_each_compose_service_runs_its_own_image_with_the_right_command(service: str) -> None:
    for process in PROCESSES:
        spec = COMPOSE[f"{service}-{process}"]
        assert spec["image"] == f"cuepoint/{service}:${{CUEPOINT_IMAGE_TAG:-local}}"
        assert spec["command"] == [process]
        assert spec["restart"] == ("no" if process == "migrate" else "unless-stopped")
        assert (ROOT / "services" / service / "cuepoint" / service / "__main__.py").is_file()
        if process != "migrate":
            assert spec["depends_on"] == {f"{service}-migrate": {"condition": "service_completed_successfully"}}
    assert f"127.0.0.1:{_port(service)}/readyz" in " ".join(COMPOSE[f"{service}-api"]["healthcheck"]["test"])


def _port(service: str) -> int:
    return importlib.import_module(f"cuepoint.{service}.settings").__dict__[f"{service.capitalize()}Settings"]().http_port


def test_every_dockerfile_takes_its_base_image_as_a_build_argument() -> None:
    for dockerfile in (ROOT / "deploy/docker").glob("*.Dockerfile"):
        text = dockerfile.read_text()
        assert re.search(r"^ARG (BASE_IMAGE|PYTHON_IMAGE)=", text, re.M), dockerfile.name
        assert "syntax=" not in text, f"{dockerfile.name}: a syntax line pulls a frontend image from Docker Hub"
    assert "ffmpeg" in (ROOT / "deploy/docker/service.Dockerfile").read_text()  # content's ffprobe


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


def test_compose_prometheus_scrapes_every_process_on_the_port_it_serves_and_is_valid(tmp_path: Path) -> None:
    """deploy/docker/prometheus.yml names each compose api, worker and relay on the port the process
    serves /metrics on (runtime/metrics.py), and promtool accepts it with the platform's rules."""
    import shutil
    import subprocess

    from cuepoint.runtime.metrics import metrics_port

    text = (ROOT / "deploy/docker/prometheus.yml").read_text()
    config = yaml.safe_load(text)
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    found = {(name, sd["port"]) for sd in jobs["cuepoint"]["dns_sd_configs"] for name in sd["names"]}
    ports = {"identity": 8001, "content": 8002, "assessment": 8003, "progress": 8004, "analytics": 8005}
    expected = set()
    for service in SERVICES:
        expected |= {(f"{service}-api", ports[service]), (f"{service}-worker", metrics_port(service, "worker", None)),
                     (f"{service}-relay", metrics_port(service, "relay", None))}
    assert found == expected
    assert {name for name, _ in found} <= set(COMPOSE), "a target that is no compose service"
    assert {"prometheus", "postgres-exporter"} <= set(COMPOSE)
    tool = shutil.which("promtool")
    assert tool, "promtool is missing: `make infra` installs Debian's prometheus package"
    local = tmp_path / "prometheus.yml"
    local.write_text(text.replace("/etc/cuepoint/alerts.yml", str(ROOT / "deploy/prometheus/alerts.yml")))
    result = subprocess.run([tool, "check", "config", str(local)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr

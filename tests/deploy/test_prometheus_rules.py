"""Prometheus as `make up` runs it: the alert rules of deploy/prometheus/ pass `promtool check rules`
and their unit tests (`promtool test rules`), and the scrape configuration services.sh generates is
valid and lists every api, worker (each replica) and relay on the port the process serves /metrics on."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from cuepoint.runtime.metrics import metrics_port

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "prometheus"
SERVICES_SH = ROOT / "deploy" / "local" / "services.sh"
SERVICES = ("identity", "content", "assessment", "progress", "analytics")

pytestmark = pytest.mark.unit


def promtool(*args: str, cwd: Path = RULES) -> subprocess.CompletedProcess:
    tool = shutil.which("promtool")
    assert tool, "promtool is missing: `make infra` installs Debian's prometheus package"
    return subprocess.run([tool, *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def test_alert_rules_pass_promtool_check() -> None:
    result = promtool("check", "rules", "alerts.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_alert_rules_unit_tests_pass() -> None:
    result = promtool("test", "rules", "alerts_test.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_alerts_the_platform_needs_are_there() -> None:
    rules = yaml.safe_load((RULES / "alerts.yml").read_text())
    alerts = {rule["alert"] for group in rules["groups"] for rule in group["rules"] if "alert" in rule}
    assert {"CuepointConsumerLagGrowing", "CuepointDeadLetters", "CuepointOutboxStale", "CuepointHigh5xxRate",
            "CuepointLatencyOverBudget", "CuepointRelayWithoutLeader", "CuepointTargetDown"} <= alerts
    tested = yaml.safe_load((RULES / "alerts_test.yml").read_text())
    covered = {case["alertname"] for test in tested["tests"] for case in test.get("alert_rule_test", [])}
    assert alerts <= covered, f"alerts without a unit test: {sorted(alerts - covered)}"


def test_generated_scrape_config_is_valid_and_scrapes_every_process(tmp_path: Path) -> None:
    config = subprocess.run(["bash", "-c", f'source "{SERVICES_SH}"; prometheus_config'], capture_output=True,
                            text=True, check=True, env={"PATH": "/usr/bin:/bin", "CUEPOINT_LOCAL_DIR": str(tmp_path)})
    path = tmp_path / "prometheus.yml"
    path.write_text(config.stdout)
    result = promtool("check", "config", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    targets = {(c["labels"]["service"], c["labels"]["process"], c["targets"][0])
               for job in yaml.safe_load(config.stdout)["scrape_configs"] for c in job["static_configs"]}
    expected = set()
    for index, service in enumerate(SERVICES):
        expected.add((service, "api", f"127.0.0.1:{8001 + index}"))
        expected.add((service, "worker", f"127.0.0.1:{metrics_port(service, 'worker', None)}"))
        expected.add((service, "relay", f"127.0.0.1:{metrics_port(service, 'relay', None)}"))
    expected.add(("analytics", "worker", f"127.0.0.1:{metrics_port('analytics', 'worker', None) + 1}"))  # replica 2
    expected |= {("kafka", "broker-1", "127.0.0.1:9404"), ("postgres", "exporter", "127.0.0.1:9187")}  # infra.sh's
    assert targets == expected


def test_a_three_broker_cluster_is_scraped_node_by_node_and_a_port_of_0_is_no_target(tmp_path: Path) -> None:
    def kafka_and_postgres(env: dict[str, str]) -> set[tuple[str, str]]:
        config = subprocess.run(["bash", "-c", f'source "{SERVICES_SH}"; prometheus_config'], capture_output=True,
                                text=True, check=True,
                                env={"PATH": "/usr/bin:/bin", "CUEPOINT_LOCAL_DIR": str(tmp_path), **env})
        return {(c["labels"]["process"], c["targets"][0]) for job in yaml.safe_load(config.stdout)["scrape_configs"]
                if job["job_name"] in ("kafka", "postgres") for c in job["static_configs"]}

    assert kafka_and_postgres({"CUEPOINT_KAFKA_BROKERS": "3", "CUEPOINT_KAFKA_METRICS_PORT": "9504"}) == {
        ("broker-1", "127.0.0.1:9504"), ("broker-2", "127.0.0.1:9505"), ("broker-3", "127.0.0.1:9506"),
        ("exporter", "127.0.0.1:9187")}
    assert kafka_and_postgres({"CUEPOINT_KAFKA_METRICS_PORT": "0", "CUEPOINT_PG_METRICS_PORT": "0"}) == set()

"""deploy/k8s/, checked offline: base/ is what generate.py writes, every core object of the production
overlay is valid against Kubernetes' own schemas (kubernetes-validate), the Strimzi KafkaTopics are the
contracts' topic registry, and the manifests keep the promises README "Deploying" makes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import kubernetes_validate
import pytest

from cuepoint.contracts.topics import SERVICES, all_topics

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "deploy/k8s"))
import generate  # noqa: E402
import render  # noqa: E402

KUBERNETES = "1.33.0"
OPERATOR_GROUPS = ("kafka.strimzi.io/", "postgresql.cnpg.io/", "monitoring.coreos.com/")
DOCS = render.render(ROOT / "deploy/k8s/overlays/production")


def _of(kind: str) -> dict[str, dict]:
    return {doc["metadata"]["name"]: doc for doc in DOCS if doc["kind"] == kind}


def test_base_is_what_the_generator_writes() -> None:
    result = subprocess.run([sys.executable, str(ROOT / "deploy/k8s/generate.py"), "--check"], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("doc", [d for d in DOCS if not d["apiVersion"].startswith(OPERATOR_GROUPS)],
                         ids=lambda d: f"{d['kind']}/{d['metadata']['name']}")
def test_core_objects_are_valid_kubernetes(doc: dict) -> None:
    kubernetes_validate.validate(doc, KUBERNETES, strict=True)


def test_the_kafka_topics_are_the_contracts_registry() -> None:
    topics = {doc["spec"]["topicName"]: doc for doc in _of("KafkaTopic").values()}
    assert set(topics) == {topic.name for topic in all_topics()}
    for topic in all_topics():
        spec = topics[topic.name]["spec"]
        assert spec["partitions"] == topic.partitions, topic.name
        assert spec["config"] == topic.config(), topic.name
        assert topics[topic.name]["metadata"]["labels"]["strimzi.io/cluster"] == "cuepoint-kafka"


def test_kafka_is_the_version_make_infra_runs() -> None:
    pom = (ROOT / "deploy/local/kafka/pom.xml").read_text()
    version = pom.split("<kafka.version>")[1].split("</kafka.version>")[0]
    assert _of("Kafka")["cuepoint-kafka"]["spec"]["kafka"]["version"] == version


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_runs_api_worker_relay_and_a_migrate_job(service: str) -> None:
    deployments, jobs = _of("Deployment"), _of("Job")
    for process in ("api", "worker", "relay"):
        container = deployments[f"{service}-{process}"]["spec"]["template"]["spec"]["containers"][0]
        assert container["args"][0] == process
        assert container["image"] == f"registry.example.com/cuepoint/{service}:0.1.0"
        assert container["resources"]["requests"] and container["resources"]["limits"]
    api = deployments[f"{service}-api"]["spec"]["template"]["spec"]["containers"][0]
    assert api["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert api["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert jobs[f"{service}-migrate"]["spec"]["template"]["spec"]["containers"][0]["args"] == ["migrate"]
    assert f"{service}-api" in _of("HorizontalPodAutoscaler") and f"{service}-api" in _of("PodDisruptionBudget")
    assert _of("Service")[f"{service}-api"]["spec"]["ports"][0]["port"] == generate.PORTS[service]


def test_worker_autoscalers_stop_at_the_partitions() -> None:
    for service in SERVICES:
        hpa = _of("HorizontalPodAutoscaler").get(f"{service}-worker")
        if generate.partitions_bound(service) == 1:
            assert hpa is None
        else:
            assert hpa["spec"]["maxReplicas"] == generate.partitions_bound(service)
    assert _of("HorizontalPodAutoscaler")["analytics-worker"]["spec"]["maxReplicas"] == 12  # client events


def test_network_policies_let_a_service_reach_postgres_kafka_and_the_jwks_only() -> None:
    policies = _of("NetworkPolicy")
    assert policies["default-deny"]["spec"]["policyTypes"] == ["Ingress", "Egress"]
    for service in ("progress", "analytics"):  # nothing outside the cluster
        egress = policies[service]["spec"]["egress"]
        targets = [rule["to"][0] for rule in egress]
        assert not any("ipBlock" in target for target in targets)
        ports = sorted(port["port"] for rule in egress for port in rule["ports"])
        assert ports == [53, 53, 5432, 8001, 9092]


def test_every_object_lands_in_the_overlays_namespace_and_the_ingress_reaches_the_gateway() -> None:
    assert {doc["metadata"].get("namespace") for doc in DOCS} == {"cuepoint"}
    ingress = _of("Ingress")["cuepoint"]["spec"]["rules"][0]
    assert ingress["http"]["paths"][0]["backend"]["service"]["name"] == "gateway"
    assert _of("Cluster")["cuepoint-pg"]["spec"]["imageName"].endswith(":15")


def test_prometheus_scrapes_every_pod_with_make_ups_labels_and_make_ups_rules() -> None:
    """The Prometheus Operator's objects: every service's api, worker and relay pods are scraped (the
    api on its http port, the others on their metrics port, each declared by its container) with
    the service and process labels alerts.yml groups by; the rules are alerts.yml's; the broker's
    exporter and PostgreSQL's queries are make infra's files."""
    import yaml

    monitors = _of("PodMonitor")
    for service in SERVICES:
        monitor = monitors[service]["spec"]
        assert monitor["selector"]["matchLabels"]["app.kubernetes.io/name"] == service
        assert {e["port"] for e in monitor["podMetricsEndpoints"]} == {"http", "metrics"}
        for endpoint in monitor["podMetricsEndpoints"]:
            assert {r["targetLabel"] for r in endpoint["relabelings"]} == {"service", "process"}
        for process in ("api", "worker", "relay"):
            container = _of("Deployment")[f"{service}-{process}"]["spec"]["template"]["spec"]["containers"][0]
            names = {p["name"] for p in container.get("ports", [])}
            assert names & {"http", "metrics"}, f"{service}-{process} declares no port Prometheus scrapes"
            if process != "api":
                assert {"name": "CUEPOINT_METRICS_PORT", "value": "9100"} in container["env"]
        policy = _of("NetworkPolicy")[service]["spec"]
        assert any(rule["from"][0].get("namespaceSelector", {}).get("matchLabels", {}).get(
            "kubernetes.io/metadata.name") == "monitoring" for rule in policy["ingress"])
    assert _of("ConfigMap")["cuepoint-config"]["data"]["CUEPOINT_METRICS_HOST"] == "0.0.0.0"  # scrapable from outside the pod
    rule = _of("PrometheusRule")["cuepoint"]["spec"]
    assert rule["groups"] == yaml.safe_load((ROOT / "deploy/prometheus/alerts.yml").read_text())["groups"]
    configs = _of("ConfigMap")
    assert configs["cuepoint-kafka-metrics"]["data"]["jmx-exporter.yaml"] == (
        ROOT / "deploy/local/kafka/jmx-exporter.yaml").read_text()
    assert configs["cuepoint-pg-metrics"]["data"]["queries.yaml"] == (
        ROOT / "deploy/prometheus/postgres-queries.yaml").read_text()
    kafka = _of("Kafka")["cuepoint-kafka"]["spec"]["kafka"]
    assert kafka["metricsConfig"]["valueFrom"]["configMapKeyRef"]["name"] == "cuepoint-kafka-metrics"
    cluster = _of("Cluster")["cuepoint-pg"]["spec"]
    assert cluster["monitoring"]["customQueriesConfigMap"] == [{"name": "cuepoint-pg-metrics", "key": "queries.yaml"}]
    assert "pg_stat_statements" in cluster["postgresql"]["shared_preload_libraries"]


def test_the_gateway_behind_the_ingress_sees_the_browsers_address() -> None:
    """Behind the ingress controller the gateway's $remote_addr is the controller's pod: without the real-IP
    rules every session would record it and login throttling would count all browsers as one. conf.d's
    real-ip.conf believes X-Forwarded-For from the private ranges only (the controller's pods; configurable in
    generate.py, or an overlay's patch), recursively, and the routes pass the address it found on."""
    config = _of("ConfigMap")["gateway-config"]["data"]
    real_ip = [line.strip() for line in config["real-ip.conf"].splitlines() if line.strip() and not line.startswith("#")]
    assert real_ip == [*(f"set_real_ip_from {cidr};" for cidr in generate.INGRESS_PROXY_CIDRS),
                       "real_ip_header X-Forwarded-For;", "real_ip_recursive on;"]
    assert set(generate.INGRESS_PROXY_CIDRS) == {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"}
    assert generate.real_ip_conf(("10.244.0.0/16",)).count("set_real_ip_from") == 1
    routes = config["cuepoint.conf"]
    assert "proxy_set_header X-Forwarded-For $remote_addr;" in routes
    assert "$proxy_add_x_forwarded_for" not in routes and "$http_x_forwarded_for" not in routes
    container = _of("Deployment")["gateway"]["spec"]["template"]["spec"]["containers"][0]
    mounts = {m["mountPath"]: m["subPath"] for m in container["volumeMounts"]}
    # conf.d/*.conf is included in the image's http block (deploy/docker/gateway-nginx.conf), main.d/ at its top.
    assert mounts == {"/etc/nginx/conf.d/cuepoint.conf": "cuepoint.conf", "/etc/nginx/conf.d/real-ip.conf": "real-ip.conf",
                      "/etc/nginx/main.d/workers.conf": "workers.conf"}
    image_main = (ROOT / "deploy/docker/gateway-nginx.conf").read_text()
    assert "include /etc/nginx/conf.d/*.conf;" in image_main and "include /etc/nginx/main.d/*.conf;" in image_main
    # One worker per CPU of the node would each hold 16,384 connections' memory under the pod's 256 Mi.
    assert "worker_processes 2;" in config["workers.conf"] and container["resources"]["limits"]["cpu"] == "1"


def test_an_overlay_narrows_the_gateways_trusted_proxies(tmp_path: Path) -> None:
    """The production overlay's commented example, applied: real-ip.conf is one key an overlay replaces."""
    import yaml

    example = [line.removeprefix("  # ") for line in
               (ROOT / "deploy/k8s/overlays/production/kustomization.yaml").read_text().splitlines()
               if line.startswith("  # - target: {kind: ConfigMap, name: gateway-config}") or line.startswith("  #   ")]
    patch = yaml.safe_load("\n".join(example))
    (tmp_path / "kustomization.yaml").write_text(yaml.safe_dump(
        {"resources": [str(ROOT / "deploy/k8s/base")], "patches": patch}))
    [config] = [d for d in render.render(tmp_path) if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "gateway-config"]
    assert config["data"]["real-ip.conf"].splitlines() == [
        "set_real_ip_from 10.244.0.0/16;", "real_ip_header X-Forwarded-For;", "real_ip_recursive on;"]

"""Writes deploy/k8s/base/: Cuepoint on Kubernetes, as kustomize resources.

    .venv/bin/python deploy/k8s/generate.py          rewrite base/*.yaml (commit the result)
    .venv/bin/python deploy/k8s/generate.py --check  exit 1 when base/ differs from what this writes

Generated, not hand-written, because most of it follows from two registries: the five services
(api, worker and relay each, their ports and the topics their workers consume) and the contracts'
topic registry (libs/contracts: cuepoint.contracts.topics), from which the Strimzi KafkaTopics are
made, so topics, partitions, retention and compaction match what `make infra` creates.
Kafka and PostgreSQL are the operators' (Strimzi, CloudNativePG): this only declares them.
tests/deploy/test_k8s.py checks base/ is up to date, valid for Kubernetes, and the topics equal the registry.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import yaml

from cuepoint.contracts.topics import SERVICES, TOPICS, all_topics

BASE = Path(__file__).resolve().parent / "base"
PORTS = {"identity": 8001, "content": 8002, "assessment": 8003, "progress": 8004, "analytics": 8005}
# The topics each service's worker consumes (each service's bootstrap.py): its groups' partitions bound
# the useful worker replicas. identity's worker has no consumers today (one replica, no autoscaler).
CONSUMES = {
    "identity": [],
    "content": ["assessment.events", "identity.events"],
    "assessment": ["content.events", "identity.events"],
    "progress": ["content.events", "assessment.events", "progress.events", "analytics.client-events", "identity.user-profiles",
                 "identity.events"],
    "analytics": ["analytics.client-events", "identity.events", "identity.system-configs", "content.events",
                  "assessment.events", "progress.events"],
}
# What each service reaches outside the cluster, besides PostgreSQL, Kafka and identity's JWKS.
EXTERNAL_EGRESS = {
    "identity": ("SMTP for invitations and verification emails", [587, 465, 25]),
    "content": ("Google Cloud Storage (HTTPS)", [443]),
    "assessment": ("the AI providers' APIs (HTTPS)", [443]),
}
KAFKA_CLUSTER = "cuepoint-kafka"
PG_CLUSTER = "cuepoint-pg"
PART_OF = {"app.kubernetes.io/part-of": "cuepoint"}
REPLICATION = 3
ROOT = Path(__file__).resolve().parents[2]
# A worker's or relay's /metrics in its pod (each pod its own address: one port for all, unlike make up).
METRICS_PORT = 9100
# Where the Prometheus Operator runs: its pods may scrape ours (NetworkPolicy); kube-prometheus' default.
MONITORING_NAMESPACE = "monitoring"


def labels(service: str, process: str) -> dict[str, str]:
    return {**PART_OF, "app.kubernetes.io/name": service, "app.kubernetes.io/component": process}


def meta(name: str, service: str | None = None, process: str | None = None, **extra: Any) -> dict[str, Any]:
    lab = labels(service, process) if service and process else dict(PART_OF)
    return {"name": name, "labels": lab, **extra}


def partitions_bound(service: str) -> int:
    """Worker replicas beyond the largest consumed topic's partitions would sit idle."""
    by_name = {topic.name: topic for topic in TOPICS}
    return max((by_name[name].partitions for name in CONSUMES[service]), default=1)


def env_from(service: str) -> list[dict[str, Any]]:
    sources: list[dict[str, Any]] = [{"configMapRef": {"name": "cuepoint-config"}},
                                     {"configMapRef": {"name": f"{service}-config", "optional": True}},
                                     {"secretRef": {"name": "cuepoint-db"}}]
    if service in ("identity", "assessment"):
        sources.append({"secretRef": {"name": f"{service}-secrets"}})
    return sources


def container(service: str, process: str) -> dict[str, Any]:
    c: dict[str, Any] = {
        "name": process, "image": f"cuepoint/{service}:local", "args": [process],
        "envFrom": env_from(service),
        "securityContext": {"runAsNonRoot": True, "runAsUser": 10001, "allowPrivilegeEscalation": False,
                            "readOnlyRootFilesystem": True, "capabilities": {"drop": ["ALL"]}},
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
    }
    if process == "api":
        port = PORTS[service]
        c["args"] = ["api", "--port", str(port)]
        c["ports"] = [{"name": "http", "containerPort": port}]
        c["readinessProbe"] = {"httpGet": {"path": "/readyz", "port": "http"}, "periodSeconds": 5, "failureThreshold": 3}
        c["livenessProbe"] = {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 10, "failureThreshold": 3,
                              "initialDelaySeconds": 10}
        c["resources"] = {"requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"cpu": "1", "memory": "512Mi"}}
    else:  # a worker or relay serves /metrics on a port of its own
        c["env"] = [{"name": "CUEPOINT_METRICS_PORT", "value": str(METRICS_PORT)}]
        c["ports"] = [{"name": "metrics", "containerPort": METRICS_PORT}]
    if process == "worker":
        # No HTTP in a worker: a consumer that fails exits, and the kubelet restarts it.
        c["resources"] = {"requests": {"cpu": "200m", "memory": "256Mi"}, "limits": {"cpu": "1", "memory": "512Mi"}}
    else:  # relay: one holds its service's advisory lock and publishes; a second waits to take over
        c["resources"] = {"requests": {"cpu": "50m", "memory": "128Mi"}, "limits": {"cpu": "500m", "memory": "256Mi"}}
    return c


def pod_spec(containers: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": containers, "volumes": [{"name": "tmp", "emptyDir": {}}], **extra}


def deployment(service: str, process: str) -> dict[str, Any]:
    replicas = 2 if process != "worker" else min(2, partitions_bound(service))
    return {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta(f"{service}-{process}", service, process),
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels(service, process)},
            # A rollout never drops below the wanted replicas; the new pods must be ready first.
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
            "template": {"metadata": {"labels": labels(service, process)},
                         "spec": pod_spec([container(service, process)], terminationGracePeriodSeconds=30)},
        },
    }


def migrate_job(service: str) -> dict[str, Any]:
    """Provisions the service's schema and roles (idempotent), then applies its migrations: run before
    the rollout of a new version (README "Deploying")."""
    provision = {
        "name": "provision", "image": f"cuepoint/{service}:local",
        "command": ["sh", "-c", f'exec python -m cuepoint.runtime.provision --schema {service} --database "$CUEPOINT_PG_DATABASE" '
                    '--admin-url "postgresql://postgres:$PG_SUPERUSER_PASSWORD@$CUEPOINT_PG_HOST:5432/postgres" '
                    '--password "$CUEPOINT_DB_PASSWORD"'],
        "envFrom": env_from(service),
        "env": [{"name": "PG_SUPERUSER_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "cuepoint-pg-superuser", "key": "password"}}}],
        "securityContext": {"runAsNonRoot": True, "runAsUser": 10001, "allowPrivilegeEscalation": False},
    }
    migrate = {**container(service, "migrate"), "args": ["migrate"],
               "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "1", "memory": "512Mi"}}}
    return {
        "apiVersion": "batch/v1", "kind": "Job", "metadata": meta(f"{service}-migrate", service, "migrate"),
        "spec": {"backoffLimit": 6, "ttlSecondsAfterFinished": 3600,
                 "template": {"metadata": {"labels": labels(service, "migrate")},
                              "spec": pod_spec([migrate], initContainers=[provision], restartPolicy="OnFailure")}},
    }


def api_service(service: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": meta(f"{service}-api", service, "api"),
            "spec": {"selector": labels(service, "api"),
                     "ports": [{"name": "http", "port": PORTS[service], "targetPort": "http"}]}}


def hpa(service: str, process: str, maximum: int) -> dict[str, Any]:
    return {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": meta(f"{service}-{process}", service, process),
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": f"{service}-{process}"},
                     "minReplicas": 2, "maxReplicas": maximum,
                     "metrics": [{"type": "Resource", "resource": {"name": "cpu",
                                                                     "target": {"type": "Utilization", "averageUtilization": 70}}}]}}


def pdb(service: str, process: str) -> dict[str, Any]:
    return {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": meta(f"{service}-{process}", service, process),
            "spec": {"minAvailable": 1, "selector": {"matchLabels": labels(service, process)}}}


def network_policy(service: str) -> dict[str, Any]:
    """A service's pods reach PostgreSQL, Kafka, identity's JWKS and DNS, and what EXTERNAL_EGRESS names."""
    egress: list[dict[str, Any]] = [
        {"to": [{"podSelector": {"matchLabels": {"cnpg.io/cluster": PG_CLUSTER}}}], "ports": [{"protocol": "TCP", "port": 5432}]},
        {"to": [{"podSelector": {"matchLabels": {"strimzi.io/cluster": KAFKA_CLUSTER}}}], "ports": [{"protocol": "TCP", "port": 9092}]},
        {"to": [{"podSelector": {"matchLabels": labels("identity", "api")}}], "ports": [{"protocol": "TCP", "port": PORTS["identity"]}]},
        {"to": [{"namespaceSelector": {}, "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
         "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]},
    ]
    if service in EXTERNAL_EGRESS:
        egress.append({"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]}}],
                       "ports": [{"protocol": "TCP", "port": port} for port in EXTERNAL_EGRESS[service][1]]})
    ingress: list[dict[str, Any]] = [{"from": [{"podSelector": {"matchLabels": {**PART_OF, "app.kubernetes.io/name": "gateway"}}}],
                                      "ports": [{"protocol": "TCP", "port": PORTS[service]}]}]
    if service == "identity":  # every service fetches the JWKS
        ingress.append({"from": [{"podSelector": {"matchLabels": PART_OF}}], "ports": [{"protocol": "TCP", "port": PORTS[service]}]})
    # Prometheus scrapes every pod: the API's /metrics on its port, a worker's and a relay's on theirs.
    ingress.append({"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": MONITORING_NAMESPACE}}}],
                    "ports": [{"protocol": "TCP", "port": PORTS[service]}, {"protocol": "TCP", "port": METRICS_PORT}]})
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": meta(service, service, "all"),
            "spec": {"podSelector": {"matchLabels": {**PART_OF, "app.kubernetes.io/name": service}},
                     "policyTypes": ["Ingress", "Egress"], "ingress": ingress, "egress": egress}}


def platform() -> dict[str, list[dict[str, Any]]]:
    files: dict[str, list[dict[str, Any]]] = {}
    files["config.yaml"] = [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta("cuepoint-config"),
         "data": {"CUEPOINT_PG_HOST": f"{PG_CLUSTER}-rw", "CUEPOINT_PG_PORT": "5432", "CUEPOINT_PG_DATABASE": "cuepoint",
                  "CUEPOINT_KAFKA_BOOTSTRAP": f"{KAFKA_CLUSTER}-kafka-bootstrap:9092",
                  "CUEPOINT_KAFKA_REPLICATION_FACTOR": str(REPLICATION),
                  "CUEPOINT_JWKS_URL": f"http://identity-api:{PORTS['identity']}/.well-known/jwks.json",
                  "CUEPOINT_HTTP_HOST": "0.0.0.0", "CUEPOINT_METRICS_HOST": "0.0.0.0", "CUEPOINT_LOG_LEVEL": "INFO",
                  "CUEPOINT_PUBLIC_BASE_URL": "https://cuepoint.example.com",
                  # Whose X-Forwarded-For the APIs believe: pod addresses are the cluster's choice, so the
                  # private ranges. The NetworkPolicies let only the gateway send an API a request (identity's
                  # JWKS aside), and the gateway sets X-Forwarded-For to who connected; with the default
                  # (127.0.0.2) every caller would seem to be the gateway, throttled as one.
                  "CUEPOINT_TRUSTED_PROXIES": "10.0.0.0/8,172.16.0.0/12,192.168.0.0/16"}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta("content-config", "content", "config"),
         "data": {"CUEPOINT_STORAGE_BUCKET": "cuepoint-media", "CUEPOINT_STORAGE_PROJECT": "cuepoint"}},
        # Placeholders: replace them (kubectl create secret, or your sealed/external secrets) before the first rollout.
        {"apiVersion": "v1", "kind": "Secret", "metadata": meta("cuepoint-db"), "type": "Opaque",
         "stringData": {"CUEPOINT_DB_PASSWORD": "change-me"}},
        {"apiVersion": "v1", "kind": "Secret", "metadata": meta("cuepoint-pg-superuser"), "type": "kubernetes.io/basic-auth",
         "stringData": {"username": "postgres", "password": "change-me"}},
        *({"apiVersion": "v1", "kind": "Secret", "metadata": meta(f"{s}-secrets", s, "config"), "type": "Opaque",
           "stringData": {"CUEPOINT_SECRET_KEY": "change-me"}} for s in ("identity", "assessment")),
    ]
    for service in SERVICES:
        docs = [migrate_job(service), deployment(service, "api"), api_service(service), deployment(service, "worker"),
                deployment(service, "relay"), hpa(service, "api", 10)]
        if partitions_bound(service) > 1:
            docs.append(hpa(service, "worker", partitions_bound(service)))
        docs += [pdb(service, p) for p in ("api", "worker", "relay") if p != "worker" or partitions_bound(service) > 1]
        docs.append(network_policy(service))
        files[f"{service}.yaml"] = docs
    files["gateway.yaml"] = gateway()
    files["kafka.yaml"] = kafka()
    files["postgres.yaml"] = [postgres()]
    files["monitoring.yaml"] = monitoring()
    files["network.yaml"] = [
        {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": meta("default-deny"),
         "spec": {"podSelector": {"matchLabels": PART_OF}, "policyTypes": ["Ingress", "Egress"]}}]
    return files


# Whose X-Forwarded-For the gateway believes: the ingress controller's pods (and any load balancer in
# front that adds to the header), by default the private ranges, where the cluster's pods are. Narrow it
# in an overlay to your cluster's pod CIDR (patch the gateway-config ConfigMap's real-ip.conf, see the
# production overlay). When browsers themselves come from a private range (a campus network), narrow it:
# an address inside these ranges is skipped, so the entry before it in X-Forwarded-For would be believed.
INGRESS_PROXY_CIDRS = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")


def real_ip_conf(cidrs: tuple[str, ...] = INGRESS_PROXY_CIDRS) -> str:
    return ("# The gateway behind an Ingress: $remote_addr is the browser's address, not the ingress controller's\n"
            "# (sessions record it, login throttling counts it). From the right of X-Forwarded-For, addresses of\n"
            "# trusted proxies are skipped; the first other one is the caller (what a client wrote before it is not).\n"
            + "".join(f"set_real_ip_from {cidr};\n" for cidr in cidrs)
            + "real_ip_header X-Forwarded-For;\nreal_ip_recursive on;\n")


# One nginx worker per CPU of the pod's limit (1) and one to spare; the image's "auto" would start one per
# CPU of the node, each holding its 16,384 connections' memory (about 8 MB), past the pod's memory limit.
GATEWAY_WORKERS = "# deploy/k8s/generate.py: the pod's CPU limit is 1 (the image's own says auto).\nworker_processes 2;\n"

GATEWAY_CONF = """# deploy/docker/gateway.conf's routes for Kubernetes: Services have stable addresses (no resolver needed),
# and storage is real GCS (signed URLs straight to it), so no /storage/ here. real-ip.conf (beside this
# in conf.d) makes $remote_addr the browser's address behind the ingress controller.
map $http_x_request_id $request_id_out { "" $request_id; default $http_x_request_id; }
server {
  listen 8080;
  client_max_body_size 2m;
  proxy_http_version 1.1;
  proxy_set_header Host $host;
  proxy_set_header X-Request-ID $request_id_out;
  proxy_set_header X-Forwarded-For $remote_addr;  # the browser's, as real-ip.conf found it
  proxy_set_header X-Forwarded-Proto $scheme;
  proxy_set_header Connection "";
  proxy_buffering off;
  proxy_read_timeout 1h;
  root /usr/share/cuepoint/web;
  gzip on;
  gzip_types text/css application/javascript application/json image/svg+xml text/vtt;
  add_header X-Content-Type-Options nosniff always;
  add_header Referrer-Policy same-origin always;
  location = /healthz { access_log off; default_type text/plain; return 200 "ok"; }
  location /assets/ { add_header Cache-Control "public, max-age=31536000, immutable"; try_files $uri =404; }
  location / { add_header Cache-Control "no-cache"; try_files $uri /index.html; }
""" + "".join(f"  location /api/{s}/ {{ proxy_pass http://{s}-api:{PORTS[s]}/; }}\n" for s in SERVICES) + """  location /api/ {
    default_type application/problem+json;
    return 404 '{"type": "about:blank", "title": "Not found", "status": 404, "detail": "no such API: use /api/<service>/"}';
  }
}
"""


def gateway() -> list[dict[str, Any]]:
    lab = labels("gateway", "gateway")
    return [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta("gateway-config", "gateway", "gateway"),
         "data": {"cuepoint.conf": GATEWAY_CONF, "real-ip.conf": real_ip_conf(), "workers.conf": GATEWAY_WORKERS}},
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta("gateway", "gateway", "gateway"),
         "spec": {"replicas": 2, "selector": {"matchLabels": lab},
                  "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
                  "template": {"metadata": {"labels": lab}, "spec": {
                      "containers": [{
                          "name": "nginx", "image": "cuepoint/gateway:local", "ports": [{"name": "http", "containerPort": 8080}],
                          "readinessProbe": {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 5},
                          "livenessProbe": {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 10},
                          "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"cpu": "1", "memory": "256Mi"}},
                          "volumeMounts": [{"name": "conf", "mountPath": "/etc/nginx/conf.d/cuepoint.conf", "subPath": "cuepoint.conf"},
                                           {"name": "conf", "mountPath": "/etc/nginx/conf.d/real-ip.conf", "subPath": "real-ip.conf"},
                                           {"name": "conf", "mountPath": "/etc/nginx/main.d/workers.conf", "subPath": "workers.conf"}]}],
                      "volumes": [{"name": "conf", "configMap": {"name": "gateway-config"}}]}}}},
        {"apiVersion": "v1", "kind": "Service", "metadata": meta("gateway", "gateway", "gateway"),
         "spec": {"selector": lab, "ports": [{"name": "http", "port": 8080, "targetPort": "http"}]}},
        {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": meta("gateway", "gateway", "gateway"),
         "spec": {"minAvailable": 1, "selector": {"matchLabels": lab}}},
        {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": meta("gateway", "gateway", "gateway"),
         "spec": {"podSelector": {"matchLabels": lab}, "policyTypes": ["Ingress", "Egress"],
                  "ingress": [{"ports": [{"protocol": "TCP", "port": 8080}]}],  # from the ingress controller
                  "egress": [{"to": [{"podSelector": {"matchLabels": {**PART_OF, "app.kubernetes.io/component": "api"}}}]},
                             {"to": [{"namespaceSelector": {}, "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
                              "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]}]}},
        {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": meta("cuepoint", "gateway", "gateway"),
         "spec": {"ingressClassName": "nginx",
                  "tls": [{"hosts": ["cuepoint.example.com"], "secretName": "cuepoint-tls"}],
                  "rules": [{"host": "cuepoint.example.com", "http": {"paths": [
                      {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "gateway", "port": {"name": "http"}}}}]}}]}},
    ]


# The target labels alerts.yml groups by (service, process), as make up's scrape configuration sets them.
TARGET_LABELS = [
    {"sourceLabels": ["__meta_kubernetes_pod_label_app_kubernetes_io_name"], "targetLabel": "service"},
    {"sourceLabels": ["__meta_kubernetes_pod_label_app_kubernetes_io_component"], "targetLabel": "process"},
]


def monitoring() -> list[dict[str, Any]]:
    """For the Prometheus Operator: a PodMonitor per service (api, worker and relay pods), the alert and
    recording rules of deploy/prometheus/alerts.yml as a PrometheusRule, and the broker's JMX exporter
    and PostgreSQL's queries as make infra configures them (Strimzi and CloudNativePG read these)."""
    docs: list[dict[str, Any]] = []
    for service in SERVICES:
        docs.append({"apiVersion": "monitoring.coreos.com/v1", "kind": "PodMonitor",
                     "metadata": meta(service, service, "all"),
                     "spec": {"selector": {"matchLabels": {**PART_OF, "app.kubernetes.io/name": service}},
                              "podMetricsEndpoints": [{"port": port, "path": "/metrics", "relabelings": TARGET_LABELS}
                                                      for port in ("http", "metrics")]}})
    rules = yaml.safe_load((ROOT / "deploy/prometheus/alerts.yml").read_text())
    docs.append({"apiVersion": "monitoring.coreos.com/v1", "kind": "PrometheusRule", "metadata": meta("cuepoint"),
                 "spec": {"groups": rules["groups"]}})
    docs.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta("cuepoint-kafka-metrics"),
                 "data": {"jmx-exporter.yaml": (ROOT / "deploy/local/kafka/jmx-exporter.yaml").read_text()}})
    docs.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta("cuepoint-pg-metrics"),
                 "data": {"queries.yaml": (ROOT / "deploy/prometheus/postgres-queries.yaml").read_text()}})
    return docs


def kafka() -> list[dict[str, Any]]:
    cluster = {"strimzi.io/cluster": KAFKA_CLUSTER}
    docs: list[dict[str, Any]] = [
        {"apiVersion": "kafka.strimzi.io/v1beta2", "kind": "KafkaNodePool",
         "metadata": {"name": "dual-role", "labels": {**PART_OF, **cluster}},
         "spec": {"replicas": REPLICATION, "roles": ["controller", "broker"],
                  "storage": {"type": "jbod", "volumes": [{"id": 0, "type": "persistent-claim", "size": "100Gi",
                                                            "deleteClaim": False, "kraftMetadata": "shared"}]},
                  "resources": {"requests": {"cpu": "500m", "memory": "2Gi"}, "limits": {"memory": "2Gi"}}}},
        {"apiVersion": "kafka.strimzi.io/v1beta2", "kind": "Kafka",
         "metadata": {"name": KAFKA_CLUSTER, "labels": dict(PART_OF),
                      "annotations": {"strimzi.io/node-pools": "enabled", "strimzi.io/kraft": "enabled"}},
         "spec": {"kafka": {
             # The version `make infra` runs (deploy/local/kafka/pom.xml).
             "version": "4.2.0", "metadataVersion": "4.2",
             "listeners": [{"name": "plain", "port": 9092, "type": "internal", "tls": False}],
             "config": {"auto.create.topics.enable": False, "default.replication.factor": REPLICATION,
                        "min.insync.replicas": 2, "offsets.topic.replication.factor": REPLICATION,
                        "transaction.state.log.replication.factor": REPLICATION, "transaction.state.log.min.isr": 2},
             # The JMX exporter with make infra's configuration (monitoring.yaml's ConfigMap).
             "metricsConfig": {"type": "jmxPrometheusExporter", "valueFrom": {"configMapKeyRef": {
                 "name": "cuepoint-kafka-metrics", "key": "jmx-exporter.yaml"}}}},
             "entityOperator": {"topicOperator": {}}}},
    ]
    for topic in all_topics():
        docs.append({"apiVersion": "kafka.strimzi.io/v1beta2", "kind": "KafkaTopic",
                     "metadata": {"name": topic.name.replace(".", "-"), "labels": {**PART_OF, **cluster}},
                     "spec": {"topicName": topic.name, "partitions": topic.partitions, "replicas": REPLICATION,
                              "config": topic.config()}})
    return docs


def postgres() -> dict[str, Any]:
    return {"apiVersion": "postgresql.cnpg.io/v1", "kind": "Cluster", "metadata": {"name": PG_CLUSTER, "labels": dict(PART_OF)},
            "spec": {"instances": 3, "imageName": "ghcr.io/cloudnative-pg/postgresql:15",
                     "enableSuperuserAccess": True, "superuserSecret": {"name": "cuepoint-pg-superuser"},
                     "bootstrap": {"initdb": {"database": "cuepoint", "owner": "cuepoint_admin"}},
                     # As make infra runs it (deploy/local/infra.sh): SSD-like costs, checkpoints far apart.
                     "postgresql": {"parameters": {"max_connections": "300", "random_page_cost": "1.1",
                                                   "shared_buffers": "2GB", "effective_cache_size": "8GB",
                                                   "max_wal_size": "8GB", "checkpoint_timeout": "15min",
                                                   "wal_compression": "lz4",
                                                   "pg_stat_statements.max": "5000", "track_io_timing": "on"},
                                    "shared_preload_libraries": ["pg_stat_statements"]},
                     # Its exporter on 9187 with make infra's queries (tables, indexes, pg_stat_statements).
                     "monitoring": {"enablePodMonitor": True, "customQueriesConfigMap": [
                         {"name": "cuepoint-pg-metrics", "key": "queries.yaml"}]},
                     "storage": {"size": "100Gi"},
                     "resources": {"requests": {"cpu": "1", "memory": "8Gi"}, "limits": {"memory": "8Gi"}}}}


def render() -> dict[str, str]:
    files = platform()
    out = {name: "# Generated by deploy/k8s/generate.py: edit that, not this.\n"
                 + yaml.safe_dump_all(docs, sort_keys=False, width=120) for name, docs in files.items()}
    out["kustomization.yaml"] = ("# Generated by deploy/k8s/generate.py: edit that, not this.\n"
                                 + yaml.safe_dump({"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
                                                   "resources": sorted(files)}, sort_keys=False))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when base/ is not what this writes")
    args = parser.parse_args()
    wanted = render()
    if args.check:
        stale = [name for name, text in wanted.items() if not (BASE / name).exists() or (BASE / name).read_text() != text]
        extra = [p.name for p in BASE.glob("*.yaml") if p.name not in wanted]
        if stale or extra:
            print(f"deploy/k8s/base is stale ({', '.join(stale + extra)}): run .venv/bin/python deploy/k8s/generate.py")
            return 1
        return 0
    BASE.mkdir(exist_ok=True)
    for old in BASE.glob("*.yaml"):
        if old.name not in wanted:
            old.unlink()
    for name, text in wanted.items():
        (BASE / name).write_text(text)
    print(f"wrote {len(wanted)} files in {BASE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""What `make infra` exports for Prometheus beside the platform's own metrics, read off the real
endpoints: the broker's (the JMX exporter agent on Kafka) and PostgreSQL's (Debian's
prometheus-postgres-exporter with deploy/prometheus/postgres-queries.yaml): table and index
statistics of every service's schema, and the statements the services ran, from pg_stat_statements."""

from __future__ import annotations

import os
import re

import httpx
import psycopg
import pytest

from tests.support.platform import Infra, eventually

pytestmark = pytest.mark.integration

KAFKA_METRICS = f"http://127.0.0.1:{os.environ.get('CUEPOINT_KAFKA_METRICS_PORT', '9404')}/metrics"
PG_METRICS = f"http://127.0.0.1:{os.environ.get('CUEPOINT_PG_METRICS_PORT', '9187')}/metrics"
SERVICES = ("identity", "content", "assessment", "progress", "analytics")


def _samples(text: str, metric: str) -> list[tuple[dict[str, str], float]]:
    found = []
    for line in text.splitlines():
        if line.startswith(metric + "{") or line.startswith(metric + " "):
            labels = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', line.split("}")[0])) if "{" in line else {}
            found.append((labels, float(line.rsplit(" ", 1)[1])))
    return found


def _value(text: str, metric: str, **labels: str) -> float | None:
    for found, value in _samples(text, metric):
        if all(found.get(k) == v for k, v in labels.items()):
            return value
    return None


async def test_the_broker_exports_its_replicas_controller_and_throughput(infra: Infra) -> None:
    if infra.kind != "local":  # pragma: no cover - the containers' broker has no agent
        pytest.skip("the JMX exporter agent is started by deploy/local/infra.sh")
    async with httpx.AsyncClient(timeout=10) as client:
        try:
            text = (await client.get(KAFKA_METRICS)).text
        except httpx.ConnectError as error:
            raise AssertionError(f"nothing answers {KAFKA_METRICS}: a broker started before infra.sh had its agent "
                                 "has none (deploy/local/infra.sh kafka-stop; make infra)") from error
    assert _value(text, "kafka_controller_kafkacontroller_value", name="ActiveControllerCount") == 1
    assert _value(text, "kafka_controller_kafkacontroller_value", name="OfflinePartitionsCount") == 0
    assert (_value(text, "kafka_server_replicamanager_value", name="PartitionCount") or 0) > 0
    assert _value(text, "kafka_server_replicamanager_value", name="UnderReplicatedPartitions") is not None
    assert _value(text, "kafka_server_brokertopicmetrics_count", name="MessagesInPerSec") is not None
    assert _samples(text, "jvm_memory_used_bytes"), "the JVM's own metrics"
    from tests.deploy.test_grafana_dashboards import exprs, metric_names

    exported = {line.split("{")[0].split(" ")[0] for line in text.splitlines() if line and not line.startswith("#")}
    named = {n for e in exprs() for n in metric_names(e) if n.startswith(("kafka_", "jvm_"))}
    assert named and named <= exported, f"dashboards name broker metrics the agent does not export: {named - exported}"
    # Whole-broker figures only: a series per topic would grow with every topic a test makes.
    assert not any("topic" in labels for labels, _ in _samples(text, "kafka_server_brokertopicmetrics_count"))


async def test_postgres_exports_each_schemas_tables_indexes_and_the_services_statements(infra: Infra) -> None:
    if infra.kind != "local":  # pragma: no cover
        pytest.skip("prometheus-postgres-exporter is started by deploy/local/infra.sh")
    # The exporter reads the platform's database (make infra's: cuepoint), migrated here as `make up`
    # would (to head: a no-op where the platform runs); its statement statistics are the cluster's.
    import importlib

    from cuepoint.runtime.db import libpq_dsn
    from cuepoint.runtime.migrations import upgrade

    for service in SERVICES:
        spec = importlib.import_module(f"cuepoint.{service}.bootstrap").spec()
        upgrade(spec.migrations, schema=service, url=infra.settings(service, pg_database="cuepoint").owner_database_url)
    with psycopg.connect(infra.admin_database_url("cuepoint"), autocommit=True) as admin:
        admin.execute("SELECT pg_stat_statements_reset()")
    marker = f"metrics_probe_{os.getpid()}"
    with psycopg.connect(libpq_dsn(infra.settings("content", pg_database="cuepoint").runtime_database_url)) as connection:
        for _ in range(3):
            connection.execute(f"SELECT count(*) AS {marker} FROM content.lessons")

    scraped: list[str] = []

    async def probe_is_exported() -> bool:
        async with httpx.AsyncClient(timeout=30) as client:
            text = (await client.get(PG_METRICS)).text
        scraped[:] = [text]
        return any(marker in labels.get("query", "") for labels, _ in _samples(text, "pg_stat_statements_calls"))

    await eventually(probe_is_exported, timeout=60, message="the probe statement never showed in pg_stat_statements_calls")
    text = scraped[0]
    assert _value(text, "pg_up") == 1
    calls = [(labels, value) for labels, value in _samples(text, "pg_stat_statements_calls") if marker in labels["query"]]
    assert calls[0][0]["rolname"] == "cuepoint_content" and calls[0][1] == 3
    tables = {(labels["schemaname"], labels["relname"]) for labels, _ in _samples(text, "pg_stat_user_tables_n_live_tup")}
    for service in SERVICES:
        assert (service, "outbox") in tables, f"no statistics of {service}.outbox"
    assert ("content", "lessons") in tables
    indexes = {labels["indexrelname"] for labels, _ in _samples(text, "pg_stat_user_indexes_idx_scan")}
    assert "outbox_unpublished" in indexes

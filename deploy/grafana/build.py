"""Writes Cuepoint's Grafana dashboards (deploy/grafana/*.json) from the panels listed here: one per
service and one for the event backbone, on a Prometheus data source chosen when imported
(``${datasource}``). Generated, so every dashboard has the same layout and a panel is added in one
place; tests/deploy/test_grafana_dashboards.py checks that the committed files are this script's
output and that every query is valid PromQL over metrics something exports.

    .venv/bin/python deploy/grafana/build.py        rewrite the JSON files
"""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
SERVICES = ("identity", "content", "assessment", "progress", "analytics")
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}


def panel(title: str, exprs: list[tuple[str, str]], *, unit: str = "short", kind: str = "timeseries",
          description: str = "") -> dict:
    return {"title": title, "type": kind, "description": description, "datasource": DATASOURCE,
            "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
            "targets": [{"refId": chr(ord("A") + i), "expr": expr, "legendFormat": legend, "datasource": DATASOURCE}
                        for i, (expr, legend) in enumerate(exprs)]}


def dashboard(uid: str, title: str, description: str, rows: list[tuple[str, list[dict]]]) -> dict:
    panels, y, ident = [], 0, 1
    for row_title, row_panels in rows:
        panels.append({"type": "row", "title": row_title, "id": ident, "collapsed": False,
                       "gridPos": {"h": 1, "w": 24, "x": 0, "y": y}, "panels": []})
        ident, y = ident + 1, y + 1
        width = 24 // max(1, min(3, len(row_panels)))
        for i, p in enumerate(row_panels):
            panels.append({**p, "id": ident, "gridPos": {"h": 8, "w": width, "x": (i % 3) * width, "y": y + 8 * (i // 3)}})
            ident += 1
        y += 8 * ((len(row_panels) + 2) // 3)
    return {
        "uid": uid, "title": title, "description": description, "tags": ["cuepoint"], "editable": True,
        "schemaVersion": 39, "version": 1, "time": {"from": "now-6h", "to": "now"}, "refresh": "30s",
        "templating": {"list": [{"name": "datasource", "type": "datasource", "query": "prometheus",
                                 "label": "Prometheus"}]},
        "annotations": {"list": []}, "panels": panels,
    }


def service_dashboard(service: str) -> dict:
    s = f'service="{service}"'
    http = [
        panel("Requests per second by status", [(f'sum by (status) (rate(cuepoint_http_requests_total{{{s}}}[5m]))',
                                                  "{{status}}")], unit="reqps"),
        panel("5xx ratio", [(f'cuepoint:http_5xx:ratio5m{{{s}}}', "5xx")], unit="percentunit",
              description="The CuepointHigh5xxRate alert fires above 1 % for 5 minutes."),
        panel("p99 latency by route", [(
            f'histogram_quantile(0.99, sum by (route, le) (rate(cuepoint_http_request_duration_seconds_bucket{{{s}}}[5m])))',
            "{{route}}")], unit="s"),
    ]
    events = [
        panel("Events handled by group and outcome", [(
            f'sum by (group, outcome) (rate(cuepoint_consumer_events_total{{{s}}}[5m]))', "{{group}} {{outcome}}")],
            unit="ops"),
        panel("Consumer lag by group", [(f'max by (group) (cuepoint_consumer_lag{{{s}}})', "{{group}}")],
              description="End offset minus committed offset; read by the relay, so it shows while the worker is down."),
        panel("Handling latency p99", [(
            f'histogram_quantile(0.99, sum by (group, kind, le) (rate(cuepoint_consumer_handle_duration_seconds_bucket{{{s}}}[5m])))',
            "{{group}} {{kind}}")], unit="s"),
        panel("Outbox backlog and oldest event", [(f'max(cuepoint_outbox_backlog{{{s}}})', "unpublished rows"),
                                                 (f'max(cuepoint_outbox_oldest_unpublished_age_seconds{{{s}}})',
                                                  "oldest (s)")]),
        panel("Relay leader", [(f'max(cuepoint_relay_leader{{{s}}})', "leader held")], kind="stat"),
        panel("Halted consumers", [(f'max by (group) (cuepoint_consumer_halted{{{s}}})', "{{group}}")], kind="stat"),
    ]
    database = [
        panel("Pool in use, size and waiting", [
            (f'sum by (pool) (cuepoint_db_pool_in_use{{{s}}})', "{{pool}} in use"),
            (f'sum by (pool) (cuepoint_db_pool_size{{{s}}})', "{{pool}} size"),
            (f'sum by (pool) (cuepoint_db_pool_waiting{{{s}}})', "{{pool}} waiting")]),
        panel("Named statements p99", [(
            f'histogram_quantile(0.99, sum by (statement, le) (rate(cuepoint_db_statement_duration_seconds_bucket{{{s}}}[5m])))',
            "{{statement}}")], unit="s"),
        panel("Slowest statements (mean)", [(
            f'topk(10, max by (query) (pg_stat_statements_mean_seconds{{rolname="cuepoint_{service}"}}))', "{{query}}")],
            unit="s", kind="table"),
        panel("Rows by table", [(f'max by (relname) (pg_stat_user_tables_n_live_tup{{schemaname="{service}"}})',
                                 "{{relname}}")]),
        panel("Sequential vs index scans", [
            (f'sum by (relname) (rate(pg_stat_user_tables_seq_scan{{schemaname="{service}"}}[5m]))', "{{relname}} seq"),
            (f'sum by (relname) (rate(pg_stat_user_tables_idx_scan{{schemaname="{service}"}}[5m]))', "{{relname}} index")],
            unit="ops"),
        panel("Indexes never scanned", [(
            f'max by (relname, indexrelname) (pg_stat_user_indexes_idx_scan{{schemaname="{service}"}}) == 0',
            "{{relname}}.{{indexrelname}}")], kind="table"),
    ]
    rows = [("HTTP", http), ("Events", events), ("Database", database)]
    if service == "assessment":
        rows.insert(2, ("AI and generation", ai_panels(s)))
    return dashboard(f"cuepoint-{service}", f"Cuepoint — {service}",
                     f"The {service} service: its API, its consumers and relay, its database schema.", rows)


def ai_panels(s: str) -> list[dict]:
    """Assessment's provider requests (its worker's runner and its API's connection tests) and its queue."""
    return [
        panel("AI requests by provider, type and outcome", [(
            f'sum by (provider, request_type, outcome) (rate(cuepoint_ai_requests_total{{{s}}}[5m]))',
            "{{provider}} {{request_type}} {{outcome}}")], unit="reqps"),
        panel("AI generation error ratio", [('cuepoint:ai_errors:ratio5m', "{{provider}}")], unit="percentunit",
              description="CuepointAiErrorRateHigh fires above 20 % for 10 minutes (with at least 5 requests in 5 minutes)."),
        panel("AI request latency p50 and p99", [
            (f'histogram_quantile(0.5, sum by (provider, le) (rate(cuepoint_ai_request_duration_seconds_bucket{{{s}}}[5m])))',
             "{{provider}} p50"),
            (f'histogram_quantile(0.99, sum by (provider, le) (rate(cuepoint_ai_request_duration_seconds_bucket{{{s}}}[5m])))',
             "{{provider}} p99")], unit="s"),
        panel("Tokens per minute", [(
            f'60 * sum by (provider, direction) (rate(cuepoint_ai_tokens_total{{{s}}}[5m]))', "{{provider}} {{direction}}")]),
        panel("AI spend per hour (USD)", [(
            f'sum by (provider) (increase(cuepoint_ai_cost_usd_total{{{s}}}[1h]))', "{{provider}}")], unit="currencyUSD"),
        panel("Generation queue by state", [(
            f'max by (provider, state) (cuepoint_generation_queue_jobs{{{s}}})', "{{provider}} {{state}}")],
            description="Every tenant's queue, sampled by each runner: waiting (due), running (leased), deferred (backing off)."),
        panel("Oldest waiting generation job", [(
            f'max by (provider) (cuepoint_generation_queue_oldest_waiting_age_seconds{{{s}}})', "{{provider}}")],
            unit="s", description="CuepointGenerationQueueStale fires above 10 minutes."),
    ]


def backbone_dashboard() -> dict:
    kafka = [
        panel("Messages in per second", [(
            'sum(rate(kafka_server_brokertopicmetrics_count{name="MessagesInPerSec"}[5m]))', "messages/s")], unit="ops"),
        panel("Bytes in and out", [
            ('sum(rate(kafka_server_brokertopicmetrics_count{name="BytesInPerSec"}[5m]))', "in"),
            ('sum(rate(kafka_server_brokertopicmetrics_count{name="BytesOutPerSec"}[5m]))', "out")], unit="Bps"),
        panel("Partitions offline and under-replicated", [
            ('max(kafka_controller_kafkacontroller_value{name="OfflinePartitionsCount"})', "offline"),
            ('sum(kafka_server_replicamanager_value{name="UnderReplicatedPartitions"})', "under-replicated"),
            ('sum(kafka_controller_kafkacontroller_value{name="ActiveControllerCount"})', "active controllers")]),
        panel("Produce and fetch latency p99", [(
            'max by (request) (kafka_network_requestmetrics_99thpercentile{name="TotalTimeMs"})', "{{request}}")],
            unit="ms"),
        panel("Request handlers idle", [(
            'min(kafka_server_kafkarequesthandlerpool_oneminuterate{name="RequestHandlerAvgIdlePercent"})', "idle")],
            unit="percentunit"),
        panel("Broker heap", [('sum by (process) (jvm_memory_used_bytes{job="kafka",area="heap"})', "{{process}}")],
              unit="bytes"),
    ]
    flow = [
        panel("Consumer lag, every group", [('cuepoint:consumer_lag:sum', "{{group}}")],
              description="CuepointConsumerLagGrowing fires when a group's lag has grown for 5 minutes."),
        panel("Events published by service", [('sum by (service) (rate(cuepoint_outbox_published_total[5m]))',
                                               "{{service}}")], unit="ops"),
        panel("Outbox age by service", [('max by (service) (cuepoint_outbox_oldest_unpublished_age_seconds)',
                                         "{{service}}")], unit="s"),
        panel("Dead letters by group", [(
            'sum by (group) (increase(cuepoint_consumer_events_total{outcome="dead-lettered"}[10m]))', "{{group}}")]),
        panel("Unknown event types by group", [(
            'sum by (group, event_type) (increase(cuepoint_consumer_unknown_event_types_total[1h]))',
            "{{group}} {{event_type}}")]),
        panel("Publish latency p99", [(
            'histogram_quantile(0.99, sum by (service, le) (rate(cuepoint_outbox_publish_duration_seconds_bucket[5m])))',
            "{{service}}")], unit="s"),
    ]
    health = [
        panel("Targets up", [('sum by (job, service, process) (up)', "{{job}} {{service}} {{process}}")], kind="table"),
        panel("Firing alerts", [('sum by (alertname, severity) (ALERTS{alertstate="firing"})', "{{alertname}}")],
              kind="table"),
    ]
    return dashboard("cuepoint-backbone", "Cuepoint — event backbone",
                     "Kafka, the outboxes and every consumer group: where an event-driven system breaks quietly.",
                     [("Kafka", kafka), ("Events between services", flow), ("Health", health)])


def dashboards() -> dict[str, dict]:
    found = {f"{service}.json": service_dashboard(service) for service in SERVICES}
    found["backbone.json"] = backbone_dashboard()
    return found


def main() -> None:
    for name, board in dashboards().items():
        (HERE / name).write_text(json.dumps(board, indent=2) + "\n")
        print(f"wrote deploy/grafana/{name}: {sum(1 for p in board['panels'] if p['type'] != 'row')} panels")


if __name__ == "__main__":
    main()

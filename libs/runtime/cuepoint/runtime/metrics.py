"""Every Prometheus metric of Cuepoint, in one place: what a process exports is read here.

APIs serve them on ``/metrics`` of their HTTP port (never through the gateway); workers and
relays, which have no HTTP API, on a port of their own (``CUEPOINT_METRICS_PORT``, see
:func:`metrics_port`). Labels are bounded: a route template, never a path; a consumer group,
a topic and a partition, never an event id.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from prometheus_client import Counter, Gauge, Histogram, start_http_server

log = logging.getLogger(__name__)

# --- HTTP (APIs) ---------------------------------------------------------------------------------
HTTP_REQUESTS = Counter("cuepoint_http_requests_total", "HTTP requests", ["method", "route", "status"])
HTTP_LATENCY = Histogram(
    "cuepoint_http_request_duration_seconds", "HTTP request latency", ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)

# --- consumers (workers) -------------------------------------------------------------------------
CONSUMER_EVENTS = Counter(
    "cuepoint_consumer_events_total",
    "Events by consumer group and outcome: processed (applied), duplicate (already in the inbox), skipped "
    "(a type the group does not handle), unknown-type (no contract knows it), dead-lettered, retried "
    "(one failed attempt, retried)",
    ["group", "outcome"])
CONSUMER_HALTED = Gauge("cuepoint_consumer_halted",
                        "1 when a consumer group stopped itself after too many dead letters in a row (a bad deploy, "
                        "not bad events): it resumes from the event it stopped at when the process restarts", ["group"])
UNKNOWN_TYPES = Counter("cuepoint_consumer_unknown_event_types_total",
                        "Events skipped because no contract of this version knows their type", ["group", "event_type"])
CONSUMER_LATENCY = Histogram(
    "cuepoint_consumer_handle_duration_seconds",
    "Time to handle one delivery, retries included: an event (kind=event) or a polled batch (kind=batch)",
    ["group", "kind"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
CONSUMER_LAG = Gauge(
    "cuepoint_consumer_lag",
    "Records of a partition not yet committed by the consumer group (end offset minus committed offset), "
    "sampled by the service's relay, so a stopped worker's lag is still seen",
    ["group", "topic", "partition"])
CONSUMER_LAG_SAMPLED = Gauge("cuepoint_consumer_lag_sampled_timestamp_seconds",
                             "When the consumer lag of this service's groups was last read from Kafka", ["service"])

# --- outbox relays -------------------------------------------------------------------------------
OUTBOX_PUBLISHED = Counter("cuepoint_outbox_published_total", "Events the relay published", ["service"])
OUTBOX_PUBLISH_FAILURES = Counter("cuepoint_outbox_publish_failures_total", "Failed publish rounds", ["service"])
OUTBOX_BACKLOG = Gauge("cuepoint_outbox_backlog", "Unpublished outbox rows", ["service"])
OUTBOX_OLDEST_AGE = Gauge("cuepoint_outbox_oldest_unpublished_age_seconds",
                          "Age of the oldest unpublished outbox row (0 when none)", ["service"])
OUTBOX_PUBLISH_LATENCY = Histogram(
    "cuepoint_outbox_publish_duration_seconds", "Time from sending a batch to the broker's acknowledgement",
    ["service"], buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
RELAY_LEADER = Gauge("cuepoint_relay_leader", "1 while this relay holds its schema's leader lock", ["service"])

# --- service specifics ---------------------------------------------------------------------------
CONFIG_RECORDS_REJECTED = Counter("cuepoint_system_config_records_rejected_total",
                                  "System-config records skipped because this process cannot use them", ["key"])
TELEMETRY_DROPPED = Counter("cuepoint_progress_telemetry_dropped_total", "Client events not projected, by reason",
                            ["reason"])
TELEMETRY_FLAGGED = Counter("cuepoint_progress_telemetry_flagged_total", "Client events clamped or cut, by reason",
                            ["reason"])

# --- AI providers and the generation queue (assessment) ------------------------------------------
# provider: a configuration's provider (OPENAI, OFFLINE: a CHECK constraint keeps it to those);
# request_type: QUESTION_GENERATION (a job's draft of one milestone) or CONNECTION_TEST (an admin's test);
# outcome: success or error (refused, rate limited, timed out, unreachable, output that does not validate).
AI_REQUESTS = Counter("cuepoint_ai_requests_total",
                      "Requests to AI providers, failed ones included (one per try: a retried draft counts each try)",
                      ["provider", "request_type", "outcome"])
AI_TOKENS = Counter("cuepoint_ai_tokens_total",
                    "Tokens the providers reported (billed) for those requests: direction=input (prompt) or output",
                    ["provider", "direction"])
AI_COST = Counter("cuepoint_ai_cost_usd_total",
                  "What those requests cost, in USD, at their configuration's prices (as in ai_usage_logs)",
                  ["provider"])
AI_REQUEST_DURATION = Histogram(
    "cuepoint_ai_request_duration_seconds", "Time from sending a provider request to its answer (or failure)",
    ["provider", "outcome"], buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120),
)
# Sampled by each generation runner (assessment's worker) from generation_queue_stats(): every tenant's
# queue, counts only. Every replica samples the same queue: aggregate with max, not sum.
GENERATION_QUEUE_JOBS = Gauge(
    "cuepoint_generation_queue_jobs",
    "Jobs in the generation queue by provider and state: waiting (due, no runner holds it), running (a runner "
    "holds its lease), deferred (backing off after a failed run, due later)", ["provider", "state"])
GENERATION_QUEUE_OLDEST_WAITING_AGE = Gauge(
    "cuepoint_generation_queue_oldest_waiting_age_seconds",
    "How long the longest-waiting due job has waited for a runner (0 when none waits)", ["provider"])
# Labelled by service, as every gauge only one service sets: an unlabelled one would read 0 on every
# process's /metrics (this module is every process's), which says something false.
GENERATION_QUEUE_SAMPLED = Gauge("cuepoint_generation_queue_sampled_timestamp_seconds",
                                 "When this runner last read the generation queue's figures", ["service"])
GENERATION_QUEUE_STATES = ("waiting", "running", "deferred")


def observe_ai_request(*, provider: str, request_type: str, ok: bool, tokens_in: int, tokens_out: int,
                       cost: float, seconds: float) -> None:
    """One provider request: counted, its tokens and cost added, its duration observed."""
    outcome = "success" if ok else "error"
    AI_REQUESTS.labels(provider, request_type, outcome).inc()
    AI_TOKENS.labels(provider, "input").inc(max(0, tokens_in))
    AI_TOKENS.labels(provider, "output").inc(max(0, tokens_out))
    AI_COST.labels(provider).inc(max(0.0, cost))
    AI_REQUEST_DURATION.labels(provider, outcome).observe(max(0.0, seconds))


def set_generation_queue(rows: list[tuple[str, int, int, int, float]], *, providers: tuple[str, ...] = ()) -> None:
    """The queue's figures, one row per provider with jobs (provider, waiting, running, deferred, oldest waiting
    age in seconds). ``providers`` and every provider reported before read 0 when absent from ``rows``: an
    emptied queue reads 0, not its last value."""
    figures = {provider: (waiting, running, deferred, oldest) for provider, waiting, running, deferred, oldest in rows}
    _queue_providers.update(providers, figures)
    for provider in _queue_providers:
        waiting, running, deferred, oldest = figures.get(provider, (0, 0, 0, 0.0))
        for state, count in zip(GENERATION_QUEUE_STATES, (waiting, running, deferred), strict=True):
            GENERATION_QUEUE_JOBS.labels(provider, state).set(count)
        GENERATION_QUEUE_OLDEST_WAITING_AGE.labels(provider).set(oldest)
    GENERATION_QUEUE_SAMPLED.labels("assessment").set_to_current_time()


_queue_providers: set[str] = set()


# Default metrics ports of the processes without an HTTP API: 91<service><process>; a worker's
# replicas beyond the first are given theirs by whoever starts them (services.sh: 91x2, 91x3 …).
SERVICE_DIGIT = {"identity": 1, "content": 2, "assessment": 3, "progress": 4, "analytics": 5}
PROCESS_DIGIT = {"worker": 1, "relay": 9}


def metrics_port(service: str, process: str, configured: int | None) -> int:
    """The port a worker or relay serves ``/metrics`` on: the configured one (0: any free port),
    else 9100 + 10 × the service's digit + the process's (identity's worker 9111, its relay 9119)."""
    if configured is not None:
        return configured
    return 9100 + 10 * SERVICE_DIGIT.get(service, 0) + PROCESS_DIGIT[process]


def serve_metrics(host: str, port: int) -> int:
    """Serves the process's metrics on ``http://host:port/metrics`` (a daemon thread); returns the port."""
    try:
        server, _thread = start_http_server(port, addr=host)
    except OSError as error:  # taken (a second replica started without its own port): measured all the same
        log.error("metrics port taken, serving on a free one instead", extra={"metrics_port": port, "error": str(error)})
        server, _thread = start_http_server(0, addr=host)
    bound = server.server_address[1]
    log.info("metrics served", extra={"metrics_port": bound})
    return bound

# --- analytics' read replica (analytics' API: replica.py) -----------------------------------------
READ_REPLICA_LAG = Gauge("cuepoint_analytics_read_replica_lag_seconds",
                         "How far analytics' read replica is behind the primary, in seconds of replayed transactions "
                         "(0 when it has replayed all it received), as last seen by a read or /readyz", ["service"])
READ_REPLICA_UP = Gauge("cuepoint_analytics_read_replica_up",
                        "1 while analytics reads from its replica, 0 while the replica does not answer and reads go "
                        "to the primary", ["service"])
READS_BY_SOURCE = Counter("cuepoint_analytics_reads_total", "Dashboard and export transactions, by where they read",
                          ["source"])

# --- database pools (every process) --------------------------------------------------------------
# pool: the connection's application_name ("cuepoint-content"; "cuepoint-content-reads" for the hot-path pool).
DB_POOL_SIZE = Gauge("cuepoint_db_pool_size", "Connections the pool keeps (its size; it may overflow beyond)", ["pool"])
DB_POOL_IN_USE = Gauge("cuepoint_db_pool_in_use", "Connections checked out of the pool", ["pool"])
DB_POOL_WAITING = Gauge("cuepoint_db_pool_waiting", "Requests waiting for a connection of the pool", ["pool"])
DB_POOL_WAIT = Histogram(
    "cuepoint_db_pool_wait_seconds", "Time to obtain a connection from the pool (a new connection's set-up included)",
    ["pool"], buckets=(0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30),
)


# statement: a name the code gives a statement it wants measured (the seed's key queries, the hot paths):
# a fixed set in code, so the label stays small. Unnamed statements are pg_stat_statements' to measure.
DB_STATEMENT_DURATION = Histogram(
    "cuepoint_db_statement_duration_seconds", "Time to execute a named statement, by name",
    ["statement"], buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


def watch_sqlalchemy_statements(engine: Any) -> None:
    """Times each statement executed with ``execution_options(statement_name=…)`` on this engine."""
    from sqlalchemy import event

    sync_engine = getattr(engine, "sync_engine", engine)

    @event.listens_for(sync_engine, "before_cursor_execute")
    def started(conn: Any, cursor: Any, statement: Any, parameters: Any, context: Any, executemany: bool) -> None:
        if context is not None and context.execution_options.get("statement_name"):
            context._cuepoint_started = time.perf_counter()

    @event.listens_for(sync_engine, "after_cursor_execute")
    def finished(conn: Any, cursor: Any, statement: Any, parameters: Any, context: Any, executemany: bool) -> None:
        began = getattr(context, "_cuepoint_started", None)
        if began is not None:
            DB_STATEMENT_DURATION.labels(context.execution_options["statement_name"]).observe(time.perf_counter() - began)


@contextmanager
def timed_statement(name: str) -> Iterator[None]:
    """Times a named statement run outside SQLAlchemy (plain psycopg: the ReadPool's hot paths)."""
    began = time.perf_counter()
    try:
        yield
    finally:
        DB_STATEMENT_DURATION.labels(name).observe(time.perf_counter() - began)


def watch_sqlalchemy_pool(name: str, engine: Any) -> None:
    """An engine's pool gauges, read at each scrape (from ``engine.pool``: disposing replaces it)."""
    DB_POOL_SIZE.labels(name).set_function(lambda: engine.pool.size())
    DB_POOL_IN_USE.labels(name).set_function(lambda: engine.pool.checkedout())
    DB_POOL_WAITING.labels(name).set_function(lambda: getattr(engine.pool, "waiting", 0))


def watch_psycopg_pool(name: str, pool: Any) -> None:
    """A psycopg_pool's gauges read at each scrape (its own statistics)."""
    DB_POOL_SIZE.labels(name).set_function(lambda: pool.max_size)
    DB_POOL_IN_USE.labels(name).set_function(
        lambda: (stats := pool.get_stats())["pool_size"] - stats["pool_available"])
    DB_POOL_WAITING.labels(name).set_function(lambda: pool.get_stats()["requests_waiting"])

"""The real Prometheus (Debian's, as `make up` starts it) with the platform's rules scrapes an api,
a worker and a relay (run_worker and run_relay themselves) healthy, and reads their numbers."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest
import uvicorn
import yaml

from cuepoint.runtime.service import ServiceContext, build_app, run_relay, run_worker
from tests.support.platform import Infra, eventually

from .test_metrics import free_port, running, sink_spec

pytestmark = pytest.mark.integration

ALERTS = Path(__file__).resolve().parents[4] / "deploy" / "prometheus" / "alerts.yml"


async def test_prometheus_scrapes_api_worker_and_relay_healthy(infra: Infra, probe_schemas: tuple[str, str],
                                                                topic_prefix: str, tmp_path: Path) -> None:
    prometheus = shutil.which("prometheus")
    assert prometheus, "prometheus is missing: `make infra` installs Debian's prometheus package"
    _, sink = probe_schemas
    api_port, worker_port, relay_port, prometheus_port = (free_port() for _ in range(4))
    worker_settings = infra.settings(sink, topic_prefix=topic_prefix, metrics_port=worker_port)
    relay_settings = infra.settings(sink, topic_prefix=topic_prefix, metrics_port=relay_port,
                                    metrics_sample_interval=0.5)
    spec = sink_spec(worker_settings, f"{sink}.scraped", f"{topic_prefix}content.events")
    targets = {"api": api_port, "worker": worker_port, "relay": relay_port}
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(ALERTS)],
        "scrape_configs": [{"job_name": "cuepoint", "honor_labels": True, "static_configs": [
            {"targets": [f"127.0.0.1:{port}"], "labels": {"service": sink, "process": process}}
            for process, port in targets.items()]}],
    }
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    api = uvicorn.Server(uvicorn.Config(build_app(spec, ServiceContext(sink, worker_settings)), host="127.0.0.1",
                                        port=api_port, log_config=None, access_log=False))
    api_task = asyncio.create_task(api.serve())
    server = subprocess.Popen([prometheus, f"--config.file={tmp_path / 'prometheus.yml'}",
                               f"--storage.tsdb.path={tmp_path / 'data'}",
                               f"--web.listen-address=127.0.0.1:{prometheus_port}"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{prometheus_port}"
    try:
        async with running(run_relay, spec, relay_settings), running(run_worker, spec, worker_settings), \
                httpx.AsyncClient(base_url=base, timeout=5) as client:

            async def all_up() -> bool:
                try:
                    active = (await client.get("/api/v1/targets")).json()["data"]["activeTargets"]
                except (httpx.HTTPError, ValueError):  # not listening yet, or still starting (not JSON)
                    return False
                return len(active) == 3 and all(target["health"] == "up" for target in active)

            await eventually(all_up, timeout=60, message="every target scraped healthy")
            groups = (await client.get("/api/v1/rules")).json()["data"]["groups"]
            rules = [rule for group in groups for rule in group["rules"]]
            assert len(rules) >= 13 and all(rule["health"] == "ok" for rule in rules if "health" in rule)

            async def leader_seen() -> bool:
                query = f'cuepoint_relay_leader{{service="{sink}",process="relay"}}'
                result = (await client.get("/api/v1/query", params={"query": query})).json()["data"]["result"]
                return bool(result) and result[0]["value"][1] == "1"

            await eventually(leader_seen, timeout=60, message="Prometheus reads the relay's leader status")
            answered = (await client.get("/api/v1/query", params={"query": "up"})).json()["data"]["result"]
            assert {sample["metric"]["process"] for sample in answered if sample["value"][1] == "1"} == set(targets)
    finally:
        server.terminate()
        server.wait(timeout=30)
        api.should_exit = True
        await api_task


def scaled_rules(seconds_per_minute: int) -> dict:
    """alerts.yml with every duration (``for:``, ranges ``[5m]``) scaled from minutes to seconds, so a
    test sees in seconds what the rules do in minutes: the same expressions, on a faster clock."""
    import re

    text = ALERTS.read_text()
    text = re.sub(r"\[(\d+)m\]", lambda m: f"[{int(m.group(1)) * seconds_per_minute}s]", text)
    text = re.sub(r"for: (\d+)m", lambda m: f"for: {int(m.group(1)) * seconds_per_minute}s", text)
    return yaml.safe_load(text)


async def test_prometheus_fires_the_lag_alert_while_a_worker_is_stopped_and_clears_it_after(
        infra: Infra, probe_schemas: tuple[str, str], topic_prefix: str, tmp_path: Path) -> None:
    """The real server and the real rules (5 minutes scaled to 10 s): a worker stopped while events
    keep coming raises CuepointConsumerLagGrowing for its group; started again, the lag falls to 0
    and the alert resolves."""
    import uuid

    from .test_metrics import produce

    prometheus = shutil.which("prometheus")
    assert prometheus, "prometheus is missing: `make infra` installs Debian's prometheus package"
    _, sink = probe_schemas
    group, topic = f"{sink}.alerted-{uuid.uuid4().hex[:6]}", f"{topic_prefix}content.events"
    relay_port, prometheus_port = free_port(), free_port()
    worker_settings = infra.settings(sink, topic_prefix=topic_prefix, metrics_port=free_port())
    relay_settings = infra.settings(sink, topic_prefix=topic_prefix, metrics_port=relay_port,
                                    metrics_sample_interval=0.5)
    spec = sink_spec(worker_settings, group, topic)
    (tmp_path / "alerts.yml").write_text(yaml.safe_dump(scaled_rules(2)))
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump({
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(tmp_path / "alerts.yml")],
        "scrape_configs": [{"job_name": "cuepoint", "honor_labels": True, "static_configs": [
            {"targets": [f"127.0.0.1:{relay_port}"], "labels": {"service": sink, "process": "relay"}}]}],
    }))
    server = subprocess.Popen([prometheus, f"--config.file={tmp_path / 'prometheus.yml'}",
                               f"--storage.tsdb.path={tmp_path / 'data'}",
                               f"--web.listen-address=127.0.0.1:{prometheus_port}"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    keep_producing = True

    async def trickle() -> None:  # events keep arriving while the worker is down: the lag keeps growing
        while keep_producing:
            await produce(infra.bootstrap_servers, topic, 2)
            await asyncio.sleep(1)

    try:
        async with running(run_relay, spec, relay_settings), \
                httpx.AsyncClient(base_url=f"http://127.0.0.1:{prometheus_port}", timeout=5) as client:

            async def alert_state() -> str | None:
                try:
                    alerts = (await client.get("/api/v1/alerts")).json()["data"]["alerts"]
                except httpx.HTTPError:
                    return None
                mine = [a for a in alerts if a["labels"].get("alertname") == "CuepointConsumerLagGrowing"
                        and a["labels"].get("group") == group]
                return mine[0]["state"] if mine else "inactive"

            async with running(run_worker, spec, worker_settings):
                await produce(infra.bootstrap_servers, topic, 1)  # the group exists and has committed
                await asyncio.sleep(3)
            producing = asyncio.create_task(trickle())
            try:
                await eventually(lambda: _is(alert_state, "firing"), timeout=90, interval=1,
                                 message="CuepointConsumerLagGrowing never fired for the stopped worker's group")
            finally:
                keep_producing = False
                await producing
            async with running(run_worker, spec, worker_settings.model_copy(update={"metrics_port": free_port()})):
                await eventually(lambda: _is(alert_state, "inactive"), timeout=90, interval=1,
                                 message="the alert did not resolve once the worker caught up")
    finally:
        server.terminate()
        server.wait(timeout=30)


async def _is(read, expected: str) -> bool:
    return (await read()) == expected

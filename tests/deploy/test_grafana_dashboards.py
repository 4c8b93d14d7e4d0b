"""The Grafana dashboards of deploy/grafana/ are build.py's output, every query in them is valid
PromQL (promtool, as a recording rule), and every metric a query names is one Cuepoint defines
(runtime/metrics.py, the recording rules) or PostgreSQL's exporter is configured to export (the
broker's are checked against the live agent in test_infra_metrics.py)."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from cuepoint.runtime import metrics

ROOT = Path(__file__).resolve().parents[2]
GRAFANA = ROOT / "deploy" / "grafana"
pytestmark = pytest.mark.unit

KEYWORDS = {"by", "without", "and", "or", "unless", "on", "ignoring", "group_left", "group_right", "bool", "offset"}


def _build():
    spec = importlib.util.spec_from_file_location("grafana_build", GRAFANA / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def exprs() -> list[str]:
    found = []
    for path in sorted(GRAFANA.glob("*.json")):
        for panel in json.loads(path.read_text())["panels"]:
            found += [target["expr"] for target in panel.get("targets", [])]
    return found


def metric_names(expr: str) -> set[str]:
    """The series an expression selects: its identifiers that are not functions, keywords or labels."""
    bare = re.sub(r'"[^"]*"', "", expr)
    bare = re.sub(r"\{[^}]*\}", " ", bare)
    bare = re.sub(r"\[[^\]]*\]", " ", bare)
    bare = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", " ", bare)
    names = set(re.findall(r"\b([a-zA-Z_:][a-zA-Z0-9_:]*)\b(?!\s*\()", bare))
    return {n for n in names if n not in KEYWORDS and not re.fullmatch(r"\d+\w*", n)}


def known_metrics() -> set[str]:
    known: set[str] = {"up", "ALERTS"}
    from prometheus_client.metrics import MetricWrapperBase

    for value in vars(metrics).values():
        if isinstance(value, MetricWrapperBase):
            for family in value.describe():
                kind = family.type
                known |= {family.name + "_total"} if kind == "counter" else {family.name}
                if kind == "histogram":
                    known |= {family.name + "_bucket", family.name + "_count", family.name + "_sum"}
    rules = yaml.safe_load((ROOT / "deploy" / "prometheus" / "alerts.yml").read_text())
    known |= {rule["record"] for group in rules["groups"] for rule in group["rules"] if "record" in rule}
    queries = yaml.safe_load((ROOT / "deploy" / "prometheus" / "postgres-queries.yaml").read_text())
    for section, query in queries.items():
        for column in query["metrics"]:
            (name, spec), = column.items()
            if spec["usage"] != "LABEL":
                known.add(f"{section}_{name}")
    return known


def test_the_committed_dashboards_are_what_build_py_writes() -> None:
    built = _build().dashboards()
    committed = {path.name for path in GRAFANA.glob("*.json")}
    assert committed == set(built), "run .venv/bin/python deploy/grafana/build.py"
    for name, board in built.items():
        assert json.loads((GRAFANA / name).read_text()) == board, f"{name} differs: run deploy/grafana/build.py"
    assert {f"{s}.json" for s in ("identity", "content", "assessment", "progress", "analytics")} | {"backbone.json"} == committed


def test_every_dashboard_query_is_valid_promql(tmp_path: Path) -> None:
    tool = shutil.which("promtool")
    assert tool, "promtool is missing: `make infra` installs Debian's prometheus package"
    rules = {"groups": [{"name": "dashboards", "rules": [{"record": f"dashboard:query:{i}", "expr": e}
                                                         for i, e in enumerate(exprs())]}]}
    path = tmp_path / "dashboards.yml"
    path.write_text(yaml.safe_dump(rules))
    result = subprocess.run([tool, "check", "rules", str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_metric_a_dashboard_names_is_exported() -> None:
    known = known_metrics()
    named = set().union(*(metric_names(e) for e in exprs()))
    ours = {n for n in named if not n.startswith(("kafka_", "jvm_"))}
    assert ours - known == set(), f"dashboards name metrics nothing exports: {sorted(ours - known)}"
    assert "cuepoint_http_requests_total" in named and "pg_stat_statements_mean_seconds" in named


def test_metric_names_are_read_off_an_expression() -> None:
    assert metric_names('histogram_quantile(0.99, sum by (route, le) (rate(x_bucket{service="a"}[5m])))') == {"x_bucket"}
    assert metric_names('topk(10, max by (query) (pg_b{rolname="r"})) == 0') == {"pg_b"}
    assert metric_names("cuepoint:consumer_lag:sum") == {"cuepoint:consumer_lag:sum"}

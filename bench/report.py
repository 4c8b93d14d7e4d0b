"""One table for `make bench`: each benchmark records its figures here, and bench/run_all.py prints
them together — our figure, the raw baseline measured in the same run, the ratio, the budget, met or
missed — and writes them to .local/bench/report.md.

A benchmark script run alone records too (the rows go to .local/bench/results.jsonl, which run_all
empties first), so its own output and the table never disagree.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / ".local" / "bench"
RESULTS = OUT / "results.jsonl"


@dataclass(frozen=True)
class Row:
    benchmark: str
    ours: str          # our figure, with its unit and load
    baseline: str      # the raw baseline of the same run ("—" for an absolute budget)
    ratio: str         # ours against the baseline, as the budget reads it ("—" without a baseline)
    budget: str
    met: bool | None  # None: a figure shown beside a budget's, with no budget of its own


def record(benchmark: str, *, ours: str, baseline: str = "—", ratio: str = "—", budget: str, met: bool | None) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with RESULTS.open("a") as results:
        results.write(json.dumps(asdict(Row(benchmark, ours, baseline, ratio, budget, met))) + "\n")


def rows() -> list[Row]:
    if not RESULTS.exists():
        return []
    return [Row(**json.loads(line)) for line in RESULTS.read_text().splitlines() if line.strip()]


def table(found: list[Row]) -> str:
    header = "| benchmark | ours | raw baseline | ratio | budget | |\n|---|---|---|---|---|---|\n"
    return header + "".join(f"| {r.benchmark} | {r.ours} | {r.baseline} | {r.ratio} | {r.budget} | "
                            f"{'—' if r.met is None else 'met' if r.met else '**MISSED**'} |\n" for r in found)

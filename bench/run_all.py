"""`make bench`: every benchmark, even when one misses its budget, then one table.

Runs each script of BENCHMARKS in turn (their own output as it comes), then prints the table of
what they recorded (bench/report.py) and writes it to .local/bench/report.md. A script that fails
without recording anything gets a row saying so. Exits 1 if any budget was missed or any script failed.

    .venv/bin/python bench/run_all.py [--only milestone_lookup,web_bundle]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from datetime import UTC, datetime

import report

BENCHMARKS = ["milestone_lookup", "answer_to_progress", "ingest_http", "progress_playback", "analytics_ingest", "rebuild",
              "analytics_dashboards", "capacity", "web_bundle"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", help="comma-separated benchmark names (default: all)")
    args = parser.parse_args()
    chosen = args.only.split(",") if args.only else BENCHMARKS
    report.OUT.mkdir(parents=True, exist_ok=True)
    report.RESULTS.unlink(missing_ok=True)
    failures = []
    for name in chosen:
        print(f"\n==> bench/{name}.py", flush=True)
        before, started = len(report.rows()), time.perf_counter()
        code = subprocess.run([sys.executable, str(report.ROOT / "bench" / f"{name}.py")], cwd=report.ROOT).returncode
        if len(report.rows()) == before:  # it stopped before measuring anything
            report.record(name, ours=f"no figure (exit {code})", budget="—", met=False)
        if code:
            failures.append(name)
        print(f"    ({time.perf_counter() - started:.0f} s)", flush=True)
    found = report.rows()
    text = (f"# Benchmarks, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC\n\n" + report.table(found)
            + "\nEach figure is from this run; a ratio compares it with the raw baseline measured in the same run.\n")
    (report.OUT / "report.md").write_text(text)
    print("\n" + text + f"(written to {report.OUT / 'report.md'})")
    missed = [row.benchmark for row in found if row.met is False]
    if missed or failures:
        print(f"MISSED: {', '.join(sorted(set(missed + failures)))}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

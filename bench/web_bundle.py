"""The web client's budget: JavaScript a student's first visit to a lesson loads, gzip-compressed
as the gateway serves it, against DESIGN.md's 250 KB. (An absolute budget: there is no raw
baseline to run beside it; the build counts the same figure and fails when it is over.)

Reads web/dist/bundle-report.json, which every `make web` writes (web/scripts/bundle-budget.mjs),
Exits 1 if over the budget.

    .venv/bin/python bench/web_bundle.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import report as bench_report

WEB = Path(__file__).resolve().parents[1] / "web"


def main() -> int:
    report_path = WEB / "dist" / "bundle-report.json"
    if not report_path.exists():
        print("web bundle: no web/dist/bundle-report.json: run `make web` first", file=sys.stderr)
        return 1
    report = json.loads(report_path.read_text())
    ours, budget = report["first_visit_gzip_bytes"], report["budget_bytes"]
    print(f"web bundle, a student's first visit to a lesson: {ours / 1024:.1f} KB gzip "
          f"in {len(report['files'])} file(s); budget {budget / 1024:.0f} KB: "
          f"{'met' if ours <= budget else 'MISSED'}")
    print(f"  lazy (teacher, admin): {', '.join(report['lazy_chunks']) or 'none'}")
    bench_report.record("web client, first visit to a lesson", ours=f"{ours / 1024:.1f} KB of JavaScript (gzip)",
                  budget=f"≤ {budget / 1024:.0f} KB", met=ours <= budget)
    return 0 if ours <= budget else 1


if __name__ == "__main__":
    sys.exit(main())

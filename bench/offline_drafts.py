"""The offline question generator's drafts against the rubric (services/assessment/tests/unit/
test_offline_drafts.py) over the fixed transcripts: prints the pass share, per criterion and per type.

    .venv/bin/python bench/offline_drafts.py
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

RUBRIC = Path(__file__).resolve().parent.parent / "services/assessment/tests/unit/test_offline_drafts.py"


def main() -> None:
    spec = importlib.util.spec_from_file_location("offline_drafts_rubric", RUBRIC)
    assert spec and spec.loader
    rubric = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = rubric
    spec.loader.exec_module(rubric)
    figures = rubric.measure()
    print(f"{figures['drafts']} drafts from {len(rubric.windows())} transcript windows: "
          f"{figures['pass_share']:.1%} pass the rubric")
    for name, share in figures["criteria"].items():
        print(f"  {name:24s} {share:.1%}")
    for name, share in sorted(figures["by_type"].items()):
        print(f"  {name:24s} {share:.1%} pass")
    print("examples of failures:")
    for example in figures["examples"]:
        print("  " + example)
    if "--json" in sys.argv:
        print(json.dumps({k: v for k, v in figures.items() if k != "examples"}))


if __name__ == "__main__":
    main()

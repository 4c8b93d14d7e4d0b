"""Committed JSON Schema snapshots of every event type (``libs/contracts/schemas/``).

    python -m cuepoint.contracts.snapshots check   # exit 1 if a snapshot is stale or broken
    python -m cuepoint.contracts.snapshots write   # regenerate; refuses breaking changes

A breaking change is refused with the reasons: publish it as a new ``.vN`` instead.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

from .compatibility import breaking_changes
from .registry import EVENT_TYPES, envelope_schema

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas"


def snapshot_path(event_type: str, schema_dir: Path = SCHEMA_DIR) -> Path:
    return schema_dir / f"{event_type}.json"


def render(schema: dict) -> str:
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


@dataclass
class Review:
    missing: list[str]  # new event types without a snapshot
    stale: list[str]  # compatible changes not yet written
    breaking: dict[str, list[str]]  # event type -> reasons
    vanished: list[str]  # snapshots whose event type no longer exists


def review(schema_dir: Path = SCHEMA_DIR) -> Review:
    result = Review([], [], {}, [])
    for event_type in EVENT_TYPES:
        current = envelope_schema(event_type)
        path = snapshot_path(event_type, schema_dir)
        if not path.exists():
            result.missing.append(event_type)
            continue
        committed = json.loads(path.read_text())
        problems = breaking_changes(committed, current)
        if problems:
            result.breaking[event_type] = problems
        elif render(committed) != render(current):
            result.stale.append(event_type)
    known = {snapshot_path(t, schema_dir).name for t in EVENT_TYPES}
    result.vanished = sorted(p.stem for p in schema_dir.glob("*.json") if p.name not in known)
    return result


def _report(result: Review) -> None:
    for event_type, problems in result.breaking.items():
        print(f"BREAKING {event_type}:", file=sys.stderr)
        for problem in problems:
            print(f"  - {problem}", file=sys.stderr)
    for event_type in result.vanished:
        print(f"REMOVED {event_type}: an event type may not disappear; keep its model (deprecated) or restore it", file=sys.stderr)
    if result.breaking or result.vanished:
        print("Make the change additive (new optional fields only) or publish a new .vN event type.", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cuepoint.contracts.snapshots", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["check", "write"])
    parser.add_argument("--dir", type=Path, default=SCHEMA_DIR, help="snapshot folder (default: %(default)s)")
    args = parser.parse_args(argv)
    result = review(args.dir)
    _report(result)
    if result.breaking or result.vanished:
        return 1
    if args.command == "check":
        for event_type in result.missing + result.stale:
            print(f"STALE {event_type}: run `make schemas`", file=sys.stderr)
        return 1 if result.missing or result.stale else 0
    args.dir.mkdir(parents=True, exist_ok=True)
    for event_type in result.missing + result.stale:
        snapshot_path(event_type, args.dir).write_text(render(envelope_schema(event_type)))
        print(f"wrote {snapshot_path(event_type, args.dir).name}")
    print(f"{len(EVENT_TYPES)} event types, {len(result.missing)} new, {len(result.stale)} updated")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Writes each service's OpenAPI document, as its app builds it, to web/src/api/openapi/<service>.json.

The web client's types are generated from these files (scripts/api-types.mjs), so they are the
contract between the services and the client. The app is built in-process: nothing connects,
so this needs no running platform. ``--check`` writes nothing and exits 1 when a committed
document differs from what the service now serves (the drift test runs it).

    .venv/bin/python web/scripts/export_openapi.py [--check]
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import sys
from pathlib import Path

from cuepoint.contracts.topics import SERVICES
from cuepoint.runtime.service import ServiceContext, build_app

OUT = Path(__file__).resolve().parents[1] / "src" / "api" / "openapi"


def document(service: str) -> dict:
    spec = importlib.import_module(f"cuepoint.{service}.bootstrap").spec()
    return build_app(spec, ServiceContext(service, spec.settings())).openapi()


def rendered(service: str) -> str:
    return json.dumps(document(service), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="compare with the committed documents; write nothing")
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # the development-key warnings are not this tool's business
    OUT.mkdir(parents=True, exist_ok=True)
    drifted = []
    for service in SERVICES:
        path = OUT / f"{service}.json"
        text = rendered(service)
        if args.check:
            if not path.exists() or path.read_text() != text:
                drifted.append(service)
        else:
            path.write_text(text)
            print(f"wrote {path.relative_to(OUT.parents[2])}")
    if drifted:
        print(f"the web client's API documents are out of date for: {', '.join(drifted)}. "
              "Run `make api-types` and commit the result.", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

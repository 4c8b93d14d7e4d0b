"""Writes docs/roles.md: who may call each route of the five services, read off the routes' own
guards (runtime/auth.py route_gate), so the table cannot drift from the code (tests/contracts/
test_roles.py checks the committed file is this script's output).

    .venv/bin/python docs/roles.py          rewrite docs/roles.md
"""

from __future__ import annotations

import importlib
import logging
from pathlib import Path

from fastapi.routing import APIRoute, iter_route_contexts

from cuepoint.contracts.topics import SERVICES
from cuepoint.runtime.auth import GATES, route_gate
from cuepoint.runtime.service import ServiceContext, build_app

OUT = Path(__file__).resolve().parent / "roles.md"
OPERATIONAL = {"/healthz", "/readyz", "/metrics", "/openapi.json"}


def routes(service: str) -> list[tuple[str, str, str, str]]:
    """(method, path, gate, summary) of every route of the service's API, operations endpoints aside."""
    spec = importlib.import_module(f"cuepoint.{service}.bootstrap").spec()
    app = build_app(spec, ServiceContext(service, spec.settings()))
    found = []
    for context in iter_route_contexts(app.routes):  # routers included with a prefix: their full paths
        route, path = context.original_route, context.path
        if isinstance(route, APIRoute) and path not in OPERATIONAL and route.include_in_schema:
            for method in sorted(route.methods - {"HEAD"}):
                found.append((method, path, route_gate(route), route.summary or route.name))
    return sorted(found, key=lambda r: (r[1], r[0]))


def render() -> str:
    logging.disable(logging.WARNING)  # the local development key's warnings are not this table's business
    try:
        return _table()
    finally:
        logging.disable(logging.NOTSET)  # a caller (the roles test) goes on logging


def _table() -> str:
    lines = [
        "# Who may call what",
        "",
        "Written by `docs/roles.py` from the routes' own guards: edit the code, then run it. A route's gate",
        "is the least a caller needs at all: **public** (no token), **signed in** (any role), **teacher**,",
        "**admin** (of the caller's organisation) or **platform admin**. Roles are ordered: an admin may do",
        "what a teacher may, a teacher what a student may. Past the gate, the use cases apply the finer",
        "rules, each with its unit test: a lesson is changed by its author or an admin, a student reads only",
        "their own progress and grades, a teacher only the analytics of their own lessons (an admin of any),",
        "and nobody reaches another organisation's rows (row-level security; `tests/e2e`).",
        "",
    ]
    counts = {gate: 0 for gate in GATES}
    for service in SERVICES:
        table = routes(service)
        lines += [f"## {service}", "", "| method | path | who | what |", "|---|---|---|---|"]
        for method, path, gate, summary in table:
            counts[gate] += 1
            lines.append(f"| {method} | `/api/{service}{path}` | {gate} | {summary} |")
        lines.append("")
    lines.append("Routes by gate: " + ", ".join(f"{gate} {n}" for gate, n in counts.items() if n) + ".")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    OUT.write_text(render())
    print(f"wrote {OUT}")

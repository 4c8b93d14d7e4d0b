"""Every service has the shape docs/architecture.md describes, and keeps it: the same files for the
same roles, rules in a domain/ that imports no framework, no god class, and no use case without a
unit test on the fake unit of work."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("identity", "content", "assessment", "progress", "analytics")
ROLES = ("domain", "use_cases", "unit_of_work.py", "repositories.py", "views.py", "projections.py", "consumers.py",
         "api.py", "schemas.py", "orm.py", "settings.py", "bootstrap.py")
FRAMEWORKS = ("fastapi", "starlette", "sqlalchemy", "psycopg", "aiokafka", "faststream", "httpx")
LONGEST_CLASS = 200

pytestmark = pytest.mark.unit


def package(service: str) -> Path:
    return ROOT / "services" / service / "cuepoint" / service


@pytest.mark.parametrize("service", SERVICES)
def test_the_same_files_hold_the_same_roles(service: str) -> None:
    missing = [role for role in ROLES if not (package(service) / role).exists()]
    assert not missing, f"{service} has no {missing} (docs/architecture.md)"
    assert not (package(service) / "handlers.py").exists(), "use cases are functions in use_cases/, not a handler class"


@pytest.mark.parametrize("service", SERVICES)
def test_domain_imports_no_framework(service: str) -> None:
    modules = [f"cuepoint.{service}.domain.{path.stem}" for path in sorted((package(service) / "domain").glob("*.py"))
               if path.stem != "__init__"]
    probe = (f"import sys\nfor m in {modules!r}: __import__(m)\n"
             f"print(','.join(f for f in {FRAMEWORKS!r} if f in sys.modules))")
    found = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.strip()
    assert not found, f"{service}'s domain/ pulls in {found}: rules take plain values (runtime/actor.py for who acts)"


@pytest.mark.parametrize("service", SERVICES)
def test_no_class_is_a_god_class(service: str) -> None:
    long = []
    for path in package(service).rglob("*.py"):
        if "migrations" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef) and node.end_lineno - node.lineno + 1 > LONGEST_CLASS:
                long.append(f"{path.relative_to(ROOT)}:{node.name} ({node.end_lineno - node.lineno + 1} lines)")
    assert not long, long


@pytest.mark.parametrize("service", SERVICES)
def test_every_use_case_has_a_unit_test(service: str) -> None:
    """Each use case (a public function of use_cases/ that an edge calls: the API, a consumer, a command
    or the composition root) is named by a unit test (tests/unit, on FakeUnitsOfWork). The steps use
    cases share among themselves are tested through them."""
    defined = set()
    for path in (package(service) / "use_cases").glob("*.py"):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.AsyncFunctionDef) and not node.name.startswith("_"):
                defined.add(node.name)
    # views.py may reuse a use case module's access lookup; it is not an edge that runs a use case.
    edges = " ".join(path.read_text() for path in package(service).glob("*.py") if path.name != "views.py")
    use_cases = {name for name in defined if re.search(rf"\b{name}\b", edges)}
    tests = ROOT / "services" / service / "tests" / "unit"
    called = set()  # named by a test: called, or handed to a helper that calls it
    for path in tests.glob("test_*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute):
                called.add(node.attr)
            elif isinstance(node, ast.Name):
                called.add(node.id)
            elif isinstance(node, ast.alias):
                called |= {node.name, node.asname}
    assert use_cases, f"{service} has no use cases"
    untested = sorted(use_cases - called)
    assert not untested, f"{service}'s use cases without a unit test: {untested}"

"""The web client's own checks, run by `make test`: its unit tests (Vitest), its type-check, and
that its API contract has not drifted — the OpenAPI documents it was generated from are what
the services build now, and the committed TypeScript types are what those documents generate."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

WEB = Path(__file__).resolve().parents[2] / "web"


def _run(*command: str) -> subprocess.CompletedProcess[str]:
    if not (WEB / "node_modules").is_dir():
        pytest.fail("web/node_modules is missing: run `make web` (npm ci) first")
    return subprocess.run(command, cwd=WEB, capture_output=True, text=True, timeout=600, check=False)


def test_unit_tests_pass() -> None:
    result = _run(shutil.which("npx") or "npx", "vitest", "run", "--reporter=dot")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert " passed" in result.stdout


def test_the_client_type_checks_against_the_generated_api_types() -> None:
    result = _run(shutil.which("npx") or "npx", "tsc", "--noEmit")
    assert result.returncode == 0, result.stdout[-4000:]


def test_the_api_documents_match_what_the_services_serve() -> None:
    result = subprocess.run([sys.executable, str(WEB / "scripts" / "export_openapi.py"), "--check"],
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr


def test_the_generated_types_match_the_api_documents() -> None:
    result = _run("node", "scripts/api-types.mjs", "--check")
    assert result.returncode == 0, result.stderr

"""The README's shell blocks, run as written — copied and pasted — against the platform `make up`
starts, so that the front door cannot drift from the product.

Every ```bash block of the README is either run here, in order, in one shell (variables carry from
one walkthrough to the next, as in a reader's terminal), or named in SKIPPED with the reason it is
run elsewhere. A block that is neither fails the test: a new block is run unless someone says why not.

The platform is the one `make up` brings up, on its default ports and database: if it already runs
(a developer's), the blocks run against it; otherwise this test runs `make up` and stops the services
after. curl reads a `.curlrc` that turns an HTTP error into a failed command (`--fail-with-body`), and
the shell stops at the first failed command (`set -eo pipefail`), so a 4xx or 5xx anywhere fails here.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"

pytestmark = pytest.mark.e2e

# The first line of each block not run here, and where it is run instead.
SKIPPED = {
    "make up": "this test runs `make up` itself (or uses the platform it started); `make test` is this very run",
    "make web": "`make test` runs the web build, the API types' drift check and test-web itself",
    "make engine": "tests/docker starts the engine, builds the images and runs the compose platform",
    "make compose-up": "tests/docker runs the compose platform, kcat included",
    "kubectl apply": "there is no cluster here: tests/deploy renders and validates the manifests offline",
}


def bash_blocks(text: str) -> list[tuple[int, str]]:
    """(line number, body) of every ```bash block."""
    blocks, lines = [], text.splitlines()
    index = 0
    while index < len(lines):
        if lines[index].strip() == "```bash":
            start, body = index + 1, []
            index += 1
            while lines[index].strip() != "```":
                body.append(lines[index])
                index += 1
            blocks.append((start + 1, "\n".join(body)))
        index += 1
    return blocks


def _skip_reason(body: str) -> str | None:
    first = next(line for line in body.splitlines() if line.strip() and not line.startswith("#"))
    return next((reason for prefix, reason in SKIPPED.items() if first.startswith(prefix)), None)


def test_every_block_is_run_or_says_why_not() -> None:
    blocks = bash_blocks(README.read_text())
    assert len(blocks) >= 8
    skipped = [line for line, body in blocks if _skip_reason(body)]
    assert len(skipped) == len(SKIPPED), "a SKIPPED entry names no block any more: remove it"
    # Locally the services' modules are in the project's environment (`python -m cuepoint.<service>`,
    # the generic form, is how the images run them).
    bare = re.findall(r"(?<!\.venv/bin/)python3? -m cuepoint\.(?!<service>)\w+", README.read_text())
    assert not bare, f"commands a reader would run with the wrong Python: {bare} (write .venv/bin/python)"


def _gateway_answers() -> bool:
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex(("127.0.0.1", 8080)) == 0


@pytest.fixture(scope="module")
def made_up(infra) -> None:
    """The platform as `make up` leaves it, on the default ports and database."""
    if _gateway_answers():
        yield  # a developer's platform: the README is written for exactly this
        return
    env = {key: value for key, value in os.environ.items()
           if not key.startswith("CUEPOINT_") or key in ("CUEPOINT_TESTS_USE_LOCAL",)}
    done = subprocess.run(["make", "--no-print-directory", "up"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=900)
    try:
        assert done.returncode == 0, f"make up failed:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
        yield
    finally:
        subprocess.run([str(ROOT / "deploy/local/services.sh"), "down"], cwd=ROOT, env=env, capture_output=True,
                       timeout=300)


def test_the_readme_runs_as_written(made_up) -> None:
    runnable = [(line, body) for line, body in bash_blocks(README.read_text()) if not _skip_reason(body)]
    home = Path(tempfile.mkdtemp(prefix="cuepoint-readme-"))
    (home / ".curlrc").write_text("fail-with-body\nshow-error\nmax-time = 60\n")
    script = ["set -eo pipefail"]
    for line, body in runnable:
        script += [f"echo '=== README line {line}' >&2", body,
                   # background streams (SSE) of a block end with it
                   "sleep 1; jobs -p | xargs -r kill 2>/dev/null || true"]
    env = {key: value for key, value in os.environ.items() if not key.startswith("CUEPOINT_")}
    env["CURL_HOME"] = str(home)
    done = subprocess.run(["bash", "-c", "\n".join(script)], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=600)
    where = re.findall(r"=== README line (\d+)", done.stderr)
    assert done.returncode == 0, (f"the README block at line {where[-1] if where else '?'} failed "
                                  f"(exit {done.returncode}):\n{done.stderr[-3000:]}\n--- stdout:\n{done.stdout[-3000:]}")
    assert "Traceback" not in done.stdout + done.stderr
    assert len(where) == len(runnable)
    # What the walkthroughs promise in their comments, seen in their output.
    assert '"status":"ready"' in done.stdout.replace(" ", "")
    assert '"status":"SUCCEEDED"' in done.stdout.replace(" ", "")
    assert '"intact":true' in done.stdout.replace(" ", "")

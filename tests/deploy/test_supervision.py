"""deploy/local/services.sh supervises each process: one that dies is started again (with a growing
pause while it keeps dying), and stopping the supervisor stops the process for good."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVICES_SH = ROOT / "deploy" / "local" / "services.sh"

pytestmark = pytest.mark.unit


def _wait(condition, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met"
        time.sleep(0.05)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _supervise(tmp_path: Path, command: str) -> tuple[subprocess.Popen, Path, Path]:
    child_pidfile, log = tmp_path / "probe.pid.child", tmp_path / "probe.log"
    supervisor = subprocess.Popen(
        ["bash", "-c", f'source "{SERVICES_SH}"; supervise "$1" "$2" bash -c "$3"', "supervise",
         str(child_pidfile), str(log), command],
        env={**os.environ, "CUEPOINT_LOCAL_DIR": str(tmp_path / "local")})
    return supervisor, child_pidfile, log


def test_a_process_that_dies_is_started_again_with_backoff(tmp_path: Path) -> None:
    supervisor, _, log = _supervise(tmp_path, "echo started; exit 3")
    try:
        _wait(lambda: log.exists() and log.read_text().count("started") >= 3)
    finally:
        supervisor.terminate()
        supervisor.wait(timeout=30)
    lines = log.read_text().splitlines()
    pauses = [line.split("again in ")[1] for line in lines if "supervisor: exited with status 3" in line]
    assert pauses[:3] == ["1 s", "2 s", "4 s"][:len(pauses[:3])] and len(pauses) >= 2


def test_a_killed_process_comes_back_and_terminating_the_supervisor_stops_it(tmp_path: Path) -> None:
    supervisor, child_pidfile, log = _supervise(tmp_path, "echo started; exec sleep 300")
    try:
        _wait(lambda: child_pidfile.exists() and child_pidfile.read_text().strip())
        first = int(child_pidfile.read_text())
        os.kill(first, signal.SIGKILL)  # as the OOM killer or a crash would
        _wait(lambda: child_pidfile.exists() and child_pidfile.read_text().strip() not in ("", str(first)))
        second = int(child_pidfile.read_text())
        # Its pid is written as it starts; its first line follows (stopping it sooner would race that).
        _wait(lambda: log.read_text().count("started") == 2)
        assert _alive(second) and "exited with status 137" in log.read_text()
    finally:
        supervisor.terminate()
        supervisor.wait(timeout=30)
    _wait(lambda: not _alive(second))
    assert not child_pidfile.exists()
    time.sleep(1.5)  # longer than the first pause: nothing was started again
    assert log.read_text().count("started") == 2

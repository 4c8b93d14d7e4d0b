"""A three-node Kafka cluster and a PostgreSQL cluster of a fault test's own, on ports of their own
(a single broker: tests/support/own_broker.py).

Fault tests kill and stop them; the shared broker and cluster of ``make infra`` (which other tests,
benchmarks and the running platform use) are never touched. The Kafka cluster is started by
``deploy/local/infra.sh`` itself under another ``.local`` directory; PostgreSQL with Debian's
binaries, small.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "deploy" / "local" / "infra.sh"
SHARED_KAFKA_LIBS = ROOT / ".local" / "kafka" / "libs"


def _pg_bindir() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: [int(x) for x in p.parent.name.split(".")])
    if not found:
        raise RuntimeError("PostgreSQL binaries not found under /usr/lib/postgresql (make infra installs them)")
    return found[-1]


@dataclass
class PrivateKafka:
    """``make infra``'s Kafka as ``infra.sh kafka-start`` starts it (its jars, its configuration), under a
    directory of its own (CUEPOINT_LOCAL_DIR): with ``brokers=3``, its three-node KRaft cluster (node i
    on ``port + 2(i-1)``, replication factor 3, min.insync.replicas=2)."""

    port: int
    brokers: int = 3
    directory: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="cuepoint-faults-kafka-")))

    @property
    def bootstrap_servers(self) -> str:
        return ",".join(f"127.0.0.1:{self.port + 2 * node}" for node in range(self.brokers))

    @property
    def _env(self) -> dict[str, str]:
        return {**os.environ, "CUEPOINT_LOCAL_DIR": str(self.directory), "CUEPOINT_KAFKA_PORT": str(self.port),
                "CUEPOINT_KAFKA_BROKERS": str(self.brokers), "CUEPOINT_KAFKA_HEAP": "384m",
                "CUEPOINT_KAFKA_METRICS_PORT": "0"}  # no metrics agent: its port is make infra's broker's

    def start(self) -> None:
        libs = self.directory / "kafka" / "libs"
        if not libs.exists():  # the jars make infra resolved, not a second Maven run
            libs.parent.mkdir(parents=True, exist_ok=True)
            libs.symlink_to(SHARED_KAFKA_LIBS)
        done = subprocess.run([str(INFRA), "kafka-start"], env=self._env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, f"infra.sh kafka-start (private cluster) failed:\n{done.stdout}\n{done.stderr}"

    def kill_node(self, node: int) -> None:
        """SIGKILL one node (ids from 1), as a crash would."""
        os.kill(int((self.directory / "run" / f"kafka-{node}.pid").read_text()), signal.SIGKILL)

    def close(self) -> None:
        subprocess.run([str(INFRA), "kafka-kill"], env=self._env, capture_output=True, timeout=120)
        shutil.rmtree(self.directory, ignore_errors=True)


@dataclass
class PrivatePostgres:
    """A small PostgreSQL cluster of its own (superuser ``postgres``, the same password as make infra's)."""

    port: int
    password: str = "cuepoint-admin"
    directory: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="cuepoint-faults-pg-")))

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres:{self.password}@127.0.0.1:{self.port}/postgres"

    def _as_postgres(self, *command: str) -> None:
        done = subprocess.run(["runuser", "-u", "postgres", "--", *command], cwd="/", capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 0, f"{command[0]} failed:\n{done.stdout}\n{done.stderr}"

    def init(self) -> None:
        shutil.chown(self.directory, "postgres", "postgres")
        pwfile = self.directory / "pw"
        pwfile.write_text(self.password + "\n")
        shutil.chown(pwfile, "postgres", "postgres")
        (self.directory / "run").mkdir()
        shutil.chown(self.directory / "run", "postgres", "postgres")
        self._as_postgres(str(_pg_bindir() / "initdb"), "-D", str(self.directory / "data"), "--username=postgres",
                          f"--pwfile={pwfile}", "--auth-local=peer", "--auth-host=scram-sha-256", "--encoding=UTF8",
                          "--locale=C.UTF-8")
        self.start()

    def start(self) -> None:
        self._as_postgres(str(_pg_bindir() / "pg_ctl"), "-D", str(self.directory / "data"), "-l",
                          str(self.directory / "server.log"), "-w", "-t", "60", "start", "-o",
                          f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.directory / 'run'} "
                          # fsync off: an immediate stop is a crash of PostgreSQL, not of the machine, so
                          # the OS still holds what was written. synchronous_commit stays on: off, a crash
                          # would lose commits already acknowledged (as it did, in this test's first runs).
                          "-c shared_buffers=64MB -c max_connections=120 -c fsync=off")

    def stop_immediately(self) -> None:
        """``pg_ctl stop -m immediate``: every backend quits at once, recovery runs on the next start."""
        self._as_postgres(str(_pg_bindir() / "pg_ctl"), "-D", str(self.directory / "data"), "-m", "immediate", "-w",
                          "stop")

    def close(self) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", str(_pg_bindir() / "pg_ctl"), "-D",
                        str(self.directory / "data"), "-m", "immediate", "stop"], cwd="/", capture_output=True,
                       timeout=60)
        shutil.rmtree(self.directory, ignore_errors=True)

"""A streaming replica of the test cluster, a test's own: deploy/local/infra.sh's replica-start (pg_basebackup -R
from the running PostgreSQL) into a directory, on a free port and with a replication slot of its own. Dropped
(the server, its data and its slot: a slot nobody reads makes the primary keep WAL forever) on leaving."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import psycopg
import pytest

from .platform import INFRA, ROLE_PASSWORD, Infra


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Replica:
    port: int
    directory: str
    slot: str
    env: dict[str, str]
    superuser_url: str  # the replica's postgres database, as the cluster's superuser (read-only: a standby)

    def url(self, role: str, database: str) -> str:
        """As a service's runtime role: the replica has the primary's roles and passwords (a physical copy)."""
        return f"postgresql://{role}:{ROLE_PASSWORD}@127.0.0.1:{self.port}/{database}"

    def _infra(self, command: str) -> None:
        result = subprocess.run([str(INFRA), command], env=self.env, capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, f"infra.sh {command}:\n{result.stdout}\n{result.stderr}"

    def start(self) -> None:
        self._infra("replica-start")

    def stop(self) -> None:
        self._infra("replica-stop")

    def query(self, sql: str) -> list[tuple]:
        with psycopg.connect(self.superuser_url, autocommit=True) as connection:
            return connection.execute(sql).fetchall()


@contextlib.contextmanager
def own_replica(infra: Infra) -> Iterator[Replica]:
    if infra.kind != "local":
        pytest.skip("a replica of the test cluster is made with deploy/local/infra.sh (the local platform)")
    if os.geteuid() != 0:
        pytest.skip("deploy/local/infra.sh runs PostgreSQL as the postgres user (runuser): needs root")
    port, slot = _free_port(), f"cuepoint_test_{uuid.uuid4().hex[:12]}"
    directory = tempfile.mkdtemp(prefix="cuepoint-replica-", dir="/tmp")  # reachable by postgres (not pytest's tmp)
    os.chmod(directory, 0o755)
    env = os.environ | {"CUEPOINT_PG_PORT": str(infra.pg_port), "CUEPOINT_PG_REPLICA_PORT": str(port),
                        "CUEPOINT_PG_REPLICA_DIR": directory, "CUEPOINT_PG_REPLICA_SLOT": slot,
                        "CUEPOINT_PG_REPLICA_BUFFERS": "128MB"}
    superuser = infra.admin_url.split("://", 1)[1].rsplit("@", 1)[0]
    replica = Replica(port, directory, slot, env, f"postgresql://{superuser}@127.0.0.1:{port}/postgres")
    try:
        replica.start()
        yield replica
    finally:
        result = subprocess.run([str(INFRA), "replica-drop"], env=env, capture_output=True, text=True, timeout=300)
        # Whatever infra.sh managed, the slot must not outlive the test.
        with psycopg.connect(infra.admin_url, autocommit=True) as admin:
            admin.execute("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                          "WHERE slot_name = %s AND NOT active", (slot,))
            left = admin.execute("SELECT count(*) FROM pg_replication_slots WHERE slot_name = %s", (slot,)).fetchone()
        assert result.returncode == 0 and left[0] == 0, f"the replica was not dropped:\n{result.stdout}\n{result.stderr}"

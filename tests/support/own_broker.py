"""A Kafka broker of a test's own (single KRaft node, same jars and configuration as
``make infra``), on free ports and a data directory of its own, so that a test can kill,
freeze or restart it without touching the platform's shared broker on 127.0.0.1:9092."""

from __future__ import annotations

import base64
import os
import signal
import socket
import subprocess
import uuid
from pathlib import Path

from .platform import ROOT, wait_for_kafka

KAFKA_LIBS = ROOT / ".local" / "kafka" / "libs"
TEMPLATE = ROOT / "deploy" / "local" / "kafka" / "server.properties"
LOG4J = ROOT / "deploy" / "local" / "kafka" / "log4j2.yaml"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class OwnBroker:
    def __init__(self, directory: Path, *, heap: str = "384m") -> None:
        if not KAFKA_LIBS.is_dir():
            raise RuntimeError(f"no Kafka jars in {KAFKA_LIBS}: run `make infra` once")
        self.directory = directory
        self.port, self.controller_port = _free_port(), _free_port()
        self.bootstrap_servers = f"127.0.0.1:{self.port}"
        self.log_path = directory / "kafka.log"
        self._heap = heap
        self._process: subprocess.Popen | None = None
        data = directory / "data"
        data.mkdir(parents=True, exist_ok=True)
        self._config = directory / "server.properties"
        self._config.write_text(
            TEMPLATE.read_text().replace("@DATA@", str(data)).replace("@PORT@", str(self.port))
            .replace("@CONTROLLER_PORT@", str(self.controller_port))
        )
        cluster_id = "-"
        while cluster_id.startswith("-"):  # as Kafka's own ids: one with a leading dash reads as an option
            cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        self._java("kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", str(self._config), "--standalone",
                   wait=True)

    def _java(self, main: str, *args: str, wait: bool = False) -> subprocess.Popen:
        command = ["java", "-Xms128m", f"-Xmx{self._heap}", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
                   "-Djava.awt.headless=true", f"-Dlog4j2.configurationFile={LOG4J}", "-cp", f"{KAFKA_LIBS}/*",
                   main, *args]
        with open(self.log_path, "ab") as log:
            process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        if wait and process.wait(timeout=120) != 0:
            raise RuntimeError(f"{main} {' '.join(args)} failed, see {self.log_path}")
        return process

    async def start(self, timeout: float = 60) -> None:
        """Starts the broker process and waits until it answers metadata requests."""
        self.start_process()
        await wait_for_kafka(self.bootstrap_servers, timeout)

    async def ensure_running(self) -> None:
        """Thaws a frozen broker and starts a dead one (a test that failed midway may leave either)."""
        if self._process is not None and self._process.poll() is None:
            self.signal(signal.SIGCONT)
        else:
            await self.start()

    def start_process(self) -> None:
        assert self._process is None or self._process.poll() is not None, "the broker is running"
        self._process = self._java("kafka.Kafka", str(self._config))

    def signal(self, signum: int) -> None:
        assert self._process is not None
        os.kill(self._process.pid, signum)

    def kill(self) -> None:
        """SIGKILL, as a crash: nothing flushed, sockets reset by the kernel."""
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait(timeout=30)

    def close(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self.signal(signal.SIGCONT)  # a frozen broker cannot act on SIGKILL's exit otherwise
            self.kill()

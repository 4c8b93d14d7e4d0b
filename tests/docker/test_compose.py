"""The compose platform, really run: the images `make images` builds (a step whose inputs did not change
is Docker's cache), docker-compose.yml brought up under a project name and host ports of its own (beside a
running `make up` and any other compose platform), the demo journey through its gateway (deploy/local/demo.py:
the same one `make up` seeds with — logins, an upload to storage and its playback URL, a published lesson
with approved and AI-drafted questions, a student's playback and answers through every worker), what a
browser and the data team on the host rely on, a worker SIGKILLed and restarted by its restart policy
with no event lost, and a teardown that leaves no container, network or volume behind.

No engine is no skip: deploy/docker/engine.sh starts the project's own (or uses DOCKER_HOST), and a
failure to start it fails these tests."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from aiokafka.admin import AIOKafkaAdminClient

from cuepoint.contracts.topics import all_topics

pytestmark = pytest.mark.docker

ROOT = Path(__file__).resolve().parents[2]
DEMO_LESSON = "Photosynthesis: how plants make food"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _run(args: list[str], env: dict[str, str], timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=timeout, cwd=ROOT)


@dataclass
class Compose:
    project: str
    gateway: str
    kafka: str
    env: dict[str, str]
    prometheus: str

    def docker(self, *args: str, timeout: float = 60) -> str:
        result = _run(["docker", *args], self.env, timeout)
        assert result.returncode == 0, f"docker {' '.join(args)}: {result.stderr}"
        return result.stdout.strip()

    def container(self, service: str) -> str:
        ids = self.docker("ps", "-q", "--filter", f"label=com.docker.compose.project={self.project}",
                          "--filter", f"label=com.docker.compose.service={service}").split()
        assert len(ids) >= 1, f"no running {service} container"
        return ids[0]

    def leftovers(self) -> dict[str, list[str]]:
        label = f"label=com.docker.compose.project={self.project}"
        return {kind: self.docker(*command, "--filter", label).split()
                for kind, command in {"containers": ["ps", "-aq"], "networks": ["network", "ls", "-q"],
                                      "volumes": ["volume", "ls", "-q"]}.items()}


@pytest.fixture(scope="module")
def compose() -> Iterator[Compose]:
    env = dict(os.environ)
    # An engine these tests start, they stop (CI's `make test` leaves nothing running); one already
    # running, or the user's DOCKER_HOST, is left as it was.
    engine_was_running = "running" in _run([str(ROOT / "deploy/docker/engine.sh"), "status"], env, 30).stdout
    engine = _run([str(ROOT / "deploy/docker/engine.sh"), "up"], env, 300)
    assert engine.returncode == 0, f"the Docker engine did not start:\n{engine.stdout}\n{engine.stderr}"
    env["DOCKER_HOST"] = _run([str(ROOT / "deploy/docker/engine.sh"), "env"], env, 30).stdout.split("=", 1)[1].strip()
    started = time.monotonic()
    images = _run(["nice", "-n", "10", str(ROOT / "deploy/docker/images.sh")], env, 1800)
    assert images.returncode == 0, f"make images failed:\n{images.stdout}\n{images.stderr}"
    print(f"\nimages ready in {time.monotonic() - started:.0f} s:\n{images.stdout}")
    ports = {name: _free_port() for name in ("GATEWAY", "KAFKA", "PG", "PROMETHEUS")}
    project = f"cuepoint-test-{uuid.uuid4().hex[:6]}"
    env.update({"COMPOSE_PROJECT_NAME": project, **{f"CUEPOINT_COMPOSE_{name}_PORT": str(port) for name, port in ports.items()}})
    platform = Compose(project, f"http://127.0.0.1:{ports['GATEWAY']}", f"127.0.0.1:{ports['KAFKA']}", env,
                       f"http://127.0.0.1:{ports['PROMETHEUS']}")
    try:
        started = time.monotonic()
        up = _run([str(ROOT / "deploy/docker/compose.sh"), "up"], env, 900)
        assert up.returncode == 0, f"compose up failed:\n{up.stdout}\n{up.stderr}\n" \
            + _run([str(ROOT / "deploy/docker/compose.sh"), "logs"], env, 60).stdout[-6000:]
        print(f"compose up and the demo journey in {time.monotonic() - started:.0f} s:\n{up.stdout}")
        yield platform
    finally:
        _run([str(ROOT / "deploy/docker/compose.sh"), "purge"], env, 300)
        if not engine_was_running:
            _run([str(ROOT / "deploy/docker/engine.sh"), "down"], env, 120)


def _login(client: httpx.Client, role: str, headers: dict[str, str] | None = None) -> dict[str, str]:
    response = client.post("/api/identity/v1/auth/login", headers=headers or {},
                           json={"tenant": "demo", "email": f"{role}@example.com", "password": "Demo123!"})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def _demo_lesson(client: httpx.Client, headers: dict[str, str]) -> dict:
    lessons = client.get("/api/content/v1/lessons", params={"q": DEMO_LESSON, "limit": 100}, headers=headers).json()["items"]
    return next(lesson for lesson in lessons if lesson["title"] == DEMO_LESSON)


def _eventually(check, timeout: float = 60):
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.5)


def test_a_browser_on_the_host_uses_the_platform_through_the_gateway(compose: Compose) -> None:
    with httpx.Client(base_url=compose.gateway, timeout=30) as client:
        page = client.get("/")
        assert page.status_code == 200 and "<div id=\"root\">" in page.text.replace("'", '"')
        student = _login(client, "student")
        dashboard = client.get("/api/progress/v1/dashboard", headers=student).json()["items"]
        assert [entry["title"] for entry in dashboard] == [DEMO_LESSON]
        lesson = _demo_lesson(client, student)
        resume = client.get("/api/progress/v1/resume", params={"lesson_id": lesson["id"]}, headers=student).json()
        assert resume["position"] >= 20
        # Playback: the signed URL points at the gateway the browser used (not at http://storage:9023),
        # and serves the uploaded video's bytes there.
        playback = client.get(f"/api/content/v1/videos/{resume['video_id']}/playback", headers=student).json()
        assert playback["url"].startswith(f"{compose.gateway}/storage/"), playback["url"]
        video = httpx.get(playback["url"], headers={"Range": "bytes=0-1023"}, timeout=30)
        assert video.status_code == 206 and video.content[4:8] == b"ftyp"
        # ffprobe in content's image read the real duration of the upload.
        assert playback["duration"] == pytest.approx(60, abs=0.5)


def test_the_gateway_passes_the_callers_request_id_through(compose: Compose) -> None:
    request_id = f"compose-test-{uuid.uuid4().hex}"
    response = httpx.get(f"{compose.gateway}/api/content/readyz", headers={"X-Request-ID": request_id}, timeout=10)
    assert response.status_code == 200
    assert response.headers["x-request-id"] == request_id


def test_the_services_know_a_caller_by_the_address_the_gateway_saw(compose: Compose) -> None:
    """Login throttling and each session's address count the caller, not the gateway: without trusting
    the gateway's X-Forwarded-For every request seemed to come from the gateway's container, and one
    person's failed logins would have throttled everyone."""
    gateway_ip = compose.docker("inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
                                compose.container("gateway"))
    network = compose.docker("inspect", "-f", "{{range $name, $_ := .NetworkSettings.Networks}}{{$name}}{{end}}",
                             compose.container("gateway"))
    # A browser on the host reaches the published port through the engine's proxy, from the network's gateway.
    host_side = compose.docker("network", "inspect", "-f", "{{range .IPAM.Config}}{{.Gateway}}{{end}}", network)
    with httpx.Client(base_url=compose.gateway, timeout=30) as client:
        headers = _login(client, "student")
        sessions = client.get("/api/identity/v1/auth/sessions", headers=headers).json()
        # The gateway is the edge: an address a client claims is not believed (it would dodge throttling).
        spoofer = _login(client, "student", {"X-Forwarded-For": "203.0.113.9"})
        spoofed = client.get("/api/identity/v1/auth/sessions", headers=spoofer).json()
    [current] = [session for session in sessions if session["current"]]
    assert current["ip_address"] != gateway_ip, (gateway_ip, current)
    assert current["ip_address"] == host_side, (host_side, gateway_ip, current)
    [claimed] = [session for session in spoofed if session["current"]]
    assert claimed["ip_address"] == host_side, (host_side, claimed)


def test_the_compose_gateway_runs_with_the_local_gateways_connection_limits(compose: Compose) -> None:
    """The running gateway's own configuration (nginx -T): 16,384 connections a worker (Debian's default is
    768, and every viewer's SSE stream holds two), descriptors for them, and no real-IP rule (it is the edge)."""
    config = compose.docker("exec", compose.container("gateway"), "nginx", "-T")
    assert re.search(r"^\s*events\s*\{\s*worker_connections 16384;", config, re.M), config[:2000]
    assert re.search(r"^worker_rlimit_nofile 40000;", config, re.M)
    assert "worker_processes auto;" in config
    assert "set_real_ip_from" not in config and "real_ip_header" not in config
    # The workers' descriptor limit as nginx set it: 40,000, or the container's hard limit when that is
    # lower (the engine's own: 20,000 on the machines engine.sh was written on, where nothing can raise it).
    limits = compose.docker("exec", compose.container("gateway"), "sh", "-c",
                            "grep 'Max open files' /proc/$(cat /run/nginx.pid)/limits; "
                            "for p in /proc/[0-9]*; do case \"$(tr '\\0' ' ' <$p/cmdline 2>/dev/null)\" in "
                            "'nginx: worker process'*) grep 'Max open files' $p/limits;; esac; done").splitlines()
    container_hard = int(limits[0].split()[4])
    worker_limits = [int(line.split()[3]) for line in limits[1:]]
    assert worker_limits and all(limit == min(40000, container_hard) for limit in worker_limits), limits


def test_the_kubernetes_gateway_config_believes_the_ingress_and_no_one_else(compose: Compose, tmp_path: Path) -> None:
    """deploy/k8s's gateway ConfigMap in the gateway image, its routes to a stand-in API that answers with
    the X-Forwarded-For it got. The test's requests reach it from the engine's network gateway, a private
    address, as an ingress controller's pod would: the address it appended is the caller; an address a
    client wrote before it is not; a request with no header is the connecting address."""
    sys.path.insert(0, str(ROOT / "deploy/k8s"))
    import generate

    configs = {"cuepoint.conf": generate.GATEWAY_CONF, "real-ip.conf": generate.real_ip_conf(),
               "workers.conf": generate.GATEWAY_WORKERS}
    for name, text in configs.items():
        (tmp_path / name).write_text(text)
    tmp_path.chmod(0o755)
    suffix = uuid.uuid4().hex[:6]
    network, api, gateway, port = f"k8s-gateway-{suffix}", f"k8s-api-{suffix}", f"k8s-gateway-{suffix}", _free_port()
    echo = ("import http.server\n"
            "class H(http.server.BaseHTTPRequestHandler):\n"
            "    def do_GET(self):\n"
            "        body = (self.headers.get('X-Forwarded-For') or '-').encode()\n"
            "        self.send_response(200); self.send_header('Content-Length', str(len(body))); self.end_headers()\n"
            "        self.wfile.write(body)\n"
            "http.server.ThreadingHTTPServer(('0.0.0.0', 8001), H).serve_forever()\n")
    aliases = [arg for s in ("identity", "content", "assessment", "progress", "analytics") for arg in ("--network-alias", f"{s}-api")]
    compose.docker("network", "create", network)
    try:
        compose.docker("run", "-d", "--name", api, "--network", network, *aliases, "--entrypoint", "python",
                       "cuepoint/identity:local", "-c", echo)
        compose.docker("run", "-d", "--name", gateway, "--network", network, "-p", f"127.0.0.1:{port}:8080",
                       *(arg for name in ("cuepoint.conf", "real-ip.conf") for arg in
                         ("-v", f"{tmp_path / name}:/etc/nginx/conf.d/{name}:ro")),
                       "-v", f"{tmp_path / 'workers.conf'}:/etc/nginx/main.d/workers.conf:ro", "cuepoint/gateway:local")
        host_side = compose.docker("network", "inspect", "-f", "{{range .IPAM.Config}}{{.Gateway}}{{end}}", network)
        base = f"http://127.0.0.1:{port}"

        def seen(headers: dict[str, str]) -> str | None:
            try:
                response = httpx.get(f"{base}/api/identity/whoami", headers=headers, timeout=5)
            except httpx.HTTPError:
                return None
            return response.text if response.status_code == 200 else None

        assert _eventually(lambda: seen({}), 60), compose.docker("logs", gateway)
        assert seen({"X-Forwarded-For": "198.51.100.7"}) == "198.51.100.7"
        assert seen({"X-Forwarded-For": "203.0.113.66, 198.51.100.7"}) == "198.51.100.7"
        assert seen({}) == host_side
        assert "worker_processes 2;" in compose.docker("exec", gateway, "nginx", "-T")
    finally:
        _run(["docker", "rm", "-f", api, gateway], compose.env, 60)
        _run(["docker", "network", "rm", network], compose.env, 60)


def test_the_data_team_reads_kafka_from_the_host(compose: Compose) -> None:
    async def topics() -> set[str]:
        admin = AIOKafkaAdminClient(bootstrap_servers=compose.kafka, request_timeout_ms=10_000)
        await admin.start()
        try:
            return set(await admin.list_topics())
        finally:
            await admin.close()
    assert {topic.name for topic in all_topics()} <= asyncio.run(topics())


def test_prometheus_scrapes_every_process_the_broker_and_postgres_healthy(compose: Compose) -> None:
    """Every api, worker (both analytics replicas) and relay, the broker's agent and PostgreSQL's exporter
    answer Prometheus inside the compose network, labelled as make up labels them, with the rules loaded."""
    expected = {(s, p) for s in ("identity", "content", "assessment", "progress", "analytics")
                for p in ("api", "worker", "relay")} | {("kafka", "broker-1"), ("postgres", "exporter")}
    with httpx.Client(base_url=compose.prometheus, timeout=10) as client:
        def targets() -> list[dict] | None:
            try:
                active = client.get("/api/v1/targets").json()["data"]["activeTargets"]
            except (httpx.HTTPError, KeyError, ValueError):
                return None
            seen = {(t["labels"].get("service"), t["labels"].get("process")) for t in active}
            healthy = all(t["health"] == "up" for t in active)
            return active if healthy and seen == expected and len(active) == len(expected) + 1 else None

        active = _eventually(targets, timeout=180)
        assert active, client.get("/api/v1/targets").text[-3000:]
        rules = [rule for group in client.get("/api/v1/rules").json()["data"]["groups"] for rule in group["rules"]]
        assert any(rule["name"] == "CuepointConsumerLagGrowing" for rule in rules)
        assert all(rule["health"] == "ok" for rule in rules)
        tables = client.get("/api/v1/query", params={"query": 'pg_stat_user_tables_n_live_tup{schemaname="content"}'})
        assert tables.json()["data"]["result"], "PostgreSQL's exporter gives no table of content's schema"


def test_a_killed_worker_is_restarted_and_loses_no_event(compose: Compose) -> None:
    worker = compose.container("progress-worker")
    restarts = int(compose.docker("inspect", "--format", "{{.RestartCount}}", worker))
    with httpx.Client(base_url=compose.gateway, timeout=30) as client:
        student = _login(client, "student")
        lesson = _demo_lesson(client, student)
        before = client.get("/api/progress/v1/resume", params={"lesson_id": lesson["id"]}, headers=student).json()
        # SIGKILL its process from the host, as a crash or the OOM killer would (`docker kill` counts as a
        # manual stop, which no restart policy undoes).
        os.kill(int(compose.docker("inspect", "--format", "{{.State.Pid}}", worker)), signal.SIGKILL)
        # While it is down (and as it comes back), the student goes on watching: 20 s to 45 s (the second
        # required milestone) in five heartbeats. A lost one would leave a gap in what counts as watched.
        # They are 3 s apart: progress counts no more playback than the time between two heartbeats allows.
        device = f"compose-{uuid.uuid4().hex[:6]}"
        for start in range(20, 45, 5):
            time.sleep(3)
            response = client.post("/api/analytics/v1/events", headers=student, json={"device_id": device, "events": [
                {"type": "video.heartbeat", "lesson_id": lesson["id"], "video_id": before["video_id"],
                 "position": start + 5, "played": [{"start": start, "end": start + 5}]}]})
            assert response.status_code in (200, 202), response.text
        assert _eventually(lambda: compose.docker("inspect", "--format", "{{.State.Running}} {{.RestartCount}}", worker)
                           == f"true {restarts + 1}", 60), "compose did not restart the killed worker"

        def watched() -> list:
            resume = client.get("/api/progress/v1/resume", params={"lesson_id": lesson["id"]}, headers=student).json()
            return resume["watched"] if resume["position"] >= 45 else []
        segments = _eventually(lambda: [s for s in watched() if s[0] <= 20 and s[1] >= 45], 90)
        assert segments, f"the watched segments have a gap after the restart: {watched() or before['watched']}"


def test_teardown_leaves_no_container_network_or_volume(compose: Compose) -> None:
    assert all(compose.leftovers().values())  # there is something to remove
    down = _run([str(ROOT / "deploy/docker/compose.sh"), "purge"], compose.env, 300)
    assert down.returncode == 0, down.stderr
    assert compose.leftovers() == {"containers": [], "networks": [], "volumes": []}


def test_the_compose_file_is_valid_for_the_installed_compose(compose: Compose) -> None:
    result = _run(["docker-compose", "-f", str(ROOT / "docker-compose.yml"), "config", "-q"], compose.env, 60)
    assert result.returncode == 0, result.stderr

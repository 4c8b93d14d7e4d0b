"""The gateway image's nginx configuration (deploy/docker/: gateway-nginx.conf as nginx.conf, gateway.conf
its routes in compose), read as the image is built from them; tests/docker/test_gateway.py checks the
built image's own `nginx -T`."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "deploy/docker"


def test_the_image_uses_its_own_main_configuration() -> None:
    dockerfile = (DOCKER / "gateway.Dockerfile").read_text()
    assert "COPY deploy/docker/gateway-nginx.conf /etc/nginx/nginx.conf" in dockerfile
    assert "COPY deploy/docker/gateway.conf /etc/nginx/conf.d/cuepoint.conf" in dockerfile
    assert "echo 'worker_processes auto;' >/etc/nginx/main.d/workers.conf" in dockerfile


def test_the_compose_gateway_takes_as_many_connections_as_the_local_one() -> None:
    """Every signed-in viewer's SSE stream holds two connections; Debian's default 768 turned viewers away
    at a few hundred. The local gateway's limits (deploy/local/services.sh), descriptors for both ends."""
    main = (DOCKER / "gateway-nginx.conf").read_text()
    connections = [int(n) for n in re.findall(r"^\s*events\s*\{\s*worker_connections\s+(\d+);", main, re.M)]
    files = [int(n) for n in re.findall(r"^worker_rlimit_nofile\s+(\d+);", main, re.M)]
    assert connections == [16384], connections
    assert files and files[0] >= 2 * connections[0], files
    local = (ROOT / "deploy/local/services.sh").read_text()
    assert "events { worker_connections 16384; }" in local and "worker_rlimit_nofile 40000;" in local


def test_the_compose_gateway_is_the_edge_and_believes_no_forwarded_header() -> None:
    """In compose the gateway is what browsers connect to: an X-Forwarded-For a client sends must not
    become its address (the APIs believe the gateway's header: CUEPOINT_TRUSTED_PROXIES). Only Kubernetes'
    ConfigMap (behind an Ingress) has real-IP rules."""
    for name in ("gateway-nginx.conf", "gateway.conf"):
        config = (DOCKER / name).read_text()
        code = "\n".join(line.split("#", 1)[0] for line in config.splitlines())
        assert not re.search(r"\b(set_real_ip_from|real_ip_header|real_ip_recursive)\b", code), name
        assert "$proxy_add_x_forwarded_for" not in code and "$http_x_forwarded_for" not in code, name
    assert "proxy_set_header X-Forwarded-For $remote_addr;" in (DOCKER / "gateway.conf").read_text()

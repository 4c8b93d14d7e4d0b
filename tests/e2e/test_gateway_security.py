"""The gateway as a browser and an attacker meet it (issue 16, finding 9; and 6 for forwarded
addresses): security headers on every answer, a CSP the built web client works under, no version in
Server, /metrics not public, personal API answers not cached, and the gateway's own errors as
problem+json like every service's."""

from __future__ import annotations

import re
import socket
from urllib.parse import urlsplit

import httpx
import pytest

pytestmark = pytest.mark.e2e

SECURITY_HEADERS = ("content-security-policy", "x-content-type-options", "x-frame-options", "referrer-policy")


def _secured(response: httpx.Response) -> None:
    missing = [name for name in SECURITY_HEADERS if name not in response.headers]
    assert not missing, f"{response.request.url}: no {missing}"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert response.headers.get("server", "nginx") == "nginx", "the version is not told"


def _problem(response: httpx.Response, status: int) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json"), response.headers
    assert response.json()["status"] == status


async def test_every_answer_carries_the_security_headers_and_the_client_fits_its_csp(platform) -> None:
    async with httpx.AsyncClient(base_url=platform.gateway) as client:
        index = await client.get("/")
        _secured(index)
        csp = index.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert "strict-transport-security" not in index.headers, "no HSTS over plain HTTP"
        # What the built client loads is its own (no inline script: the CSP allows none), and is served
        # with the same headers.
        html = index.text
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "an inline script: the CSP would block it"
        assets = re.findall(r'(?:src|href)="(/[^"]+)"', html)
        assert assets and all(not urlsplit(a).netloc for a in assets)
        for asset in assets:
            loaded = await client.get(asset)
            assert loaded.status_code == 200, asset
            _secured(loaded)
        _secured(await client.get("/lessons/some-route"))  # the client's routes: index.html
        # Behind a TLS terminator (X-Forwarded-Proto: https), HSTS is sent.
        tls = await client.get("/", headers={"X-Forwarded-Proto": "https"})
        assert tls.headers["strict-transport-security"].startswith("max-age=31536000")
        # Swagger UI stays usable: its pages alone may run their inline start-up script.
        docs = await client.get("/api/identity/docs")
        assert docs.status_code == 200 and "'unsafe-inline'" in docs.headers["content-security-policy"]


async def test_metrics_are_not_public_and_personal_answers_are_not_cached(platform) -> None:
    async with httpx.AsyncClient(base_url=platform.gateway) as client:
        for service in ("identity", "content", "assessment", "progress", "analytics"):
            for path in (f"/api/{service}/metrics", f"/api/{service}//metrics", f"/api/{service}/%6detrics"):
                refused = await client.get(path)
                _problem(refused, 404)
                _secured(refused)
        port = platform.env["CUEPOINT_IDENTITY_PORT"]
        async with httpx.AsyncClient() as direct:  # Prometheus still scrapes the service itself
            assert (await direct.get(f"http://127.0.0.1:{port}/metrics")).status_code == 200
        login = await client.post("/api/identity/v1/auth/login", json={
            "tenant": "demo", "email": "student@example.com", "password": "Demo123!"})
        assert login.status_code == 200 and login.headers["cache-control"] == "no-store"
        me = await client.get("/api/identity/v1/users/me",
                              headers={"Authorization": f"Bearer {login.json()['access_token']}"})
        assert me.status_code == 200 and me.headers["cache-control"] == "no-store"
        _secured(me)


async def test_the_gateways_own_errors_are_problems(platform) -> None:
    async with httpx.AsyncClient(base_url=platform.gateway) as client:
        too_large = await client.post("/api/analytics/v1/events", content=b"x" * (3 * 1024 * 1024),
                                      headers={"Content-Type": "application/json"})
        _problem(too_large, 413)
        _secured(too_large)
        _problem(await client.get("/assets/no-such-file.js"), 404)
        _problem(await client.get("/api/nowhere/v1/x"), 404)
    host, port = urlsplit(platform.gateway).hostname, urlsplit(platform.gateway).port
    with socket.create_connection((host, port), timeout=10) as raw:  # a request line nginx cannot parse
        raw.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nBroken header line\r\n\r\n")
        answer = b""
        while chunk := raw.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400"), head
    assert b"application/problem+json" in head and b'"status": 400' in body


async def test_a_client_cannot_name_its_own_address_through_the_gateway(platform) -> None:
    async with httpx.AsyncClient(base_url=platform.gateway) as client:
        login = await client.post("/api/identity/v1/auth/login", headers={"X-Forwarded-For": "192.0.2.77"}, json={
            "tenant": "demo", "email": "teacher@example.com", "password": "Demo123!", "device_id": "xff-probe"})
        assert login.status_code == 200, login.text
        sessions = (await client.get("/api/identity/v1/auth/sessions", headers={
            "Authorization": f"Bearer {login.json()['access_token']}"})).json()
    mine = [s for s in sessions if s["device_id"] == "xff-probe"]
    assert mine and all(s["ip_address"] == "127.0.0.1" for s in mine), mine

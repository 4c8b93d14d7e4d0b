"""The student's whole experience in a real browser: Playwright (web/e2e/) drives Debian's
Chromium against this platform — its gateway serving the built client (web/dist), the five
services, Kafka and PostgreSQL — with the demo lesson that `make up` seeds. Nothing is mocked.

A student invited by the demo admin opens the emailed link, registers, and takes the demo
lesson on one device, then resumes on another (web/e2e/student.spec.ts says each step)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import uuid
from email.message import Message
from pathlib import Path

import httpx
import pytest

from tests.support.mail import body

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "web"


def _seed(platform, tmp_path: Path) -> None:
    """The demo data as `make up` creates it, on this platform."""
    for command in ([sys.executable, "-m", "cuepoint.identity", "seed-demo"],
                    [sys.executable, str(ROOT / "deploy/local/demo.py"), "--gateway", platform.gateway,
                     "--video-dir", str(tmp_path / "demo")]):
        done = subprocess.run(command, env=platform.env, capture_output=True, text=True, timeout=300, check=False)
        assert done.returncode == 0, f"{command[-1]}: {done.stdout}\n{done.stderr}"


async def _invitation_link(platform, email: str) -> str:
    async with httpx.AsyncClient(base_url=platform.gateway, timeout=30) as client:
        login = await client.post("/api/identity/v1/auth/login",
                                  json={"tenant": "demo", "email": "admin@example.com", "password": "Demo123!"})
        assert login.status_code == 200, login.text
        invited = await client.post("/api/identity/v1/invitations", json={"email": email, "role": "STUDENT"},
                                    headers={"Authorization": f"Bearer {login.json()['access_token']}"})
        assert invited.status_code == 201, invited.text
    await platform.mailbox.token_for(email, timeout=20)
    message: Message = next(m for m in reversed(platform.mailbox.messages) if m["To"] == email)
    link = re.search(r"(http\S+/accept-invitation\?\S+)", body(message))
    assert link, body(message)
    assert link.group(1).startswith(platform.gateway), "the emailed link must point at this platform's gateway"
    return link.group(1)


async def test_a_student_takes_the_demo_lesson_in_chromium(platform, tmp_path: Path) -> None:
    if not (WEB / "dist" / "index.html").exists():
        pytest.fail("the web client is not built: run `make web`")
    if not Path(os.environ.get("CUEPOINT_CHROMIUM", "/usr/bin/chromium")).exists():
        pytest.fail("Debian's Chromium is missing: run `deploy/local/web.sh browser`")
    _seed(platform, tmp_path)
    email = f"learner-{uuid.uuid4().hex[:8]}@example.com"
    link = await _invitation_link(platform, email)
    # Screenshots of every step, kept after the run (git-ignored): web/test-results/
    output = Path(os.environ.get("CUEPOINT_WEB_OUTPUT", WEB / "test-results"))
    result = subprocess.run(
        [shutil.which("npx") or "npx", "playwright", "test", "--reporter=list"],
        cwd=WEB, capture_output=True, text=True, timeout=900, check=False,
        env={**os.environ, "CUEPOINT_WEB_URL": platform.gateway, "CUEPOINT_WEB_OUTPUT": str(output),
             "CUEPOINT_INVITATION_LINK": link, "CUEPOINT_STUDENT_EMAIL": email,
             "PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD": "1"})
    print(result.stdout[-8000:])
    screenshots = sorted(p.name for p in output.rglob("*.png"))
    print("screenshots:", output, screenshots)
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-3000:]
    assert re.search(r"\b\d+ passed", result.stdout), result.stdout[-2000:]
    assert len(screenshots) >= 8, screenshots

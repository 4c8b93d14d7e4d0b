"""The local gateway (deploy/local/services.sh gateway_config) and the images' (deploy/docker/gateway.conf)
apply the same security rules (issue 16, finding 9); tests/e2e/test_gateway_security.py checks the local
one's answers."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
RULES = ("server_tokens off;", "add_header X-Content-Type-Options nosniff always;",
         "add_header Referrer-Policy same-origin always;", "add_header X-Frame-Options DENY always;",
         "add_header Strict-Transport-Security $hsts always;", "add_header Cache-Control $api_cache_control always;",
         "location ~ ^/api/[^/]+/metrics(/|$)", "proxy_set_header X-Forwarded-For $remote_addr;")


def _local() -> str:
    # The script without its command dispatch, read from a pipe: its own ROOT (from its path) is given.
    script = f'set --; source <(sed -e "s#^ROOT=.*#ROOT={ROOT}#" -e "/^case \\"\\${{1:-}}\\" in/,\\$d" ' \
             f'{ROOT}/deploy/local/services.sh); ' \
             'WEB_SERVED=/srv/web; gateway_config'
    return subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True).stdout


def test_both_gateways_apply_the_same_rules() -> None:
    local, docker = _local(), (ROOT / "deploy/docker/gateway.conf").read_text()
    for config in (local, docker):
        missing = [rule for rule in RULES if rule not in config]
        assert not missing, missing
    policies = [set(re.findall(r'Content-Security-Policy "([^"]+)"', config)) for config in (local, docker)]
    assert policies[0] == policies[1] and len(policies[0]) == 2, policies  # the client's, and Swagger UI's
    errors = [set(re.findall(r"error_page (\d+) ", config)) for config in (local, docker)]
    assert errors[0] == errors[1] and {"400", "413", "502", "504"} <= errors[0]

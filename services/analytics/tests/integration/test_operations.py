"""The operations commands (``python -m cuepoint.analytics verify|partitions``) on the real PostgreSQL."""

from __future__ import annotations

import argparse
import json

from cuepoint.analytics.operations import COMMANDS
from cuepoint.runtime.service import ServiceContext


def test_verify_walks_every_chain_and_fails_if_one_is_broken(analytics_settings, admin_connection, capsys):
    chains = {str(t) for (t,) in admin_connection.execute("SELECT tenant_id FROM analytics.audit_heads")}
    code = COMMANDS["verify"].run(ServiceContext("analytics", analytics_settings), argparse.Namespace(tenant=None))
    results = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {r["tenant_id"] for r in results} == chains
    assert code == (0 if all(r["intact"] for r in results) else 1)


def test_partitions_creates_months_ahead_and_detaches_only_what_is_named(analytics_settings, capsys):
    context = ServiceContext("analytics", analytics_settings)
    assert COMMANDS["partitions"].run(context, argparse.Namespace(ahead=3, detach_before="1999-01")) == 0
    out = capsys.readouterr().out
    assert "month(s) ahead" in out and "detached" not in out

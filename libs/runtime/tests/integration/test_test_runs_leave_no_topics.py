"""A test run drops the topics it created on the shared broker. Left behind, they piled up to
~9,200 partitions: a restart of the broker then took 1.5 minutes to open its port and 4 to 6
more to lead every partition again, and a service whose partitions came last published nothing
meanwhile (the content relay at 13:18 on 2 Dec 2026, issue 18)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from tests.support.platform import ROOT, Infra, eventually

pytestmark = pytest.mark.integration

INNER = '''
import os

def test_uses_topics(infra, topics):
    open(os.environ["PREFIX_FILE"], "w").write(infra.topic_prefix)
    assert topics
'''


async def test_a_test_run_drops_the_topics_it_created(infra: Infra, tmp_path) -> None:
    (tmp_path / "inner").mkdir()
    (tmp_path / "inner" / "test_inner.py").write_text(INNER)
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "tests.support.platform", "-p", "no:cacheprovider",
         f"--rootdir={ROOT}", "-c", str(ROOT / "pyproject.toml"), f"--basetemp={tmp_path / 'inner' / 'tmp'}",
         str(tmp_path / "inner" / "test_inner.py")],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT), "PREFIX_FILE": str(tmp_path / "prefix")}, capture_output=True, text=True, timeout=300,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    prefix = (tmp_path / "prefix").read_text()

    async def leftovers() -> list[str]:
        admin = AIOKafkaAdminClient(bootstrap_servers=infra.bootstrap_servers)
        await admin.start()
        try:
            return [name for name in await admin.list_topics() if name.startswith(prefix)]
        finally:
            await admin.close()

    async def none_left() -> bool:
        return not await leftovers()

    await eventually(none_left, timeout=20, message=f"the run left its topics: {await leftovers()}")

"""The generation queue's gauges as the runner sets them from generation_queue_stats() (one row per
provider with jobs): a provider whose jobs are gone reads 0, not the figures of its last sample."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY

from cuepoint.runtime.metrics import set_generation_queue

pytestmark = pytest.mark.unit


def _jobs(provider: str, state: str) -> float | None:
    return REGISTRY.get_sample_value("cuepoint_generation_queue_jobs", {"provider": provider, "state": state})


def _oldest(provider: str) -> float | None:
    return REGISTRY.get_sample_value("cuepoint_generation_queue_oldest_waiting_age_seconds", {"provider": provider})


def test_the_queue_gauges_follow_each_sample_and_an_emptied_provider_reads_zero() -> None:
    set_generation_queue([("OPENAI", 4, 2, 1, 95.5)], providers=("OFFLINE", "OPENAI"))
    assert [_jobs("OPENAI", s) for s in ("waiting", "running", "deferred")] == [4, 2, 1]
    assert _oldest("OPENAI") == 95.5
    assert [_jobs("OFFLINE", s) for s in ("waiting", "running", "deferred")] == [0, 0, 0]  # known, no jobs
    assert _oldest("OFFLINE") == 0

    set_generation_queue([("OFFLINE", 3, 0, 0, 7.0), ("UNKNOWN", 1, 0, 0, 2.0)])
    assert [_jobs("OPENAI", s) for s in ("waiting", "running", "deferred")] == [0, 0, 0]
    assert _oldest("OPENAI") == 0
    assert _jobs("OFFLINE", "waiting") == 3 and _oldest("OFFLINE") == 7.0 and _jobs("UNKNOWN", "waiting") == 1

    set_generation_queue([])
    assert _jobs("UNKNOWN", "waiting") == 0 and _jobs("OFFLINE", "waiting") == 0
    assert REGISTRY.get_sample_value("cuepoint_generation_queue_sampled_timestamp_seconds", {"service": "assessment"}) > 0

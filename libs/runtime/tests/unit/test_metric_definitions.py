"""Every metric of runtime/metrics.py has labels: the module is imported by every process, and an
unlabelled metric is exported by each of them at 0 — an identity API reporting "analytics' read
replica is down" (cuepoint_analytics_read_replica_up 0), as a live run showed before it was labelled."""

from __future__ import annotations

import pytest
from prometheus_client.metrics import MetricWrapperBase

from cuepoint.runtime import metrics

pytestmark = pytest.mark.unit


def test_no_metric_is_exported_by_a_process_that_never_sets_it():
    defined = {name: value for name, value in vars(metrics).items() if isinstance(value, MetricWrapperBase)}
    assert len(defined) > 20  # the module's definitions were found
    unlabelled = sorted(name for name, metric in defined.items() if not metric._labelnames)  # noqa: SLF001
    assert unlabelled == []

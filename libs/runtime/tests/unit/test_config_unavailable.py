"""A request that needs a system config while Kafka cannot be reached is a 503 with Retry-After,
not a 500 (seen live: content's upload answered 500 "KafkaConnectionError" while the broker restarted)."""

from __future__ import annotations

import pytest

from cuepoint.runtime.errors import Unavailable
from cuepoint.runtime.service import ServiceContext
from cuepoint.runtime.settings import RuntimeSettings

pytestmark = pytest.mark.unit


async def test_a_config_read_without_kafka_is_unavailable_and_retried_later() -> None:
    context = ServiceContext("content", RuntimeSettings(service="content", kafka_bootstrap="127.0.0.1:1"))
    try:
        with pytest.raises(Unavailable) as refused:
            await context.config("video.maxFileSize", None)
        assert refused.value.extensions.get("retry_after") == 5
        assert "system configuration" in refused.value.detail
        # Not cached as broken: the next request tries again.
        with pytest.raises(Unavailable):
            await context.config("video.maxFileSize", None)
    finally:
        await context.close()

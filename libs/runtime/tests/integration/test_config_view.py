"""The system-config view validates each record of the compacted topic on its own: one bad
record (a value its key's type refuses, e.g. one written before the type was tightened) is
logged, counted and skipped, the last good value stays, and the rest of the fetch applies."""

from __future__ import annotations

import logging
import uuid

import pytest
from aiokafka import AIOKafkaProducer
from prometheus_client import REGISTRY

from cuepoint.contracts.envelope import Envelope
from cuepoint.contracts.identity import SystemConfigChanged
from cuepoint.contracts.topics import SYSTEM_CONFIGS
from cuepoint.runtime.config_view import SystemConfigView
from cuepoint.runtime.kafka import ensure_topics, prefixed
from tests.support.platform import Infra, eventually

pytestmark = pytest.mark.integration

THRESHOLD = "grading.passingThreshold"
ATTEMPTS = "grading.defaultMaxAttempts"
PLATFORM = uuid.UUID(int=0)


def _change(key: str, value: object) -> bytes:
    data = SystemConfigChanged(config_id=f"platform:{key}", key=key, value=value)
    return Envelope[SystemConfigChanged](event_type=data.event_type, tenant_id=PLATFORM, producer="identity",
                                         key=data.config_id, data=data).model_dump_json().encode()


def _rejected(key: str) -> float:
    return REGISTRY.get_sample_value("cuepoint_system_config_records_rejected_total", {"key": key}) or 0.0


@pytest.fixture
async def configs_topic(infra: Infra) -> tuple[str, AIOKafkaProducer]:
    prefix = f"{infra.topic_prefix}configs-{uuid.uuid4().hex[:6]}."
    await ensure_topics(infra.bootstrap_servers, prefixed([SYSTEM_CONFIGS], prefix))
    producer = AIOKafkaProducer(bootstrap_servers=infra.bootstrap_servers)
    await producer.start()
    yield prefix, producer
    await producer.stop()


async def test_a_bad_record_is_skipped_counted_and_logged_and_the_rest_applies(
        infra: Infra, configs_topic: tuple[str, AIOKafkaProducer], caplog: pytest.LogCaptureFixture) -> None:
    prefix, producer = configs_topic
    topic = prefix + SYSTEM_CONFIGS.name
    # On the topic before the view starts (a restart): good, bad, then another key's good change.
    for value in (_change(THRESHOLD, 55), _change(THRESHOLD, "not-a-number"), _change(ATTEMPTS, 7)):
        await producer.send_and_wait(topic, value, key=b"k")
    rejected_before = _rejected(THRESHOLD)
    view = SystemConfigView(infra.bootstrap_servers, topic_prefix=prefix)
    caplog.set_level(logging.WARNING, logger="cuepoint.runtime.config_view")
    try:
        await view.start(timeout=20)
        assert view.get(THRESHOLD) == 55.0  # the last good value, kept
        assert view.get(ATTEMPTS) == 7  # the record after the bad one applied
        assert _rejected(THRESHOLD) == rejected_before + 1
        assert view.healthy()

        # While following: a bad record then a good one in the same fetch.
        await producer.send_and_wait(topic, _change(ATTEMPTS, "seven"), key=b"k")
        await producer.send_and_wait(topic, _change(THRESHOLD, 60), key=b"k")

        async def followed() -> bool:
            return view.get(THRESHOLD) == 60.0

        await eventually(followed, timeout=20, message="the good change after a bad one is applied")
        assert view.get(ATTEMPTS) == 7
        assert _rejected(ATTEMPTS) >= 1
        assert view.healthy()
    finally:
        await view.stop()
    messages = [record.getMessage() for record in caplog.records]
    assert any("rejected a system-config record" in message for message in messages), messages
    assert not any("lost Kafka" in message for message in messages), messages

"""An event type no contract knows (a newer producer, a typo) is skipped as before, but never
without a trace: it is counted in a metric and logged, once per consumer group and type."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field

import pytest
from prometheus_client import REGISTRY

from cuepoint.runtime.consumer import BatchConsumer, IdempotentConsumer

pytestmark = pytest.mark.unit


@dataclass
class Record:
    value: bytes | None
    headers: list[tuple[str, bytes]] = field(default_factory=list)
    topic: str = "content.events"
    partition: int = 0
    offset: int = 0
    key: bytes | None = None


def _unknown(*, group: str, event_type: str) -> float:
    return REGISTRY.get_sample_value("cuepoint_consumer_unknown_event_types_total",
                                     {"group": group, "event_type": event_type}) or 0.0


def _record(event_type: str, *, header: bool = True) -> Record:
    body = (b'{"event_id":"%s","event_type":"%s","occurred_at":"2026-01-01T00:00:00Z","tenant_id":"%s",'
            b'"producer":"content","key":"k","data":{}}' % (str(uuid.uuid4()).encode(), event_type.encode(),
                                                          str(uuid.uuid4()).encode()))
    return Record(body, [("event_type", event_type.encode())] if header else [])


def _consumer(kind: type, group: str):
    options = {"sessions": None, "schema": "probe", "group_id": group, "dead_letters": None}
    if kind is IdempotentConsumer:
        return IdempotentConsumer(handlers={"content.lesson.created.v1": None}, **options)
    return BatchConsumer(handler=None, event_types=["content.lesson.created.v1"], **options)


@pytest.mark.parametrize("header", [True, False], ids=["routed-on-header", "read-from-envelope"])
async def test_an_unknown_event_type_is_counted_and_logged_once(header: bool, caplog: pytest.LogCaptureFixture) -> None:
    group = f"probe-{uuid.uuid4().hex[:6]}"
    consumer = _consumer(IdempotentConsumer, group)
    caplog.set_level(logging.WARNING, logger="cuepoint.runtime.consumer")
    for _ in range(3):
        await consumer.handle_record(_record("content.hologram.created.v9", header=header))
    assert _unknown(group=group, event_type="content.hologram.created.v9") == 3
    warnings = [r for r in caplog.records if "unknown event type" in r.getMessage()]
    assert len(warnings) == 1 and warnings[0].__dict__["event_type"] == "content.hologram.created.v9"


async def test_a_known_type_the_consumer_does_not_handle_is_not_unknown() -> None:
    group = f"probe-{uuid.uuid4().hex[:6]}"
    consumer = _consumer(BatchConsumer, group)
    await consumer.handle_batch([_record("progress.lesson.completed.v1"), _record("content.hologram.created.v9")])
    assert _unknown(group=group, event_type="progress.lesson.completed.v1") == 0
    assert _unknown(group=group, event_type="content.hologram.created.v9") == 1

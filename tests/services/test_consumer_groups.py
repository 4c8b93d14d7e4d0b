"""Environments sharing a Kafka cluster (the platform, a test run, a benchmark) are told apart by
a prefix; it is on their consumer groups as on their topics, so none joins another's group."""

from __future__ import annotations

import importlib

import pytest
from faststream.kafka import KafkaBroker

from cuepoint.contracts.topics import SERVICES
from cuepoint.runtime.consumer import DeadLetters
from cuepoint.runtime.service import ServiceContext

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("service", SERVICES)
def test_every_consumer_group_and_topic_carries_the_environment_prefix(service: str) -> None:
    spec = importlib.import_module(f"cuepoint.{service}.bootstrap").spec()
    groups: dict[str, set[str]] = {}
    for prefix in ("", "staging-7."):
        broker = KafkaBroker("127.0.0.1:1")  # never connected: subscribing only declares
        spec.consumers(ServiceContext(service, spec.settings(topic_prefix=prefix)), broker,
                       DeadLetters("127.0.0.1:1", client_id="test"))
        assert broker.subscribers
        for subscriber in broker.subscribers:
            assert subscriber.group_id.startswith(f"{prefix}{service}.")
            assert all(topic.name.startswith(prefix) for topic in subscriber.topics)
        groups[prefix] = {subscriber.group_id for subscriber in broker.subscribers}
    assert groups[""].isdisjoint(groups["staging-7."])

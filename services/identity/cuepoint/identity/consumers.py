"""Which consumer group reads which topic into which projection: identity's notifications hear of
content's and assessment's events."""

from __future__ import annotations

from faststream.kafka import KafkaBroker

from cuepoint.contracts.topics import ASSESSMENT_EVENTS, CONTENT_EVENTS
from cuepoint.runtime.consumer import DeadLetters, IdempotentConsumer
from cuepoint.runtime.service import ServiceContext

from .projections import Notifications


def subscribe(context: ServiceContext, broker: KafkaBroker, dead_letters: DeadLetters,
              notifications: Notifications) -> None:
    handlers = notifications.handlers()
    for topic in (CONTENT_EVENTS, ASSESSMENT_EVENTS):
        context.subscribe(IdempotentConsumer(
            sessions=context.sessions, schema="identity", group_id=f"identity.notifications.{topic.producer}",
            handlers={t: h for t, h in handlers.items() if t.startswith(f"{topic.producer}.")},
            dead_letters=dead_letters, max_tries=context.settings.consumer_max_tries), broker, topic.name)

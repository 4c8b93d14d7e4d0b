"""Which consumer group reads which topic into which projection (projections.py)."""

from __future__ import annotations

from faststream.kafka import KafkaBroker

from cuepoint.contracts.topics import ASSESSMENT_EVENTS
from cuepoint.runtime.consumer import DeadLetters, IdempotentConsumer
from cuepoint.runtime.service import ServiceContext

from . import projections

# assessment's questions, for the playback lookup's approved-question counts.
HANDLERS = {
    "assessment.questions.generated.v1": projections.questions_generated,
    "assessment.question.approved.v1": projections.question_approved,
    "assessment.question.rejected.v1": projections.question_rejected,
}


def subscribe(context: ServiceContext, broker: KafkaBroker, dead_letters: DeadLetters) -> None:
    context.subscribe(IdempotentConsumer(
        sessions=context.sessions, schema="content", group_id="content.questions-projection", handlers=HANDLERS,
        dead_letters=dead_letters, max_tries=context.settings.consumer_max_tries), broker, ASSESSMENT_EVENTS.name)

"""The event contracts: naming, documentation, topics, snapshots and compatibility."""

from __future__ import annotations

import json
import uuid

import pytest
from pydantic import ValidationError

from cuepoint.contracts.assessment import AttemptGraded, QuestionsGenerated
from cuepoint.contracts.content import VideoUploaded
from cuepoint.contracts.envelope import EVENT_TYPE_PATTERN, Envelope, new_envelope
from cuepoint.contracts.registry import EVENT_TYPES, envelope_schema, parse_envelope
from cuepoint.contracts.snapshots import review, snapshot_path
from cuepoint.contracts.topics import TOPICS_BY_NAME

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_every_event_is_named_documented_and_routed(event_type: str) -> None:
    model = EVENT_TYPES[event_type]
    match = EVENT_TYPE_PATTERN.match(event_type)
    assert match, event_type
    assert model.model_config.get("frozen") is True
    assert model.model_config.get("extra") == "ignore", "cross-service models must ignore unknown fields"
    assert (model.__doc__ or "").strip(), f"{model.__name__} needs a docstring saying when it is emitted"
    assert "Key:" in model.__doc__, f"{model.__name__}'s docstring must name its key"
    for name, field in model.model_fields.items():
        assert field.description, f"{model.__name__}.{name} needs Field(description=...)"
    assert model.topic in TOPICS_BY_NAME, f"{event_type} goes to unregistered topic {model.topic}"
    assert match["service"] in TOPICS_BY_NAME[model.topic].producers


def test_snapshots_are_committed_current_and_compatible() -> None:
    result = review()
    assert not result.breaking, f"breaking changes: {result.breaking} — publish a new .vN instead"
    assert not result.vanished, f"event types removed: {result.vanished}"
    assert not result.missing, f"no snapshot for {result.missing}: run `make schemas`"
    assert not result.stale, f"snapshots out of date for {result.stale}: run `make schemas`"


def test_required_payload_fields_of_the_key_events() -> None:
    """What consumers of the three key events rely on (and the data team reads)."""
    required = {
        VideoUploaded: {"video_id", "lesson_id", "storage_path", "content_type", "size_bytes", "checksum"},
        QuestionsGenerated: {"job_id", "lesson_id", "questions", "provider", "model"},
        AttemptGraded: {"attempt_id", "student_id", "question_id", "lesson_id", "attempt_number", "is_correct",
                        "score", "max_score", "milestone_answered", "answered_at"},
    }
    for model, fields in required.items():
        schema = json.loads(snapshot_path(model.event_type).read_text())
        data = schema["$defs"][model.__name__]
        assert fields <= set(data["required"]), model.__name__


def _attempt(**overrides: object) -> AttemptGraded:
    values: dict[str, object] = dict(
        attempt_id=uuid.uuid4(), student_id=uuid.uuid4(), question_id=uuid.uuid4(), milestone_id=None,
        lesson_id=uuid.uuid4(), attempt_number=1, max_attempts=3, is_correct=True, score="1.5", max_score="2",
        milestone_answered=True, answered_at="2026-01-01T00:00:00Z",
    )
    values.update(overrides)
    return AttemptGraded(**values)


def test_envelope_round_trip_and_key_from_payload() -> None:
    attempt = _attempt()
    tenant = uuid.uuid4()
    envelope = new_envelope(attempt, tenant_id=tenant, producer="assessment", correlation_id="req-1")
    assert envelope.key == str(attempt.student_id)
    assert envelope.event_id.version == 7
    assert envelope.headers() == {
        "event_type": "assessment.attempt.graded.v1", "event_id": str(envelope.event_id),
        "tenant_id": str(tenant), "correlation_id": "req-1",
    }
    parsed = parse_envelope(envelope.model_dump_json())
    assert isinstance(parsed.data, AttemptGraded)
    assert parsed == envelope


def test_unknown_fields_are_ignored_and_bad_payloads_rejected() -> None:
    raw = json.loads(new_envelope(_attempt(), tenant_id=uuid.uuid4(), producer="assessment").model_dump_json())
    raw["data"]["a_field_from_the_future"] = 1
    raw["also_new"] = True
    assert parse_envelope(json.dumps(raw)).data.attempt_number == 1
    raw["data"]["attempt_number"] = 0
    with pytest.raises(ValidationError):
        parse_envelope(json.dumps(raw))
    with pytest.raises(ValidationError):
        Envelope[dict].model_validate({"event_type": "Not.A.Name", "tenant_id": str(uuid.uuid4()),
                                       "producer": "x", "key": "k", "data": {}})


def test_snapshot_describes_topic_and_key() -> None:
    schema = envelope_schema("content.video.uploaded.v1")
    assert schema["x-topic"] == "content.events"
    assert schema["x-key"] == "video_id"

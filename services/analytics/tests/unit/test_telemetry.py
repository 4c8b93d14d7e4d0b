"""What a client may send, and the event ids that make a retried batch safe."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from cuepoint.analytics.domain.telemetry import (
    MAX_EVENTS,
    check_batch,
    client_event_record,
    foreign_fields,
    foreign_problems,
    holds_nul,
    may_hold_nul,
    named_ids,
    problems,
    retry_safe_event_id,
)
from cuepoint.runtime.errors import Invalid

pytestmark = pytest.mark.unit

USER = uuid.UUID(int=7)
NOW = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.mark.parametrize(("device_id", "items", "message"), [
    (None, [{}], "device_id"), ("", [{}], "device_id"), ("d" * 201, [{}], "device_id"), ("a\x00", [{}], "device_id"),
    ("d", [], "non-empty"), ("d", {"type": "x"}, "non-empty"), ("d", [{}] * (MAX_EVENTS + 1), "at most 500"),
])
def test_a_batch_without_a_device_or_with_no_or_too_many_events_is_refused(device_id, items, message):
    with pytest.raises(Invalid, match=message):
        check_batch(device_id, items)


def test_a_batch_of_one_to_500_events_passes():
    check_batch("d" * 200, [{}] * MAX_EVENTS)
    check_batch("d", [{}])


def test_an_event_is_recorded_with_the_caller_the_device_and_the_time_it_came():
    client_id = uuid.uuid4()
    record = client_event_record(USER, {"id": str(client_id), "type": "navigation", "path": "/"}, "d", NOW, "UA" * 400)
    assert (record.user_id, record.device_id, record.client_event_id, record.received_at) == (USER, "d", client_id, NOW)
    assert record.client_occurred_at == NOW and len(record.user_agent) == 500
    assert client_event_record(USER, {"type": "navigation", "path": "/"}, "d", NOW, "").user_agent is None


@pytest.mark.parametrize("item", ["not an object", {"type": "navigation", "path": "/\x00"}])
def test_an_event_that_is_not_an_object_or_holds_nul_is_refused(item):
    with pytest.raises(ValueError):
        client_event_record(USER, item, "d", NOW, None)


def test_an_event_the_contract_refuses_says_where():
    with pytest.raises(ValidationError) as refused:
        client_event_record(USER, {"type": "no-such-type"}, "d", NOW, None)
    found = problems(refused.value)
    assert found and len(found) <= 10 and all(set(p) == {"location", "message"} for p in found)
    assert problems(ValueError("an event is an object")) == [{"location": "", "message": "an event is an object"}]


@given(st.recursive(st.text(max_size=5), lambda inner: st.lists(inner, max_size=3)
                    | st.dictionaries(st.text(max_size=3), inner, max_size=3)))
def test_nul_is_found_anywhere_in_an_event(value):
    def texts(v):
        if isinstance(v, str):
            yield v
        elif isinstance(v, dict):
            for key, item in v.items():
                yield key
                yield from texts(item)
        else:
            for item in v:
                yield from texts(item)

    assert holds_nul(value) == any("\x00" in text for text in texts(value))


class Event:
    def __init__(self, **ids):
        self.__dict__.update(ids)


def test_ids_the_tenant_does_not_own_are_foreign():
    mine, theirs = uuid.uuid4(), uuid.uuid4()
    event = Event(lesson_id=mine, video_id=theirs, question_id=None)
    assert named_ids([event, Event(lesson_id=None)]) == {"lesson_id": [mine], "video_id": [theirs], "question_id": []}
    assert foreign_fields(event, {mine}) == ["video_id"]
    assert foreign_fields(event, {mine, theirs}) == []
    assert foreign_problems(event, ["video_id"]) == [
        {"location": "video_id", "message": f"video {theirs} not found in this organisation"}]


def test_a_retried_event_keeps_its_id_and_a_different_one_does_not():
    tenant, client_id = uuid.uuid4(), uuid.uuid4()
    first = client_event_record(USER, {"id": str(client_id), "type": "navigation", "path": "/"}, "d", NOW, None)
    again = client_event_record(USER, {"id": str(client_id), "type": "navigation", "path": "/x"}, "d",
                                datetime(2026, 3, 2, tzinfo=UTC), None)
    assert retry_safe_event_id(tenant, first) == retry_safe_event_id(tenant, again)
    other_device = client_event_record(USER, {"id": str(client_id), "type": "navigation", "path": "/"}, "e", NOW, None)
    assert retry_safe_event_id(tenant, first) != retry_safe_event_id(tenant, other_device)
    assert retry_safe_event_id(tenant, first) != retry_safe_event_id(uuid.uuid4(), first)


JSON_VALUES = st.recursive(st.none() | st.booleans() | st.integers() | st.text(),
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
                           max_leaves=12)


@given(JSON_VALUES, st.booleans())
def test_a_body_that_cannot_hold_nul_holds_none(value, ascii_only):
    """The ingest skips the per-event NUL walk when the body has no \\u0000 escape: that must never
    let a NUL through, however the client's JSON encoder spells its text."""
    body = json.dumps({"device_id": "d", "events": [value]}, ensure_ascii=ascii_only).encode()
    if holds_nul(json.loads(body)):
        assert may_hold_nul(body)
    assert may_hold_nul(json.dumps({"message": "a\x00b"}).encode())

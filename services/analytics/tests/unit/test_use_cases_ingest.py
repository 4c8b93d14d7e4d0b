"""The client event ingest's rules, on the fake unit of work: what is published, what is rejected and
why, and that nothing is published when the batch is refused or the broker is down."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from cuepoint.analytics.domain.telemetry import retry_safe_event_id
from cuepoint.analytics.use_cases.ingest import EventProblem, Recorded, RecordClientEvents, RejectedEvent, \
    record_client_events
from cuepoint.runtime.auth import CurrentUser, Role
from cuepoint.runtime.errors import Invalid, Unavailable
from cuepoint.runtime.unit_of_work import FakeUnitsOfWork

from .fakes import FakeOwnership, FakeStream

pytestmark = pytest.mark.unit

TENANT = uuid.uuid4()
student = CurrentUser(id=uuid.uuid4(), tenant_id=TENANT, role=Role.STUDENT)
NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
LESSON, VIDEO, QUESTION = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
FOREIGN_VIDEO = uuid.uuid4()


def heartbeat(video: uuid.UUID = VIDEO, **extra):
    return {"type": "video.heartbeat", "lesson_id": str(LESSON), "video_id": str(video), "position": 10,
            "played": [{"start": 0, "end": 10}], **extra}


def navigation(**extra):
    return {"type": "navigation", "path": "/lessons", **extra}


def setup(owned=(LESSON, VIDEO, QUESTION), *, down: bool = False):
    ownership = FakeOwnership(owned)
    return FakeUnitsOfWork(ownership=ownership), ownership, FakeStream(down=down)


async def record(units, stream, events, *, device_id="tablet-1", user_agent="Firefox/140",
                 correlation_id="req-1") -> Recorded:
    return await record_client_events(RecordClientEvents(student, device_id, events, user_agent=user_agent,
                                                         correlation_id=correlation_id),
                                      units, stream=stream, now=lambda: NOW)


async def test_valid_events_are_published_for_the_caller_under_retry_safe_ids():
    units, ownership, stream = setup()
    client_id = uuid.uuid4()
    result = await record(units, stream, [heartbeat(id=str(client_id)), navigation()])
    assert result == Recorded(accepted=2, rejected=[], received_at=NOW)
    first, second = stream.published
    assert all(e.tenant_id == TENANT and e.actor_id == student.id and e.producer == "analytics"
               and e.correlation_id == "req-1" and e.key == str(student.id) for e in stream.published)
    assert first.data.client_event_id == client_id and first.data.device_id == "tablet-1"
    assert first.data.user_agent == "Firefox/140" and first.data.received_at == NOW
    assert first.event_id == retry_safe_event_id(TENANT, first.data)
    assert second.event_id == retry_safe_event_id(TENANT, second.data)
    # Ownership was asked, in one transaction of the caller's tenant, about the ids the events name.
    assert [uow.tenant_id for uow in units.opened] == [TENANT]
    assert ownership.lookups == [{"lesson_id": [LESSON], "video_id": [VIDEO], "question_id": []}]


async def test_the_same_batch_sent_again_publishes_the_same_event_ids():
    units, _, stream = setup()
    batch = [heartbeat(id=str(uuid.uuid4())), navigation(id=str(uuid.uuid4()))]
    await record(units, stream, batch)
    await record(units, stream, batch)
    ids = [e.event_id for e in stream.published]
    assert ids[:2] == ids[2:] and len(set(ids)) == 2


async def test_an_event_the_contract_refuses_is_rejected_with_why_and_the_rest_is_published():
    units, _, stream = setup()
    result = await record(units, stream, [navigation(), {"type": "no-such", "id": "x-1"}, "not an object",
                                          navigation(path="/\x00")])
    assert result.accepted == 1 and len(stream.published) == 1
    assert [(r.index, r.id) for r in result.rejected] == [(1, "x-1"), (2, None), (3, None)]
    assert all(r.errors and all(isinstance(e, EventProblem) for e in r.errors) for r in result.rejected)
    assert result.rejected[2].errors == [EventProblem("", "text may not contain the NUL character (\\u0000): "
                                                          "it cannot be stored")]


async def test_an_event_naming_what_the_tenant_does_not_own_is_rejected_in_batch_order():
    units, _, stream = setup()
    client_id = str(uuid.uuid4())
    result = await record(units, stream, [heartbeat(FOREIGN_VIDEO, id=client_id), {"type": "no-such"}, heartbeat()])
    assert result.accepted == 1 and [e.data.event.video_id for e in stream.published] == [VIDEO]
    assert result.rejected[0] == RejectedEvent(0, client_id, [
        EventProblem("video_id", f"video {FOREIGN_VIDEO} not found in this organisation")])
    assert result.rejected[1].index == 1


async def test_a_batch_naming_no_ids_needs_no_unit_of_work():
    units, ownership, stream = setup()
    assert (await record(units, stream, [navigation(), {"type": "error", "message": "boom"}])).accepted == 2
    assert units.opened == [] and ownership.lookups == []


async def test_a_batch_rejected_whole_publishes_nothing():
    units, _, stream = setup(owned=())
    result = await record(units, stream, [heartbeat()])
    assert result.accepted == 0 and len(result.rejected) == 1 and stream.published == []
    assert [e.location for e in result.rejected[0].errors] == ["lesson_id", "video_id"]


@pytest.mark.parametrize(("device_id", "events"), [("", [navigation()]), ("d", []), ("d", [navigation()] * 501),
                                                   (None, [navigation()])])
async def test_a_malformed_batch_is_refused_before_anything_is_looked_up_or_published(device_id, events):
    units, ownership, stream = setup()
    with pytest.raises(Invalid):
        await record(units, stream, events, device_id=device_id)
    assert units.opened == [] and stream.published == []


async def test_a_broker_that_does_not_acknowledge_is_unavailable():
    units, _, stream = setup(down=True)
    with pytest.raises(Unavailable):
        await record(units, stream, [heartbeat()])
    assert stream.published == []

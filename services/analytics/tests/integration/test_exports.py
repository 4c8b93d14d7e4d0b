"""analytics' part of a data export on PostgreSQL: the person's events (telemetry, a failed sign-in
to their account) and the audit entries where they are the actor or the target, and none of another's."""

from __future__ import annotations

import json
import uuid

import pytest

from cuepoint.analytics.consumers import export_consumer
from cuepoint.analytics.projections import domain_event
from cuepoint.contracts import identity as events
from cuepoint.contracts.envelope import new_envelope
from cuepoint.contracts.identity import UserExportRequested
from cuepoint.contracts.privacy import seal_context
from cuepoint.runtime.db import tenant_transaction
from cuepoint.runtime.sealed import b64, generate_key_pair, open_document

pytestmark = pytest.mark.integration


def _part(admin_connection, service: str, export_id: uuid.UUID, private_key: bytes) -> dict:
    """The part the handler left in the outbox (every chunk, in order), opened with the export's key."""
    rows = admin_connection.execute(
        f"SELECT value FROM {service}.outbox WHERE key = %s AND event_type = %s",
        (str(export_id), f"{service}.user.export_part.v1")).fetchall()
    parts = sorted((json.loads(value)["data"] for (value,) in rows), key=lambda part: part["chunk"])
    assert parts and {p["chunks"] for p in parts} == {len(parts)}
    assert {p["service"] for p in parts} == {service}
    return open_document(private_key, [p["sealed"] for p in parts], context=seal_context(export_id, service))


async def _export(context, service_consumer, tenant: uuid.UUID, user_id: uuid.UUID) -> tuple[uuid.UUID, bytes]:
    """Runs the handler of identity.user.export_requested.v1 as its consumer would; the export and its key."""
    private_key, public_key = generate_key_pair()
    request = UserExportRequested(export_id=uuid.uuid4(), user_id=user_id, public_key=b64(public_key))
    async with tenant_transaction(context.sessions, tenant) as session:
        await service_consumer.handlers[request.event_type](session, new_envelope(request, tenant_id=tenant,
                                                                                  producer="identity"))
    return request.export_id, private_key


async def _happened(context, tenant: uuid.UUID, event, actor: uuid.UUID | None) -> None:
    async with tenant_transaction(context.sessions, tenant) as session:
        await domain_event(session, new_envelope(event, tenant_id=tenant, producer="identity", actor_id=actor))


async def test_the_part_holds_the_persons_events_and_audit_entries_and_nobody_elses(analytics_context,
                                                                                  admin_connection) -> None:
    tenant, student, classmate = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    mine, theirs = uuid.uuid4(), uuid.uuid4()
    await _happened(analytics_context, tenant, events.UserSignInFailed(user_id=student, reason="wrong-password"), None)
    await _happened(analytics_context, tenant, events.UserSignedIn(user_id=student, session_id=mine), student)
    await _happened(analytics_context, tenant, events.UserSignedIn(user_id=classmate, session_id=theirs), classmate)
    export_id, key = await _export(analytics_context, export_consumer(analytics_context, None), tenant, student)
    document = _part(admin_connection, "analytics", export_id, key)
    assert sorted(e["event_type"] for e in document["events"]) == ["identity.user.sign_in_failed.v1",
                                                                   "identity.user.signed_in.v1"]
    assert {(a["actor_id"], a["target_id"]) for a in document["audit_entries"]} >= {(None, str(student)),
                                                                                   (str(student), str(student))}
    text = json.dumps(document)
    assert str(classmate) not in text and str(theirs) not in text and str(mine) in text

"""The audit log search (views.AuditLog.search) on the real PostgreSQL: each filter, the event's data
beside its entry, paging newest first, and one tenant's entries only."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

from cuepoint.analytics.views import AuditLog
from cuepoint.runtime.auth import CurrentUser, Role


def _entry(connection, tenant, seq, *, actor, action, target_type, target_id, at, data=None):
    event_id = uuid.uuid4()
    connection.execute(
        "INSERT INTO analytics.audit_logs (tenant_id, seq, event_id, actor_id, action, target_type, target_id, "
        "correlation_id, occurred_at, prev_hash, hash) VALUES (%s, %s, %s, %s, %s, %s, %s, 'c', %s, '', %s)",
        (tenant, seq, event_id, actor, action, target_type, target_id, at, f"h{seq}"))
    if data is not None:
        connection.execute(
            "INSERT INTO analytics.analytics_events (id, tenant_id, user_id, event_type, category, data, occurred_at) "
            "VALUES (%s, %s, %s, %s, 'domain', %s, %s)", (event_id, tenant, actor, action + ".v1", json.dumps(data), at))
    return event_id


async def test_the_audit_log_is_searched_by_each_filter_newest_first_with_each_events_data(analytics_context,
                                                                                           admin_connection):
    tenant, other = uuid.uuid4(), uuid.uuid4()
    alice, bob = uuid.uuid4(), uuid.uuid4()
    t0 = datetime(2026, 1, 10, 12, tzinfo=UTC)
    role = _entry(admin_connection, tenant, 1, actor=alice, action="identity.user.role_changed", target_type="user",
                  target_id=str(bob), at=t0, data={"old_role": "STUDENT", "new_role": "TEACHER"})
    _entry(admin_connection, tenant, 2, actor=bob, action="content.lesson.created", target_type="lesson",
           target_id="L1", at=t0 + timedelta(hours=1), data={"title": "Cells"})
    _entry(admin_connection, tenant, 3, actor=None, action="content.lesson.updated", target_type="lesson",
           target_id="L1", at=t0 + timedelta(hours=2))
    _entry(admin_connection, other, 1, actor=alice, action="content.lesson.created", target_type="lesson",
           target_id="L1", at=t0)
    audit = AuditLog(analytics_context.sessions)
    admin = CurrentUser(id=alice, tenant_id=tenant, role=Role.ADMIN)

    async def seqs(**filters):
        given = {"actor_id": None, "target_type": None, "target_id": None, "action": None, "start": None,
                 "end": None, "limit": 50, "before_seq": None} | filters
        return [item["seq"] for item in (await audit.search(admin, **given))["items"]]

    assert await seqs() == [3, 2, 1]
    assert await seqs(actor_id=alice) == [1]
    assert await seqs(target_type="lesson") == [3, 2]
    assert await seqs(target_id="L1", action="content.lesson.updated") == [3]
    assert await seqs(start=t0 + timedelta(hours=1)) == [3, 2]
    assert await seqs(end=t0 + timedelta(hours=1)) == [1]
    assert await seqs(before_seq=3) == [2, 1]

    page = await audit.search(admin, actor_id=None, target_type=None, target_id=None, action=None, start=None,
                              end=None, limit=2, before_seq=None)
    assert [i["seq"] for i in page["items"]] == [3, 2] and page["next_before_seq"] == 2
    last = await audit.search(admin, actor_id=None, target_type=None, target_id=None, action=None, start=None,
                              end=None, limit=2, before_seq=2)
    assert [i["seq"] for i in last["items"]] == [1] and last["next_before_seq"] is None
    first = last["items"][0]
    assert first["event_id"] == role and first["actor_id"] == alice and first["hash"] == "h1"
    assert first["data"] == {"old_role": "STUDENT", "new_role": "TEACHER"}
    assert first["occurred_at"] == t0 and first["correlation_id"] == "c" and first["target_id"] == str(bob)
    assert page["items"][0]["data"] is None  # an entry whose event is not stored has no data

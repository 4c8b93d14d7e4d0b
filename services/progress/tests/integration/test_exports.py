"""progress's part of a data export on PostgreSQL: the export request's handler emits, sealed to the
export's key, the person's sessions (devices, user agents), progress and resume positions, and none of
another person's."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest

from cuepoint.contracts.envelope import new_envelope
from cuepoint.contracts.identity import UserExportRequested
from cuepoint.contracts.privacy import seal_context
from cuepoint.progress.consumers import export_consumer
from cuepoint.runtime.db import tenant_transaction
from cuepoint.runtime.sealed import b64, generate_key_pair, open_document

pytestmark = pytest.mark.integration


def _rows(admin_connection, tenant: uuid.UUID, student: uuid.UUID, device: str) -> dict[str, uuid.UUID]:
    session_id, lesson_id, video_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    now = datetime.now(UTC)
    admin_connection.execute(
        "INSERT INTO progress.student_sessions (id, tenant_id, student_id, device_id, user_agent, started_at, "
        "last_seen_at, current_lesson_id, current_video_id, position) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, 42.5)",
        (session_id, tenant, student, device, f"agent of {device}", now, now, lesson_id, video_id))
    admin_connection.execute(
        "INSERT INTO progress.video_progress (student_id, video_id, tenant_id, lesson_id, watched, watched_seconds, "
        "last_position, last_device_id, last_heartbeat_at, time_spent, flags, updated_at) "
        "VALUES (%s, %s, %s, %s, '[]', 40, 42.5, %s, %s, 40, 0, %s)",
        (student, video_id, tenant, lesson_id, device, now, now))
    admin_connection.execute(
        "INSERT INTO progress.student_progress (id, tenant_id, student_id, lesson_id, completion_percent, "
        "total_time_spent, status, started_at, updated_at) VALUES (%s, %s, %s, %s, 30, 40, 'IN_PROGRESS', %s, %s)",
        (uuid.uuid4(), tenant, student, lesson_id, now, now))
    return {"session_id": session_id, "video_id": video_id, "lesson_id": lesson_id}


async def test_the_part_holds_the_persons_sessions_and_progress_and_nobody_elses(progress_context,
                                                                                admin_connection) -> None:
    tenant, student, classmate = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    mine = _rows(admin_connection, tenant, student, f"phone-{student.hex[:6]}")
    theirs = _rows(admin_connection, tenant, classmate, f"tablet-{classmate.hex[:6]}")
    private_key, public_key = generate_key_pair()
    export_id = uuid.uuid4()
    request = UserExportRequested(export_id=export_id, user_id=student, public_key=b64(public_key))
    consumer = export_consumer(progress_context, dead_letters=None)
    async with tenant_transaction(progress_context.sessions, tenant) as session:
        await consumer.handlers[request.event_type](session, new_envelope(request, tenant_id=tenant,
                                                                          producer="identity"))
    rows = admin_connection.execute(
        "SELECT value FROM progress.outbox WHERE key = %s AND event_type = 'progress.user.export_part.v1'",
        (str(export_id),)).fetchall()
    parts = sorted((json.loads(value)["data"] for (value,) in rows), key=lambda part: part["chunk"])
    assert parts and {p["chunks"] for p in parts} == {len(parts)}
    assert {(p["user_id"], p["service"]) for p in parts} == {(str(student), "progress")}
    sealed = "".join(p["sealed"] for p in parts)
    assert f"phone-{student.hex[:6]}" not in sealed
    document = open_document(private_key, [p["sealed"] for p in parts], context=seal_context(export_id, "progress"))
    [session_row] = document["sessions"]
    assert session_row["id"] == str(mine["session_id"]) and session_row["device_id"] == f"phone-{student.hex[:6]}"
    assert session_row["user_agent"] == f"agent of phone-{student.hex[:6]}" and session_row["position"] == 42.5
    assert [v["last_position"] for v in document["video_progress"]] == [42.5]
    assert [p["lesson_id"] for p in document["lesson_progress"]] == [str(mine["lesson_id"])]
    text = json.dumps(document)
    assert str(classmate) not in text and str(theirs["session_id"]) not in text and "tablet-" not in text

"""assessment's part of a data export on PostgreSQL: the export request's handler emits, sealed to
the export's key, the person's attempts (with grades and overrides) and grades, and none of another's."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest

from cuepoint.contracts.envelope import new_envelope
from cuepoint.contracts.identity import UserExportRequested
from cuepoint.contracts.privacy import seal_context
from cuepoint.assessment.consumers import export_consumer
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


def _answered(admin_connection, tenant: uuid.UUID, student: uuid.UUID, *, overridden_by: uuid.UUID | None = None
              ) -> uuid.UUID:
    attempt_id, lesson_id = uuid.uuid4(), uuid.uuid4()
    admin_connection.execute("SET session_replication_role = replica")  # no question row needed (its foreign key)
    try:
        admin_connection.execute(
            "INSERT INTO assessment.question_attempts (id, tenant_id, question_id, student_id, lesson_id, "
            "attempt_number, answer, score, max_score, is_correct, attempts_left, request_hash, graded_score, "
            "override_reason, overridden_by_id, overridden_at) VALUES (%s, %s, %s, %s, %s, 1, '{\"choice\": \"b\"}', "
            "1, 2, false, 1, 'h', %s, %s, %s, %s)",
            (attempt_id, tenant, uuid.uuid4(), student, lesson_id, 0 if overridden_by else None,
             "late" if overridden_by else None, overridden_by, datetime.now(UTC) if overridden_by else None))
    finally:
        admin_connection.execute("SET session_replication_role = DEFAULT")
    admin_connection.execute(
        "INSERT INTO assessment.grades (id, tenant_id, student_id, scope, scope_id, lesson_id, score, max_score, "
        "percent, passed, questions_answered, questions_total) VALUES (%s, %s, %s, 'LESSON', %s, %s, 1, 2, 50, false, "
        "1, 1)", (uuid.uuid4(), tenant, student, lesson_id, lesson_id))
    return attempt_id


async def test_the_part_holds_the_persons_attempts_grades_and_overrides_and_nobody_elses(assessment_context,
                                                                                       admin_connection) -> None:
    tenant, student, classmate, teacher = uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    mine = _answered(admin_connection, tenant, student, overridden_by=teacher)
    theirs = _answered(admin_connection, tenant, classmate)
    export_id, key = await _export(assessment_context, export_consumer(assessment_context, None), tenant, student)
    document = _part(admin_connection, "assessment", export_id, key)
    [attempt] = document["attempts"]
    assert attempt["id"] == str(mine) and attempt["answer"] == {"choice": "b"}
    assert attempt["override_reason"] == "late" and attempt["overridden_by_id"] == str(teacher)
    assert "request_hash" not in attempt
    assert [g["student_id"] for g in document["grades"]] == [str(student)]
    assert document["overrides_made"] == [] and document["questions_authored_or_reviewed"] == []
    assert str(theirs) not in json.dumps(document) and str(classmate) not in json.dumps(document)
    export_id, key = await _export(assessment_context, export_consumer(assessment_context, None), tenant, teacher)
    by_teacher = _part(admin_connection, "assessment", export_id, key)
    assert [o["id"] for o in by_teacher["overrides_made"]] == [str(mine)] and by_teacher["attempts"] == []

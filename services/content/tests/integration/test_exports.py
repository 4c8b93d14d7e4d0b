"""content's part of a data export on PostgreSQL: a teacher's part holds what they authored (lessons,
chapters, videos' metadata, milestones), a student's is empty, and neither holds another's."""

from __future__ import annotations

import json
import uuid

import pytest

from cuepoint.content.consumers import export_consumer
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


def _lesson(admin_connection, tenant: uuid.UUID, teacher: uuid.UUID) -> tuple[uuid.UUID, uuid.UUID]:
    lesson_id, video_id = uuid.uuid4(), uuid.uuid4()
    admin_connection.execute("INSERT INTO content.lessons (id, tenant_id, title, created_by_id) VALUES (%s, %s, %s, %s)",
                             (lesson_id, tenant, f"Lesson of {teacher.hex[:6]}", teacher))
    admin_connection.execute(
        "INSERT INTO content.videos (id, tenant_id, lesson_id, title, storage_path, content_type, expected_size) "
        "VALUES (%s, %s, %s, 'Intro', %s, 'video/mp4', 1000)", (video_id, tenant, lesson_id, f"{tenant}/{video_id}"))
    return lesson_id, video_id


async def test_a_teachers_part_holds_what_they_authored_and_a_students_is_empty(content_context,
                                                                               admin_connection) -> None:
    tenant, teacher, colleague, student = uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    lesson_id, video_id = _lesson(admin_connection, tenant, teacher)
    other_lesson, other_video = _lesson(admin_connection, tenant, colleague)
    consumer = export_consumer(content_context, None)
    export_id, key = await _export(content_context, consumer, tenant, teacher)
    document = _part(admin_connection, "content", export_id, key)
    assert [lesson["id"] for lesson in document["lessons"]] == [str(lesson_id)]
    assert [(v["id"], v["content_type"]) for v in document["videos"]] == [(str(video_id), "video/mp4")]
    text = json.dumps(document)
    assert str(other_lesson) not in text and str(other_video) not in text and str(colleague) not in text
    export_id, key = await _export(content_context, consumer, tenant, student)
    empty = _part(admin_connection, "content", export_id, key)
    assert all(empty[name] == [] for name in ("lessons", "chapters", "videos", "milestones", "versions_published"))

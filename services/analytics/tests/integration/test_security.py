"""Issue 16 on analytics: one tenant's telemetry can never reach another's read models (finding 2),
and a teacher reads only the engagement of their own lessons' videos (finding 8)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from cuepoint.analytics.domain.telemetry import EVENT
from cuepoint.contracts import analytics, content
from cuepoint.contracts.envelope import new_envelope
from tests.support.accounts import Accounts
from tests.support.streams import claims, publish, publish_envelopes, wait_for_row

pytestmark = pytest.mark.integration


def _heartbeat(lesson, video, start, end):
    return {"id": str(uuid.uuid4()), "type": "video.heartbeat", "lesson_id": str(lesson), "video_id": str(video),
            "position": end, "played": [{"start": start, "end": end}]}


async def _tenant(accounts: Accounts) -> dict[str, dict[str, str]]:
    return await accounts.tenant_with_users(f"sec-{uuid.uuid4().hex[:6]}")


async def _lesson_with_video(infra, admin_connection, teacher: dict[str, str]) -> tuple[uuid.UUID, uuid.UUID]:
    """A lesson and a video of the teacher's tenant, as content announces them; once analytics has heard."""
    tenant, teacher_id = uuid.UUID(claims(teacher)["tid"]), uuid.UUID(claims(teacher)["sub"])
    lesson, video = uuid.uuid4(), uuid.uuid4()
    await publish(infra, "content.events", [
        content.LessonCreated(lesson_id=lesson, title="Cells", created_by_id=teacher_id),
        content.VideoUploaded(video_id=video, lesson_id=lesson, title="Cells", storage_path="gs://b/o",
                              content_type="video/mp4", size_bytes=1, checksum="x", duration_seconds=60)],
        tenant_id=tenant, producer="content", actor_id=teacher_id)
    await wait_for_row(admin_connection, "SELECT count(*) = 1 FROM analytics.videos WHERE id = %s", (video,))
    return lesson, video


async def test_ingest_refuses_ids_the_callers_tenant_does_not_own(api, worker, accounts, infra, admin_connection):
    a, b = await _tenant(accounts), await _tenant(accounts)
    lesson_a, video_a = await _lesson_with_video(infra, admin_connection, a["teacher"])
    lesson_b, video_b = await _lesson_with_video(infra, admin_connection, b["teacher"])
    response = await api.post("/v1/events", headers=b["student"], json={"device_id": "b-tab", "events": [
        _heartbeat(lesson_a, video_a, 0, 10),        # A's lesson and video
        _heartbeat(lesson_b, video_a, 0, 10),        # B's lesson, A's video
        _heartbeat(lesson_b, uuid.uuid4(), 0, 10),   # a video nobody has
        {"type": "question.shown", "lesson_id": str(lesson_b), "question_id": str(uuid.uuid4())},
        _heartbeat(lesson_b, video_b, 0, 10),        # B's own: accepted
        {"type": "navigation", "path": "/"}]})      # no ids: accepted
    assert response.status_code == 202, response.text
    result = response.json()
    assert result["accepted"] == 2, result
    assert [r["index"] for r in result["rejected"]] == [0, 1, 2, 3]
    assert all("not found in this organisation" in r["errors"][0]["message"] for r in result["rejected"])


async def test_another_tenants_events_for_a_video_never_block_its_owners(api, worker, accounts, infra,
                                                                       admin_connection):
    a, b = await _tenant(accounts), await _tenant(accounts)
    lesson, video = await _lesson_with_video(infra, admin_connection, a["teacher"])
    # Events of tenant B naming A's video (what the ingest accepted before it checked ownership).
    b_tenant, b_student = uuid.UUID(claims(b["student"])["tid"]), uuid.UUID(claims(b["student"])["sub"])
    now = datetime.now(UTC)
    stray = analytics.ClientEventRecorded(
        user_id=b_student, device_id="b-tab", client_event_id=uuid.uuid4(), client_occurred_at=now, received_at=now,
        event=EVENT.validate_python({k: v for k, v in _heartbeat(lesson, video, 0, 20).items() if k != "id"}))
    await publish_envelopes(infra, "analytics.client-events", [
        new_envelope(stray, tenant_id=b_tenant, producer="analytics", actor_id=b_student)])
    await wait_for_row(admin_connection, "SELECT count(*) = 4 FROM analytics.video_buckets "
                       "WHERE video_id = %s AND tenant_id = %s", (video, b_tenant))
    # A's own student then watches 0–10 s: A's engagement counts it, untouched by B's rows.
    assert (await api.post("/v1/events", headers=a["student"], json={"device_id": "a-tab", "events": [
        _heartbeat(lesson, video, 0, 10)]})).json()["accepted"] == 1
    a_tenant = uuid.UUID(claims(a["student"])["tid"])
    await wait_for_row(admin_connection, "SELECT count(*) = 2 FROM analytics.video_buckets "
                       "WHERE video_id = %s AND tenant_id = %s", (video, a_tenant),
                       message="A's heartbeats never reached A's read model (dead-lettered?)")
    engagement = (await api.get(f"/v1/dashboards/videos/{video}/engagement", headers=a["teacher"])).json()
    assert [(b["start"], b["views"], b["rewatches"]) for b in engagement["buckets"]] == [(0, 1, 0), (5, 1, 0)]


async def test_a_teacher_reads_the_engagement_of_their_own_lessons_videos_only(api, worker, accounts, infra,
                                                                             admin_connection):
    slug = f"sec-{uuid.uuid4().hex[:6]}"
    world = await accounts.tenant_with_users(slug)
    lesson, video = await _lesson_with_video(infra, admin_connection, world["teacher"])
    assert (await api.post("/v1/events", headers=world["student"], json={"device_id": "tab", "events": [
        _heartbeat(lesson, video, 0, 5)]})).json()["accepted"] == 1
    await wait_for_row(admin_connection, "SELECT count(*) = 1 FROM analytics.video_buckets WHERE video_id = %s",
                       (video,))
    identity = accounts.client._transport.app.state.identity  # noqa: SLF001
    tenant = uuid.UUID(claims(world["teacher"])["tid"])
    other_email = f"other-teacher-{uuid.uuid4().hex[:4]}@example.com"
    await identity.ensure_user(tenant_id=tenant, email=other_email, password="Demo123!", display_name="Other",
                               role="TEACHER")
    other = await accounts.login(other_email, tenant=slug)
    path = f"/v1/dashboards/videos/{video}/engagement"
    refused = await api.get(path, headers=other)
    assert refused.status_code == 403, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert (await api.get(path, headers=world["teacher"])).status_code == 200
    assert (await api.get(path, headers=world["admin"])).status_code == 200
    assert (await api.get(f"/v1/dashboards/videos/{uuid.uuid4()}/engagement",
                          headers=world["teacher"])).status_code == 404

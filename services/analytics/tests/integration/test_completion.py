"""Completion over time: per lesson and day, students who started and completed, with running totals —
from the progress events, on the real PostgreSQL and Kafka."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime, time, timedelta

import pytest

from cuepoint.contracts import content, progress
from cuepoint.contracts.envelope import new_envelope
from tests.support.accounts import DEMO_PASSWORD, Accounts
from tests.support.streams import claims, publish, publish_envelopes, wait_for_row

pytestmark = pytest.mark.integration


def _at(day, hour: int = 12) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=UTC)


def _progressed(tenant, student, lesson, day, percent=40):
    return new_envelope(progress.LessonProgressed(student_id=student, lesson_id=lesson, completion_percent=percent,
                                                  total_time_spent=60, status="IN_PROGRESS"),
                        tenant_id=tenant, producer="progress", occurred_at=_at(day))


def _completed(tenant, student, lesson, day, hour=13):
    return new_envelope(progress.LessonCompleted(student_id=student, lesson_id=lesson, completion_percent=100,
                                                 total_time_spent=300, completed_at=_at(day, hour)),
                        tenant_id=tenant, producer="progress", occurred_at=_at(day, hour))


@pytest.fixture
def slug() -> str:
    return f"co-{uuid.uuid4().hex[:6]}"


@pytest.fixture
async def world(accounts: Accounts, slug: str):
    return await accounts.tenant_with_users(slug)


async def _other_teacher(accounts: Accounts, tenant: uuid.UUID, slug: str) -> dict[str, str]:
    """A second teacher of the same organisation."""
    identity = accounts.client._transport.app.state.identity  # noqa: SLF001
    email = f"other-teacher-{uuid.uuid4().hex[:6]}@example.com"
    await identity.ensure_user(tenant_id=tenant, email=email, password=DEMO_PASSWORD, display_name="Other teacher",
                               role="TEACHER")
    return await accounts.login(email, tenant=slug)


async def test_completion_over_time_per_day_and_cumulative(api, worker, world, slug, accounts, infra,
                                                           admin_connection):
    teacher, admin = world["teacher"], world["admin"]
    tenant, teacher_id = uuid.UUID(claims(teacher)["tid"]), uuid.UUID(claims(teacher)["sub"])
    lesson = uuid.uuid4()
    a, b, c, d = (uuid.uuid4() for _ in range(4))
    today = datetime.now(UTC).date()
    d0, d1, d2 = today - timedelta(days=3), today - timedelta(days=2), today - timedelta(days=1)
    await publish(infra, "content.events", [content.LessonCreated(lesson_id=lesson, title="Tides",
                                                                  created_by_id=teacher_id)],
                  tenant_id=tenant, producer="content", actor_id=teacher_id)
    # a starts on d0 and completes on d1; b starts d1, completes d2; c starts d2 and stops; d does it all on d0.
    sent = [_progressed(tenant, a, lesson, d0), _completed(tenant, a, lesson, d1),
            _progressed(tenant, b, lesson, d1), _completed(tenant, b, lesson, d2),
            _progressed(tenant, c, lesson, d2),
            _progressed(tenant, d, lesson, d0), _completed(tenant, d, lesson, d0, hour=15)]
    await publish_envelopes(infra, "progress.events", sent)
    await wait_for_row(admin_connection, "SELECT count(*) = 4 FROM analytics.student_progress WHERE lesson_id = %s",
                       (lesson,))
    await wait_for_row(admin_connection, "SELECT count(*) = 3 FROM analytics.student_progress WHERE lesson_id = %s "
                       "AND status = 'COMPLETED'", (lesson,))

    url = f"/v1/dashboards/lessons/{lesson}/completion"
    response = await api.get(url, headers=teacher)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["lesson_id"], body["title"], body["start"], body["end"]) == (
        str(lesson), "Tides", (today - timedelta(days=29)).isoformat(), today.isoformat())
    assert len(body["days"]) == 30 and body["days"][0] == {
        "day": (today - timedelta(days=29)).isoformat(), "started": 0, "completed": 0, "cumulative_started": 0,
        "cumulative_completed": 0, "completion_rate": None}
    figures = {row["day"]: (row["started"], row["completed"], row["cumulative_started"], row["cumulative_completed"],
                            row["completion_rate"]) for row in body["days"][-4:]}
    assert figures == {d0.isoformat(): (2, 1, 2, 1, 50.0), d1.isoformat(): (1, 1, 3, 2, 66.67),
                       d2.isoformat(): (1, 1, 4, 3, 75.0), today.isoformat(): (0, 0, 4, 3, 75.0)}

    # A range that starts after the first day still carries what came before into the running totals.
    window = (await api.get(url, headers=admin, params={"start": d1.isoformat(), "end": d2.isoformat()})).json()
    assert [(r["day"], r["started"], r["completed"], r["cumulative_started"], r["cumulative_completed"],
             r["completion_rate"]) for r in window["days"]] == [
        (d1.isoformat(), 1, 1, 3, 2, 66.67), (d2.isoformat(), 1, 1, 4, 3, 75.0)]

    # CSV: the same days, column for column.
    exported = await api.get(url, headers=teacher, params={"format": "csv"})
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert list(rows[0]) == ["day", "started", "completed", "cumulative_started", "cumulative_completed",
                             "completion_rate"]
    assert rows == [{k: "" if v is None else str(v) for k, v in day.items()} for day in body["days"]]

    # Who may see it: the author and admins; another teacher is refused, another tenant finds nothing.
    other_teacher = await _other_teacher(accounts, tenant, slug)
    assert (await api.get(url, headers=other_teacher)).status_code == 403
    assert (await api.get(url, headers=world["student"])).status_code == 403
    elsewhere = await accounts.tenant_with_users(f"co-{uuid.uuid4().hex[:6]}")
    assert (await api.get(url, headers=elsewhere["admin"])).status_code == 404
    assert (await api.get(f"/v1/dashboards/lessons/{uuid.uuid4()}/completion", headers=teacher)).status_code == 404
    too_long = await api.get(url, headers=teacher, params={"start": (today - timedelta(days=366)).isoformat()})
    assert too_long.status_code == 422
    assert (await api.get(url, headers=teacher, params={"start": (today - timedelta(days=365)).isoformat()})
            ).status_code == 200
    backwards = await api.get(url, headers=teacher, params={"start": d2.isoformat(), "end": d1.isoformat()})
    assert backwards.status_code == 422


async def test_a_replayed_or_repeated_progress_event_changes_nothing(api, worker, world, infra, admin_connection):
    teacher = world["teacher"]
    tenant, teacher_id = uuid.UUID(claims(teacher)["tid"]), uuid.UUID(claims(teacher)["sub"])
    lesson, marker_lesson = uuid.uuid4(), uuid.uuid4()
    a, b = uuid.uuid4(), uuid.uuid4()
    today = datetime.now(UTC).date()
    d0, d1 = today - timedelta(days=2), today - timedelta(days=1)
    await publish(infra, "content.events", [content.LessonCreated(lesson_id=lesson, title="Waves",
                                                                  created_by_id=teacher_id)],
                  tenant_id=tenant, producer="content", actor_id=teacher_id)
    sent = [_progressed(tenant, a, lesson, d0), _completed(tenant, a, lesson, d1), _progressed(tenant, b, lesson, d1)]
    await publish_envelopes(infra, "progress.events", sent)
    await wait_for_row(admin_connection, "SELECT count(*) = 2 FROM analytics.student_progress WHERE lesson_id = %s",
                       (lesson,))
    await wait_for_row(admin_connection, "SELECT count(*) = 1 FROM analytics.student_progress WHERE lesson_id = %s "
                       "AND status = 'COMPLETED'", (lesson,))
    url = f"/v1/dashboards/lessons/{lesson}/completion"
    before = (await api.get(url, headers=teacher)).json()
    stored = admin_connection.execute("SELECT day, started, completed FROM analytics.lesson_days "
                                      "WHERE lesson_id = %s ORDER BY day", (lesson,)).fetchall()
    assert [(day, s, c) for day, s, c in stored] == [(d0, 1, 0), (d1, 1, 1)]

    # The same envelopes redelivered, and a completion progress emits again (a new event, today) for a
    # student who had completed already; then, on the same keys, a marker for another lesson.
    await publish_envelopes(infra, "progress.events", [*sent, _completed(tenant, a, lesson, today, hour=0)])
    await publish_envelopes(infra, "progress.events", [_progressed(tenant, a, marker_lesson, today),
                                                       _progressed(tenant, b, marker_lesson, today)])
    await wait_for_row(admin_connection, "SELECT count(*) = 2 FROM analytics.student_progress WHERE lesson_id = %s",
                       (marker_lesson,))
    assert admin_connection.execute("SELECT day, started, completed FROM analytics.lesson_days "
                                    "WHERE lesson_id = %s ORDER BY day", (lesson,)).fetchall() == stored
    assert (await api.get(url, headers=teacher)).json() == before
    assert before["days"][-1]["cumulative_completed"] == 1 and before["days"][-1]["completion_rate"] == 50.0

"""Notifications the preferences promise, by email through identity's mailer, from the events content
and assessment already publish (identity reads no other schema): a newly published lesson to the
organisation's students, a teacher's grading of an answer to its student; each honours the person's
preference and carries a link that unsubscribes from that kind alone."""

from __future__ import annotations

import asyncio
import re
import uuid
from datetime import UTC, datetime
from decimal import Decimal

import jwt
import pytest

from cuepoint.contracts.assessment import AttemptScoreOverridden
from cuepoint.contracts.content import LessonPublished
from cuepoint.identity.bootstrap import spec
from tests.support.mail import Mailbox, body
from tests.support.platform import Infra
from tests.support.services import running_worker
from tests.support.streams import publish

from .conftest import bearer, login

pytestmark = pytest.mark.integration


async def _email(mailbox: Mailbox, address: str, subject: str, timeout: float = 30, containing: str = "") -> str:
    """The newest email to ``address`` with ``subject`` in its subject and ``containing`` in its body
    (the mailbox is the session's: earlier tests' events may have been mailed to the same person)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        for message in reversed(mailbox.messages):
            if message["To"] == address and subject in message["Subject"] and containing in body(message):
                return body(message)
        await asyncio.sleep(0.1)
    raise AssertionError(f"no email about {subject!r} to {address}")


def _subjects(mailbox: Mailbox, address: str) -> list[str]:
    return [m["Subject"] for m in mailbox.messages if m["To"] == address]


async def test_students_hear_of_new_lessons_and_graded_answers_as_they_chose(api, identity_settings, infra: Infra,
                                                                             mailbox: Mailbox) -> None:
    student = await login(api, "student@example.com")
    teacher = await login(api, "teacher@example.com")
    tenant_id = uuid.UUID(jwt.decode(student["access_token"], options={"verify_signature": False})["tid"])
    student_id = uuid.UUID(jwt.decode(student["access_token"], options={"verify_signature": False})["sub"])
    teacher_id = uuid.UUID(jwt.decode(teacher["access_token"], options={"verify_signature": False})["sub"])
    # Another student of the school, with the default preferences (new-lesson and grade emails on).
    quiet = await api.post("/v1/auth/register", json={"tenant": "demo", "email": "quiet.student@example.com",
                                                      "password": "a long enough phrase", "display_name": "Quinn"})
    assert quiet.status_code in (201, 202), quiet.text  # 202: self-registration answers alike for any email
    await api.patch("/v1/users/me/preferences", json={"notifications": {"email_new_lesson": True, "email_grades": True}},
                    headers=bearer(student))

    async with running_worker(spec(), identity_settings, infra, relay=False):
        lesson_id = uuid.uuid4()
        title = f"Photosynthesis {lesson_id.hex[:6]}"
        await publish(infra, "content.events", [LessonPublished(lesson_id=lesson_id, version=1, title=title,
                                                                created_by_id=teacher_id)],
                      tenant_id=tenant_id, producer="content", actor_id=teacher_id)
        text = await _email(mailbox, "student@example.com", title)
        assert f"http://cuepoint.test/lessons/{lesson_id}" in text
        unsubscribe = re.search(r"http://cuepoint.test/unsubscribe\?token=(\S+)", text)
        assert unsubscribe, text
        assert not any(title in s for s in _subjects(mailbox, "teacher@example.com")), "students only"

        # A teacher re-scores the student's typed answer: the student is told the score and the reason.
        await publish(infra, "assessment.events", [AttemptScoreOverridden(
            attempt_id=uuid.uuid4(), student_id=student_id, question_id=uuid.uuid4(), milestone_id=None,
            lesson_id=lesson_id, attempt_number=1, score=Decimal("2"), previous_score=Decimal("0"),
            graded_score=Decimal("0"), max_score=Decimal("2"), best_score=Decimal("2"),
            reason="Spelling aside, this is right.", overridden_at=datetime.now(UTC))],
            tenant_id=tenant_id, producer="assessment", actor_id=teacher_id)
        graded = await _email(mailbox, "student@example.com", "graded", containing=title)
        assert "2 of 2" in graded and "Spelling aside, this is right." in graded and title in graded
        assert "http://cuepoint.test/unsubscribe?token=" in graded

        # The link unsubscribes from new-lesson emails alone, without signing in; a forged one does nothing.
        forged = await api.post("/v1/notifications/unsubscribe", json={"token": unsubscribe.group(1)[:-3] + "abc"})
        assert forged.status_code == 422
        done = await api.post("/v1/notifications/unsubscribe", json={"token": unsubscribe.group(1)})
        assert done.status_code == 200, done.text
        assert done.json() == {"notification": "email_new_lesson", "subscribed": False}
        preferences = (await api.get("/v1/users/me/preferences", headers=bearer(student))).json()
        assert preferences["notifications"]["email_new_lesson"] is False
        assert preferences["notifications"]["email_grades"] is True

        second = f"Cells {lesson_id.hex[:6]}"
        await publish(infra, "content.events", [LessonPublished(lesson_id=uuid.uuid4(), version=1, title=second,
                                                                created_by_id=teacher_id)],
                      tenant_id=tenant_id, producer="content", actor_id=teacher_id)
        await _email(mailbox, "quiet.student@example.com", second)  # a student who did not opt out hears of it
        await asyncio.sleep(0.5)  # both emails are sent together; give the other a moment to (wrongly) arrive
        assert not any(second in s for s in _subjects(mailbox, "student@example.com")), "the preference is honoured"


async def test_teachers_who_asked_get_a_weekly_summary_of_their_lessons_once(api, identity_settings, infra: Infra,
                                                                             mailbox: Mailbox, admin_connection) -> None:
    from datetime import date, timedelta

    from cuepoint.contracts.assessment import AttemptGraded
    from cuepoint.identity.bootstrap import notifications_for
    from tests.support.platform import eventually

    teacher = await login(api, "teacher@example.com")
    claims = jwt.decode(teacher["access_token"], options={"verify_signature": False})
    tenant_id, teacher_id = uuid.UUID(claims["tid"]), uuid.UUID(claims["sub"])
    await api.patch("/v1/users/me/preferences", json={"notifications": {"email_weekly_summary": True}},
                    headers=bearer(teacher))
    this_monday = date.today() - timedelta(days=date.today().weekday())
    last_week = datetime.combine(this_monday - timedelta(days=3), datetime.min.time(), tzinfo=UTC)
    lesson_id, students = uuid.uuid4(), [uuid.uuid4(), uuid.uuid4()]
    title = f"Summary lesson {lesson_id.hex[:6]}"

    def graded(student: uuid.UUID, correct: bool) -> AttemptGraded:
        return AttemptGraded(attempt_id=uuid.uuid4(), student_id=student, question_id=uuid.uuid4(), milestone_id=None,
                             lesson_id=lesson_id, attempt_number=1, max_attempts=3, is_correct=correct,
                             score=Decimal(1 if correct else 0), max_score=Decimal(1), milestone_answered=True,
                             answered_at=last_week)

    async with running_worker(spec(), identity_settings, infra, relay=False) as context:
        await publish(infra, "content.events", [LessonPublished(lesson_id=lesson_id, version=1, title=title,
                                                                created_by_id=teacher_id)],
                      tenant_id=tenant_id, producer="content", actor_id=teacher_id)
        await publish(infra, "assessment.events", [graded(students[0], True), graded(students[0], False),
                                                   graded(students[1], True)],
                      tenant_id=tenant_id, producer="assessment")

        async def projected() -> bool:
            row = admin_connection.execute("SELECT sum(attempts) FROM identity.lesson_activity WHERE lesson_id = %s",
                                           (lesson_id,)).fetchone()
            return row[0] == 3

        await eventually(projected, timeout=30, message="the answers were not counted")
        notifications = notifications_for(context)
        await notifications.weekly_summaries(week_start=this_monday - timedelta(days=7))
        text = await _email(mailbox, "teacher@example.com", "Your week on Cuepoint")
        assert title in text and "3 answers from 2 students, 67 % right" in text
        assert "http://cuepoint.test/unsubscribe?token=" in text
        sent = len(mailbox.messages)
        await notifications.weekly_summaries(week_start=this_monday - timedelta(days=7))
        await asyncio.sleep(0.5)  # a second summary of the same week would be sent at once; none may come
        assert len(mailbox.messages) == sent, "one summary per teacher and week"
        assert not any("Your week" in s for s in _subjects(mailbox, "admin@example.com")), "only those who asked"

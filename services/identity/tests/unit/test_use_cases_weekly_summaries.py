"""Weekly summaries on the fake unit of work: who gets one, once per week, with the unsubscribe
link; and the rules they are written by."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from cuepoint.identity.domain import notifications
from cuepoint.identity.domain.notifications import LessonWeek
from cuepoint.identity.domain.unsubscribe import verify
from cuepoint.identity.use_cases.weekly_summaries import SendWeeklySummaries, send_weekly_summaries

from .fakes import SETTINGS, FakeMail, fake_units, tenant, user

pytestmark = pytest.mark.unit
KEY = b"k" * 32
WEEK = date(2026, 11, 23)  # a Monday


async def send(units, mail) -> int:
    return await send_weekly_summaries(SendWeeklySummaries(WEEK), units, mail=mail, settings=SETTINGS,
                                       unsubscribe_key=KEY)


def asked(units, who) -> None:
    units.repositories["preferences"].rows[who.id] = {"notifications": {"email_weekly_summary": True}}


async def test_teachers_and_admins_who_asked_get_one_summary_a_week() -> None:
    teacher, admin, quiet, student = user("TEACHER"), user("ADMIN"), user("TEACHER"), user("STUDENT")
    units, mail = fake_units(teacher, admin, quiet, student), FakeMail()
    for who in (teacher, admin, student):
        asked(units, who)
    units.repositories["lesson_activity"].weeks[(teacher.id, WEEK)] = [LessonWeek("Cells", 3, 2, 2),
                                                                       LessonWeek("Atoms", 0, 0, 0)]
    assert await send(units, mail) == 2
    assert {m.to for m in mail.later} == {teacher.email, admin.email}
    text = next(m.text for m in mail.later if m.to == teacher.email)
    assert "- Cells: 3 answers from 2 students, 67 % right" in text and "- Atoms: no answers this week" in text
    token = mail.later[0].headers["List-Unsubscribe"].split("token=")[1].rstrip(">")
    assert verify(KEY, token).notification == "email_weekly_summary"
    assert await send(units, mail) == 0 and len(mail.later) == 2  # never twice for a week
    assert units.repositories["lesson_activity"].forgotten_before == [WEEK - notifications.ACTIVITY_KEPT] * 2


async def test_no_summaries_in_a_suspended_organisation() -> None:
    teacher = user("TEACHER")
    units, mail = fake_units(tenant(status="SUSPENDED"), teacher), FakeMail()
    asked(units, teacher)
    assert await send(units, mail) == 0 and mail.all == []


def test_a_summary_of_no_lessons_says_so() -> None:
    text = notifications.weekly_summary("Tom", WEEK, [], "http://x")
    assert "You have no published lessons yet." in text and "23 November 2026" in text and "http://x/teach" in text


def test_the_week_summarized_is_last_weeks_monday() -> None:
    for offset in range(7):
        assert notifications.week_to_summarize(WEEK + timedelta(days=7 + offset)) == WEEK


def test_notifications_follow_the_preference_or_its_default() -> None:
    assert notifications.wants(None, "email_new_lesson") and not notifications.wants(None, "email_weekly_summary")
    assert not notifications.wants({"notifications": {"email_grades": False}}, "email_grades")


def test_points_are_written_as_a_person_would() -> None:
    assert [notifications.points(v) for v in (Decimal("2.000"), Decimal("1.50"), 3)] == ["2", "1.5", "3"]

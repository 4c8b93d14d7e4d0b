"""Who sees which dashboard, and the ranges dashboards answer."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from types import SimpleNamespace

import pytest

from cuepoint.analytics.domain import dashboards as rules
from cuepoint.runtime.auth import CurrentUser, Role
from cuepoint.runtime.errors import Forbidden, Invalid, NotFound

pytestmark = pytest.mark.unit

TENANT = uuid.uuid4()
teacher = CurrentUser(id=uuid.uuid4(), tenant_id=TENANT, role=Role.TEACHER)
other_teacher = CurrentUser(id=uuid.uuid4(), tenant_id=TENANT, role=Role.TEACHER)
admin = CurrentUser(id=uuid.uuid4(), tenant_id=TENANT, role=Role.ADMIN)
student = CurrentUser(id=uuid.uuid4(), tenant_id=TENANT, role=Role.STUDENT)
LESSON = uuid.uuid4()
lesson = SimpleNamespace(id=LESSON, created_by_id=teacher.id)
D = date(2026, 3, 1)


def test_a_teacher_sees_their_own_performance_and_an_admin_anyones():
    rules.ensure_sees_teacher(teacher, None)
    rules.ensure_sees_teacher(teacher, teacher.id)
    rules.ensure_sees_teacher(admin, teacher.id)
    with pytest.raises(Forbidden):
        rules.ensure_sees_teacher(other_teacher, teacher.id)


def test_a_lesson_is_its_authors_and_the_admins_and_to_a_student_it_does_not_exist():
    rules.ensure_sees_lesson(teacher, lesson, LESSON)
    rules.ensure_sees_lesson(admin, lesson, LESSON)
    with pytest.raises(Forbidden):
        rules.ensure_sees_lesson(other_teacher, lesson, LESSON)
    with pytest.raises(NotFound):
        rules.ensure_sees_lesson(student, lesson, LESSON)
    with pytest.raises(NotFound):
        rules.ensure_sees_lesson(admin, None, LESSON)


def test_a_video_analytics_does_not_know_or_asked_of_by_a_student_does_not_exist():
    rules.ensure_sees_video(teacher, LESSON, uuid.uuid4())
    with pytest.raises(NotFound):
        rules.ensure_sees_video(admin, None, uuid.uuid4())
    with pytest.raises(NotFound):
        rules.ensure_sees_video(student, LESSON, uuid.uuid4())


def test_rates_span_at_most_a_year_forwards_for_teachers_and_admins():
    rules.ensure_rates_range(teacher, D, D + timedelta(days=366))
    with pytest.raises(Invalid):
        rules.ensure_rates_range(teacher, D, D + timedelta(days=367))
    with pytest.raises(Invalid):
        rules.ensure_rates_range(teacher, D, D - timedelta(days=1))
    with pytest.raises(Invalid):  # the range is judged before the caller
        rules.ensure_rates_range(student, D, D - timedelta(days=1))
    with pytest.raises(Forbidden):
        rules.ensure_rates_range(student, D, D)


def test_completion_spans_at_most_366_days_forwards():
    rules.ensure_completion_range(D, D + timedelta(days=365))
    for end in (D + timedelta(days=366), D - timedelta(days=1)):
        with pytest.raises(Invalid):
            rules.ensure_completion_range(D, end)


def test_ai_usage_is_for_admins():
    rules.ensure_sees_ai_usage(admin)
    for actor in (teacher, student):
        with pytest.raises(Forbidden):
            rules.ensure_sees_ai_usage(actor)


def test_an_audit_search_runs_forwards():
    t = datetime(2026, 3, 1)
    rules.ensure_audit_range(t, t)
    rules.ensure_audit_range(None, t)
    rules.ensure_audit_range(t, None)
    with pytest.raises(Invalid):
        rules.ensure_audit_range(t, t - timedelta(seconds=1))

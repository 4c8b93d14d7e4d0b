"""Who sees whose progress (domain/access.py)."""

from __future__ import annotations

import uuid

import pytest

from cuepoint.progress.domain import access
from cuepoint.runtime.actor import CurrentUser, Role
from cuepoint.runtime.errors import Forbidden, NotFound

pytestmark = pytest.mark.unit

TENANT = uuid.uuid4()


def _user(role: Role) -> CurrentUser:
    return CurrentUser(id=uuid.uuid4(), tenant_id=TENANT, role=role)


def test_a_student_sees_their_own_progress_and_nobody_elses_exists_for_them():
    student = _user(Role.STUDENT)
    access.ensure_may_see(student, student.id, uuid.uuid4())
    with pytest.raises(NotFound):
        access.ensure_may_see(student, uuid.uuid4(), uuid.uuid4())
    assert not access.teaches(student, student.id)  # even a lesson that names them as its author


def test_the_lessons_author_and_admins_see_its_students_and_other_teachers_are_refused():
    author, other, admin = _user(Role.TEACHER), _user(Role.TEACHER), _user(Role.ADMIN)
    student = uuid.uuid4()
    access.ensure_may_see(author, student, author.id)
    access.ensure_may_see(admin, student, author.id)
    with pytest.raises(Forbidden):
        access.ensure_may_see(other, student, author.id)
    assert access.teaches(author, author.id) and access.teaches(admin, author.id)
    assert not access.teaches(other, author.id)


def test_only_the_author_or_an_admin_follows_a_lesson_live():
    author, other, admin, student = _user(Role.TEACHER), _user(Role.TEACHER), _user(Role.ADMIN), _user(Role.STUDENT)
    lesson = uuid.uuid4()
    access.ensure_may_follow(author, lesson, author.id, found=True)
    access.ensure_may_follow(admin, lesson, author.id, found=True)
    with pytest.raises(Forbidden):
        access.ensure_may_follow(other, lesson, author.id, found=True)
    with pytest.raises(NotFound):
        access.ensure_may_follow(student, lesson, author.id, found=True)
    with pytest.raises(NotFound):
        access.ensure_may_follow(admin, lesson, None, found=False)

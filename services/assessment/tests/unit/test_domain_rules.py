"""The rules use cases ask of domain/: a settled question takes no more attempts, what review may do in
each status, what an edit changed."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cuepoint.assessment.domain import authoring
from cuepoint.assessment.domain.changes import as_json, changes_of
from cuepoint.assessment.domain.grading import AlreadyAnsweredCorrectly, next_attempt_number, settled
from cuepoint.runtime.auth import CurrentUser, Role
from cuepoint.runtime.errors import Conflict, Forbidden, NotFound

from .fakes import Row

pytestmark = pytest.mark.unit


@given(st.lists(st.booleans(), max_size=30))
def test_the_next_attempt_follows_the_wrong_ones_and_none_follows_a_right_one(history):
    if any(history):
        with pytest.raises(AlreadyAnsweredCorrectly):
            next_attempt_number(history)
    else:
        assert next_attempt_number(history) == len(history) + 1


@given(st.booleans(), st.integers(-3, 20))
def test_settled_means_right_or_out_of_attempts(is_correct, left):
    assert settled(is_correct=is_correct, attempts_left=left) == (is_correct or left <= 0)


def test_the_author_or_an_admin_manages_a_lesson_and_to_a_student_it_does_not_exist():
    author = CurrentUser(id=uuid.uuid4(), tenant_id=uuid.uuid4(), role=Role.TEACHER)
    lesson = Row(created_by_id=author.id)
    authoring.ensure_manages(author, lesson, uuid.uuid4())
    authoring.ensure_manages(CurrentUser(id=uuid.uuid4(), tenant_id=author.tenant_id, role=Role.ADMIN), lesson,
                             uuid.uuid4())
    with pytest.raises(Forbidden):
        authoring.ensure_manages(CurrentUser(id=uuid.uuid4(), tenant_id=author.tenant_id, role=Role.TEACHER),
                                 lesson, uuid.uuid4())
    with pytest.raises(NotFound):
        authoring.ensure_manages(CurrentUser(id=author.id, tenant_id=author.tenant_id, role=Role.STUDENT), lesson,
                                 uuid.uuid4())
    with pytest.raises(NotFound):
        authoring.ensure_manages(author, None, uuid.uuid4())


@pytest.mark.parametrize("status", ["DRAFT", "PENDING_REVIEW", "APPROVED", "REJECTED", "ARCHIVED"])
def test_what_review_may_do_in_each_status(status):
    question = Row(status=status)
    assert (authoring.why_not_bulk_approvable(status) is None) == (status in ("DRAFT", "PENDING_REVIEW"))
    for rule, allowed in [(authoring.ensure_approvable, status in ("DRAFT", "PENDING_REVIEW", "REJECTED")),
                          (authoring.ensure_rejectable, status not in ("REJECTED", "ARCHIVED")),
                          (authoring.ensure_editable, status != "ARCHIVED")]:
        if allowed:
            rule(question)
        else:
            with pytest.raises(Conflict):
                rule(question)


def test_only_typed_answers_are_overridden():
    authoring.ensure_overridable("SHORT_ANSWER")
    authoring.ensure_overridable("FILL_IN_THE_BLANK")
    for kind in ("MULTIPLE_CHOICE", "TRUE_FALSE", "MATCHING", "ORDERING"):
        with pytest.raises(Conflict):
            authoring.ensure_overridable(kind)


def test_an_edit_changes_what_differs_by_value_not_by_type():
    row = Row(points=Decimal("1.00"), prompt="A?", partial_credit=True, max_attempts=None)
    values = {"points": 1, "prompt": "B?", "partial_credit": False, "max_attempts": None, "unlisted": 5}
    assert changes_of(row, values, ("points", "prompt", "partial_credit", "max_attempts")) == [
        "partial_credit", "prompt"]  # sorted; 1.00 and 1 are the same points; what names does not list is not asked
    assert changes_of({"points": Decimal("2")}, {"points": 2.0}, ("points",)) == []
    assert as_json(Decimal("0.10")) == "0.10" and as_json(uuid.UUID(int=1)) == str(uuid.UUID(int=1))

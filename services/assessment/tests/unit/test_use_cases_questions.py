"""Questions by hand and their review, on the fake unit of work: who may, what is refused, what is
announced (and nothing when refused)."""

from __future__ import annotations

import uuid

import pytest

from cuepoint.assessment.domain.questions import MultipleChoice, Option, ShortAnswer, TrueFalse
from cuepoint.assessment.use_cases.questions import (
    BulkApprove,
    CreateQuestion,
    EditQuestion,
    QuestionChanges,
    RejectQuestion,
    bulk_approve,
    create_question,
    edit_question,
    reject_question,
)
from cuepoint.contracts import assessment as events
from cuepoint.runtime.auth import Role
from cuepoint.runtime.errors import Conflict, Forbidden, Invalid, NotFound

from .fakes import TENANT, World, user

pytestmark = pytest.mark.unit

CHOICE = MultipleChoice(options=[Option(id="a", text="Yes"), Option(id="b", text="No")], correct_option_ids=["a"])


async def _run(units, use_case, command):
    async with units(TENANT) as uow:
        return await use_case(command, uow)


@pytest.fixture
def world():
    return World()


async def test_a_teacher_writes_a_draft_on_a_milestone_of_their_lesson(world):
    teacher = user()
    lesson = world.lesson(teacher)
    milestone = world.milestone(lesson)
    units = world.units()
    question = await _run(units, create_question, CreateQuestion(
        teacher, lesson.id, CHOICE, "Is it?", milestone_id=milestone.id))
    assert (question.status, question.source, question.video_id) == ("DRAFT", "MANUAL", milestone.video_id)
    assert question.created_by_id == teacher.id
    assert units.emitted == []  # a draft is not announced


async def test_approved_at_once_it_is_announced(world):
    teacher = user()
    lesson = world.lesson(teacher)
    units = world.units()
    question = await _run(units, create_question, CreateQuestion(teacher, lesson.id, CHOICE, "Is it?", approve=True))
    assert question.status == "APPROVED" and question.reviewed_by_id == teacher.id
    [approved] = [e.event for e in units.emitted]
    assert isinstance(approved, events.QuestionApproved) and approved.question_id == question.id


async def test_another_teachers_lesson_is_refused_and_a_student_finds_none(world):
    author, other, student = user(), user(), user(Role.STUDENT)
    lesson = world.lesson(author)
    units = world.units()
    with pytest.raises(Forbidden):
        await _run(units, create_question, CreateQuestion(other, lesson.id, CHOICE, "Is it?"))
    with pytest.raises(NotFound):
        await _run(units, create_question, CreateQuestion(student, lesson.id, CHOICE, "Is it?"))
    assert world.questions == {} and units.emitted == []


async def test_an_admin_manages_any_lesson(world):
    lesson = world.lesson(user())
    question = await _run(world.units(), create_question, CreateQuestion(user(Role.ADMIN), lesson.id, CHOICE, "?"))
    assert question.lesson_id == lesson.id


async def test_a_milestone_of_another_lesson_is_invalid(world):
    teacher = user()
    lesson, elsewhere = world.lesson(teacher), world.lesson(teacher)
    with pytest.raises(Invalid):
        await _run(world.units(), create_question, CreateQuestion(
            teacher, lesson.id, CHOICE, "?", milestone_id=world.milestone(elsewhere).id))


async def test_an_edit_announces_what_changed_and_an_approved_question_again(world):
    teacher = user()
    lesson = world.lesson(teacher)
    question = world.question(lesson, TrueFalse(correct=True), status="APPROVED")
    units = world.units()
    edited = await _run(units, edit_question, EditQuestion(teacher, question.id, QuestionChanges(prompt="New?")))
    assert edited.prompt == "New?"
    edit, approved = [e.event for e in units.emitted]
    assert isinstance(edit, events.QuestionEdited) and edit.changed_fields == ["prompt"]
    assert (edit.before, edit.after) == ({"prompt": "A question?"}, {"prompt": "New?"})
    assert isinstance(approved, events.QuestionApproved)


async def test_an_edit_that_changes_nothing_is_not_announced(world):
    teacher = user()
    question = world.question(world.lesson(teacher), TrueFalse(correct=True), status="APPROVED")
    units = world.units()
    await _run(units, edit_question, EditQuestion(teacher, question.id, QuestionChanges(prompt="A question?")))
    assert units.emitted == []


async def test_moving_a_question_off_its_milestone_clears_its_video(world):
    teacher = user()
    lesson = world.lesson(teacher)
    question = world.question(lesson, TrueFalse(correct=True), milestone=world.milestone(lesson), status="DRAFT")
    edited = await _run(world.units(), edit_question, EditQuestion(
        teacher, question.id, QuestionChanges(milestone_id=None)))
    assert (edited.milestone_id, edited.video_id) == (None, None)


async def test_an_archived_question_cannot_be_edited(world):
    teacher = user()
    question = world.question(world.lesson(teacher), TrueFalse(correct=True), status="ARCHIVED")
    units = world.units()
    with pytest.raises(Conflict):
        await _run(units, edit_question, EditQuestion(teacher, question.id, QuestionChanges(prompt="New?")))
    assert units.emitted == []


async def test_approving_one_undoes_a_rejection_but_an_approved_one_cannot_be_approved_again(world):
    teacher = user()
    lesson = world.lesson(teacher)
    rejected = world.question(lesson, TrueFalse(correct=True), status="REJECTED", rejection_reason="no")
    approved = await _run(world.units(), edit_question, EditQuestion(teacher, rejected.id, approve=True))
    assert (approved.status, approved.rejection_reason) == ("APPROVED", None)
    units = world.units()
    with pytest.raises(Conflict):
        await _run(units, edit_question, EditQuestion(teacher, rejected.id, approve=True))
    assert units.emitted == []


async def test_a_bulk_approval_skips_rejected_unknown_and_foreign_questions(world):
    teacher = user()
    lesson, foreign = world.lesson(teacher), world.lesson(user())
    draft = world.question(lesson, TrueFalse(correct=True), status="DRAFT")
    pending = world.question(lesson, TrueFalse(correct=False), status="PENDING_REVIEW")
    rejected = world.question(lesson, TrueFalse(correct=True), status="REJECTED")
    archived = world.question(lesson, TrueFalse(correct=True), status="ARCHIVED")
    theirs = world.question(foreign, TrueFalse(correct=True), status="DRAFT")
    missing = uuid.uuid4()
    units = world.units()
    result = await _run(units, bulk_approve, BulkApprove(
        teacher, [draft.id, pending.id, draft.id, rejected.id, archived.id, theirs.id, missing]))
    assert result.approved == [draft.id, pending.id]
    skipped = {s.id: s for s in result.skipped}
    assert skipped[rejected.id].status == "REJECTED" and "on its own" in skipped[rejected.id].reason
    assert skipped[archived.id].reason == "it is ARCHIVED"
    assert skipped[theirs.id].status is None and "author" in skipped[theirs.id].reason
    assert skipped[missing].reason == "not found"
    assert [e.event.question_id for e in units.emitted] == [draft.id, pending.id]
    assert world.questions[rejected.id].status == "REJECTED"


async def test_a_rejection_keeps_its_reason_and_is_announced_once(world):
    teacher = user()
    question = world.question(world.lesson(teacher), ShortAnswer(accepted_answers=["x"]), status="PENDING_REVIEW")
    units = world.units()
    rejected = await _run(units, reject_question, RejectQuestion(teacher, question.id, "off topic"))
    assert (rejected.status, rejected.rejection_reason, rejected.reviewed_by_id) == ("REJECTED", "off topic",
                                                                                      teacher.id)
    [event] = [e.event for e in units.emitted]
    assert isinstance(event, events.QuestionRejected) and event.reason == "off topic"
    with pytest.raises(Conflict):
        await _run(world.units(), reject_question, RejectQuestion(teacher, question.id, "again"))


async def test_a_student_cannot_reject(world):
    question = world.question(world.lesson(user()), TrueFalse(correct=True), status="DRAFT")
    with pytest.raises(NotFound):
        await _run(world.units(), reject_question, RejectQuestion(user(Role.STUDENT), question.id))

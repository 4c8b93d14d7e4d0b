"""Answering, retries, overrides and the grades that follow, on the fake unit of work."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest

from cuepoint.assessment.domain.questions import Blank, FillInTheBlank, ShortAnswer, TrueFalse
from cuepoint.assessment.use_cases.attempts import (
    OverrideScore,
    PassingThresholdChanged,
    SubmitAttempt,
    override_score,
    passing_threshold_changed,
    submit_attempt,
)
from cuepoint.contracts import assessment as events
from cuepoint.runtime.auth import Role
from cuepoint.runtime.errors import Conflict, Forbidden, Invalid, NotFound

from .fakes import TENANT, World, config_lookup, user

pytestmark = pytest.mark.unit


def _setup(*, max_attempts=None, retry_penalty=None, content=None, lesson_status="PUBLISHED"):
    world = World()
    teacher, student = user(), user(Role.STUDENT)
    lesson = world.lesson(teacher, status=lesson_status)
    milestone = world.milestone(lesson)
    question = world.question(lesson, content or TrueFalse(correct=True), milestone=milestone, points=Decimal(2),
                              max_attempts=max_attempts, retry_penalty=retry_penalty)
    return world, teacher, student, lesson, question


async def _answer(world, student, question, answer, *, key=None, config=None):
    units = world.units()
    async with units(TENANT) as uow:
        outcome = await submit_attempt(SubmitAttempt(student, question.id, answer, idempotency_key=key), uow,
                                       config=config or config_lookup())
    return outcome, units


async def test_a_right_answer_is_graded_announced_and_settles_the_question():
    world, _, student, lesson, question = _setup()
    outcome, units = await _answer(world, student, question, {"value": True})
    attempt = outcome.attempt
    assert (attempt.score, attempt.max_score, attempt.is_correct, attempt.attempt_number) == (2, 2, True, 1)
    graded, lesson_graded = [e.event for e in units.emitted]
    assert isinstance(graded, events.AttemptGraded) and graded.milestone_answered and graded.max_attempts == 3
    assert isinstance(lesson_graded, events.LessonGraded)
    assert (lesson_graded.percent, lesson_graded.passed, lesson_graded.reason) == (100, True, "ANSWERED")
    assert {scope for _, scope, _ in world.grades} == {"MILESTONE", "VIDEO", "LESSON"}
    assert world.locks == [f"attempt:{student.id}:{question.id}"]


async def test_a_settled_question_takes_no_more_attempts():
    world, _, student, _, question = _setup()
    await _answer(world, student, question, {"value": True})
    with pytest.raises(Conflict, match="already answered this question correctly"):
        await _answer(world, student, question, {"value": True})
    assert len(world.attempts) == 1


async def test_retries_cost_their_penalty_until_the_attempts_run_out():
    world, _, student, _, question = _setup(max_attempts=2, retry_penalty=Decimal("0.25"))
    first, _ = await _answer(world, student, question, {"value": False})
    assert (first.attempt.score, first.attempt.attempts_left, first.policy.max_attempts) == (0, 1, 2)
    second, _ = await _answer(world, student, question, {"value": True})
    assert (second.attempt.score, second.attempt.attempts_left) == (Decimal("1.50"), 0)
    world.attempts[second.attempt.id].is_correct = False  # as if it had been wrong: the limit is the rule now
    with pytest.raises(Conflict, match="all 2 attempts"):
        await _answer(world, student, question, {"value": True})


async def test_an_unchanged_lesson_grade_is_not_announced_again():
    world, _, student, _, question = _setup(max_attempts=3)
    await _answer(world, student, question, {"value": False})
    _, units = await _answer(world, student, question, {"value": False})
    assert [type(e.event) for e in units.emitted] == [events.AttemptGraded]  # still 0 of 2


async def test_a_retried_request_is_answered_as_the_first_and_a_reused_key_refused():
    world, _, student, _, question = _setup()
    first, _ = await _answer(world, student, question, {"value": False}, key="k1")
    again, units = await _answer(world, student, question, {"value": False}, key="k1")
    assert again.replayed and again.attempt.id == first.attempt.id and units.emitted == []
    with pytest.raises(Invalid, match="Idempotency-Key"):
        await _answer(world, student, question, {"value": True}, key="k1")
    assert len(world.attempts) == 1


async def test_an_answer_of_the_wrong_shape_or_to_an_unpublished_lesson_is_refused():
    world, _, student, _, question = _setup()
    with pytest.raises(Invalid):
        await _answer(world, student, question, {"text": "yes"})
    world_draft, _, student_draft, _, unpublished = _setup(lesson_status="DRAFT")
    with pytest.raises(NotFound):
        await _answer(world_draft, student_draft, unpublished, {"value": True})
    assert world.attempts == {} and world_draft.attempts == {}


async def test_a_teacher_overrides_a_typed_answer_and_the_grades_follow():
    world, teacher, student, _, question = _setup(content=ShortAnswer(accepted_answers=["ampere"]))
    wrong, _ = await _answer(world, student, question, {"text": "amp"})
    units = world.units()
    async with units(TENANT) as uow:
        result = await override_score(OverrideScore(teacher, wrong.attempt.id, Decimal(2), "amp is fine"), uow,
                                      config=config_lookup())
    assert (result.score, result.previous_score, result.graded_score, result.best_score) == (2, 0, 0, 2)
    overridden, lesson_graded = [e.event for e in units.emitted]
    assert isinstance(overridden, events.AttemptScoreOverridden) and overridden.reason == "amp is fine"
    assert (lesson_graded.reason, lesson_graded.percent) == ("OVERRIDDEN", 100)


async def test_an_override_is_refused_for_keyed_answers_too_high_scores_students_and_other_teachers():
    world, teacher, student, _, question = _setup()
    attempt = (await _answer(world, student, question, {"value": False}))[0].attempt
    with pytest.raises(Conflict, match="graded by its key"):
        async with world.units()(TENANT) as uow:
            await override_score(OverrideScore(teacher, attempt.id, Decimal(1), "x"), uow, config=config_lookup())
    world, teacher, student, _, question = _setup(content=FillInTheBlank(
        template="The unit is {{u}}.", blanks=[Blank(id="u", accepted=["ampere"])]))
    attempt = (await _answer(world, student, question, {"blanks": {"u": "amp"}}))[0].attempt
    units = world.units()
    for actor, score, error in [(teacher, Decimal(3), Invalid), (student, Decimal(1), NotFound),
                                (user(), Decimal(1), Forbidden)]:
        with pytest.raises(error):
            async with units(TENANT) as uow:
                await override_score(OverrideScore(actor, attempt.id, score, "x"), uow, config=config_lookup())
    with pytest.raises(NotFound):
        async with units(TENANT) as uow:
            await override_score(OverrideScore(teacher, uuid.uuid4(), Decimal(1), "x"), uow, config=config_lookup())
    assert units.emitted == [] and world.attempts[attempt.id].overridden_at is None


async def test_a_changed_threshold_flips_passed_and_announces_the_lesson_grades_that_flipped():
    world, _, student, _, question = _setup(max_attempts=3)
    await _answer(world, student, question, {"value": False})  # 0 %: not passed at 70
    units = world.units()
    async with units(TENANT) as uow:
        await passing_threshold_changed(PassingThresholdChanged(TENANT, 0, False, None), uow,
                                        config=config_lookup())
    assert {g.passed for g in world.grades.values()} == {True}
    [flipped] = [e.event for e in units.emitted]  # the lesson's; milestone and video grades flip unannounced
    assert (flipped.passed, flipped.reason, flipped.passing_threshold) == (True, "THRESHOLD_CHANGED", 0)


async def test_a_platform_wide_change_waits_for_the_config_view():
    world, _, student, _, question = _setup()
    await _answer(world, student, question, {"value": True})
    with pytest.raises(RuntimeError, match="caught up"):
        async with world.units()(TENANT) as uow:
            await passing_threshold_changed(PassingThresholdChanged(None, 90, False, None), uow,
                                            config=config_lookup({"grading.passingThreshold": 70}))
    world.graded_tenants = [TENANT]
    units = world.units()
    async with units(TENANT) as uow:
        await passing_threshold_changed(PassingThresholdChanged(None, 100, False, None), uow,
                                        config=config_lookup({"grading.passingThreshold": 100}))
    assert world.tenant == TENANT and units.emitted == []  # 100 % ≥ 100: still passed, nothing flipped

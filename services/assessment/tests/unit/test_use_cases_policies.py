"""The grading policy cascade (question → milestone → organisation default), as properties, and the
milestone policy use case on the fake unit of work."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cuepoint.assessment.domain import policies
from cuepoint.assessment.domain.policies import PolicySettings
from cuepoint.assessment.domain.questions import TrueFalse
from cuepoint.assessment.use_cases.policies import SetMilestonePolicy, policy_of, set_milestone_policy
from cuepoint.contracts import assessment as events
from cuepoint.runtime.auth import Role
from cuepoint.runtime.errors import Forbidden

from .fakes import TENANT, World, config_lookup, user

pytestmark = pytest.mark.unit

settings = st.builds(PolicySettings, max_attempts=st.none() | st.integers(1, 20),
                     retry_penalty=st.none() | st.decimals(0, 1, places=3),
                     partial_credit=st.none() | st.booleans())


@given(question=settings, milestone=st.none() | settings)
def test_each_setting_is_the_questions_else_the_milestones(question, milestone):
    chosen = policies.cascade(question, milestone)
    for name in policies.NAMES:
        own = getattr(question, name)
        expected = own if own is not None else (getattr(milestone, name) if milestone is not None else None)
        assert getattr(chosen, name) == expected


@given(question=settings, milestone=st.none() | settings, default=st.integers(1, 20),
       points=st.decimals(Decimal("0.01"), 1000, places=2))
def test_the_resolved_policy_falls_back_to_the_defaults(question, milestone, default, points):
    chosen = policies.cascade(question, milestone)
    policy = policies.resolve(points, chosen, default_max_attempts=default
                              if policies.needs_default_max_attempts(chosen) else None)
    assert policy.points == points
    assert policy.max_attempts == (chosen.max_attempts or default)
    assert policy.penalty_per_attempt == (chosen.retry_penalty if chosen.retry_penalty is not None else 0)
    assert policy.partial_credit is (True if chosen.partial_credit is None else chosen.partial_credit)


def test_without_attempts_set_anywhere_the_default_is_needed():
    with pytest.raises(ValueError):
        policies.resolve(Decimal(1), PolicySettings(), default_max_attempts=None)


async def test_the_organisation_default_is_asked_only_when_no_level_sets_attempts():
    world = World()
    teacher = user()
    lesson = world.lesson(teacher)
    milestone = world.milestone(lesson)
    question = world.question(lesson, TrueFalse(correct=True), milestone=milestone, retry_penalty=Decimal("0.5"))
    config = config_lookup({"grading.defaultMaxAttempts": 7})
    async with world.units()(TENANT) as uow:
        policy = await policy_of(uow, config, TENANT, question)
    assert (policy.max_attempts, policy.penalty_per_attempt, policy.partial_credit) == (7, Decimal("0.5"), True)
    assert config.asked == ["grading.defaultMaxAttempts"]
    async with world.units()(TENANT) as uow:
        await set_milestone_policy(SetMilestonePolicy(teacher, milestone.id, max_attempts=2, partial_credit=False),
                                   uow)
        policy = await policy_of(uow, config, TENANT, question)
    assert (policy.max_attempts, policy.penalty_per_attempt, policy.partial_credit) == (2, Decimal("0.5"), False)
    assert config.asked == ["grading.defaultMaxAttempts"]  # not asked again


async def test_a_milestone_policy_is_announced_with_what_changed_and_only_then():
    world = World()
    teacher = user()
    milestone = world.milestone(world.lesson(teacher))
    units = world.units()
    async with units(TENANT) as uow:
        result = await set_milestone_policy(SetMilestonePolicy(teacher, milestone.id, max_attempts=2), uow)
    assert (result.max_attempts, result.retry_penalty, result.partial_credit) == (2, None, None)
    [changed] = [e.event for e in units.emitted]
    assert isinstance(changed, events.MilestonePolicyChanged)
    assert (changed.changed_fields, changed.before) == (["max_attempts"], {"max_attempts": None})
    async with units(TENANT) as uow:
        await set_milestone_policy(SetMilestonePolicy(teacher, milestone.id, max_attempts=2), uow)
    assert len(units.emitted) == 1


async def test_only_the_lessons_author_sets_its_milestones_policy():
    world = World()
    milestone = world.milestone(world.lesson(user()))
    units = world.units()
    with pytest.raises(Forbidden):
        async with units(TENANT) as uow:
            await set_milestone_policy(SetMilestonePolicy(user(Role.TEACHER), milestone.id, max_attempts=2), uow)
    assert world.policies == {} and units.emitted == []

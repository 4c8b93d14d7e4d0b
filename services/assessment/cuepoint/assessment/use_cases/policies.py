"""Grading policies: a milestone's (set by the lesson's author) and the one a question is graded by."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from cuepoint.contracts import assessment as events
from cuepoint.runtime.auth import CurrentUser

from ..domain import policies
from ..domain.changes import as_json, changes_of
from ..domain.grading import Policy
from ..unit_of_work import AssessmentUnitOfWork
from .access import authored_lesson

ConfigLookup = Callable[[str, uuid.UUID | None], Awaitable[Any]]
_UNLOADED: Any = object()


async def policy_of(uow: Any, config: ConfigLookup, tenant_id: uuid.UUID, question: Any, *,
                    milestone_policy: Any = _UNLOADED) -> Policy:
    """Question → milestone → organisation default (pass ``milestone_policy`` when it is loaded already).
    ``uow`` is anything with a ``policies`` repository (a view's reads use it too)."""
    if milestone_policy is _UNLOADED:
        milestone_policy = await uow.policies.get(question.milestone_id)
    chosen = policies.cascade(policies.PolicySettings.of(question), policies.PolicySettings.of(milestone_policy))
    default = int(await config("grading.defaultMaxAttempts", tenant_id)) \
        if policies.needs_default_max_attempts(chosen) else None
    return policies.resolve(Decimal(question.points), chosen, default_max_attempts=default)


@dataclass(frozen=True)
class SetMilestonePolicy:
    actor: CurrentUser
    milestone_id: uuid.UUID
    max_attempts: int | None = None
    retry_penalty: Decimal | None = None
    partial_credit: bool | None = None


@dataclass(frozen=True)
class MilestonePolicy:
    milestone_id: uuid.UUID
    max_attempts: int | None
    retry_penalty: Decimal | None
    partial_credit: bool | None


async def set_milestone_policy(command: SetMilestonePolicy, uow: AssessmentUnitOfWork) -> MilestonePolicy:
    """Replaces the milestone's policy (unset fields: the default); announced when something changed."""
    actor = command.actor
    milestone = await uow.milestones.get(command.milestone_id)
    await authored_lesson(uow, actor, milestone.lesson_id)
    values = {"max_attempts": command.max_attempts, "retry_penalty": command.retry_penalty,
              "partial_credit": command.partial_credit}
    current = await uow.policies.get(command.milestone_id, lock=True)
    previous = current._asdict() if current is not None else dict.fromkeys(values)
    changed = changes_of(previous, values, tuple(values))
    if changed:
        await uow.policies.put(command.milestone_id, actor.tenant_id, values)
        await uow.emit(events.MilestonePolicyChanged(
            milestone_id=command.milestone_id, lesson_id=milestone.lesson_id, changed_fields=changed,
            before={name: as_json(previous[name]) for name in changed}, **values), actor_id=actor.id)
    return MilestonePolicy(milestone_id=command.milestone_id, **values)

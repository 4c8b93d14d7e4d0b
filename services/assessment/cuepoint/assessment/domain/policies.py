"""The grading policy of a question: how many attempts, what each retry costs, whether partial
answers earn part of the points. Each setting is the question's own, else its milestone's, else
the organisation's default (``grading.defaultMaxAttempts`` for the attempts; no penalty and
partial credit on for the others)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from .grading import Policy

NAMES = ("max_attempts", "retry_penalty", "partial_credit")


@dataclass(frozen=True)
class PolicySettings:
    """What a question or a milestone sets of its policy; None: not set, the next level decides."""

    max_attempts: int | None = None
    retry_penalty: Decimal | None = None
    partial_credit: bool | None = None

    @classmethod
    def of(cls, row: Any) -> PolicySettings | None:
        """The settings a question or milestone policy row holds (None for no row)."""
        if row is None:
            return None
        return cls(**{name: getattr(row, name) for name in NAMES})


def cascade(question: PolicySettings, milestone: PolicySettings | None) -> PolicySettings:
    """Each setting from the first level that sets it: the question, then its milestone."""
    def pick(name: str) -> Any:
        own = getattr(question, name)
        if own is not None:
            return own
        return getattr(milestone, name) if milestone is not None else None

    return PolicySettings(**{name: pick(name) for name in NAMES})


def needs_default_max_attempts(chosen: PolicySettings) -> bool:
    """Whether the organisation's default number of attempts applies (neither level sets one)."""
    return not chosen.max_attempts


def resolve(points: Decimal, chosen: PolicySettings, *, default_max_attempts: int | None) -> Policy:
    """The policy a question is graded by, from the cascaded settings; ``default_max_attempts`` is
    asked for only when ``needs_default_max_attempts``."""
    max_attempts = chosen.max_attempts or default_max_attempts
    if max_attempts is None:
        raise ValueError("neither the question nor its milestone sets max_attempts: the default is needed")
    return Policy(points=Decimal(points), max_attempts=max_attempts,
                  penalty_per_attempt=Decimal(chosen.retry_penalty) if chosen.retry_penalty is not None
                  else Decimal(0),
                  partial_credit=True if chosen.partial_credit is None else chosen.partial_credit)

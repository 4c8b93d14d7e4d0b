"""Grading: how much of a question's points an answer earns.

- exact types (true/false, single-answer choice) are all or nothing;
- multiple-answer choice: (right picks − wrong picks) / |key|, never below 0;
- matching: share of pairs matched right; fill in the blank: share of blanks right
  (each against its accepted alternatives, normalised);
- ordering: (longest correctly ordered subsequence − 1) / (n − 1), so only the key earns
  everything and a fully reversed order earns nothing;
- short answer: normalised (case, spacing, punctuation), optionally within ``tolerance``
  character edits of an accepted answer.
Without partial credit, anything short of a fully right answer earns 0. Each extra attempt
costs ``penalty_per_attempt`` of the points; attempts beyond the limit are refused.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from .questions import (
    ChoiceAnswer,
    FillInTheBlank,
    FillInTheBlankAnswer,
    Matching,
    MatchingAnswer,
    MultipleChoice,
    Ordering,
    OrderingAnswer,
    ShortAnswer,
    ShortAnswerAnswer,
    TrueFalse,
    TrueFalseAnswer,
)


class AnswerMismatch(ValueError):
    """The answer does not fit the question (wrong type, unknown option, …)."""


class AlreadyAnsweredCorrectly(ValueError):
    def __init__(self, used: int) -> None:
        super().__init__(f"already answered correctly ({used} attempts made)")
        self.used = used


class AttemptLimitReached(ValueError):
    def __init__(self, used: int, limit: int) -> None:
        super().__init__(f"all {limit} attempts are used ({used} made)")
        self.used = used
        self.limit = limit


@dataclass(frozen=True)
class Policy:
    points: Decimal = Decimal(1)
    max_attempts: int = 3
    penalty_per_attempt: Decimal = Decimal(0)  # share of the points lost per extra attempt, 0..1
    partial_credit: bool = True


@dataclass(frozen=True)
class Grade:
    fraction: Fraction  # of the answer that is right, before penalties
    score: Decimal
    max_score: Decimal
    is_correct: bool
    attempt_number: int
    attempts_left: int

    @property
    def settled(self) -> bool:
        return settled(is_correct=self.is_correct, attempts_left=self.attempts_left)


def settled(*, is_correct: bool, attempts_left: int) -> bool:
    """No more attempts are useful: an answer was right, or none are left. Until then a student
    must not see the explanation or the answer key."""
    return is_correct or attempts_left <= 0


def next_attempt_number(history: list[bool]) -> int:
    """The number of a student's next attempt at a question, from whether each earlier one was right.
    A question answered right is settled: it takes no more attempts (nor is it graded again). The limit
    on attempts is ``grade``'s, which knows the policy."""
    if any(history):
        raise AlreadyAnsweredCorrectly(len(history))
    return len(history) + 1


def grade(question: object, answer: object, *, attempt_number: int, policy: Policy) -> Grade:
    if attempt_number < 1:
        raise ValueError("attempts are numbered from 1")
    if attempt_number > policy.max_attempts:
        raise AttemptLimitReached(attempt_number - 1, policy.max_attempts)
    fraction = answer_fraction(question, answer)
    if not policy.partial_credit and fraction < 1:
        fraction = Fraction(0)
    multiplier = max(Decimal(0), Decimal(1) - policy.penalty_per_attempt * (attempt_number - 1))
    raw = policy.points * Decimal(fraction.numerator) / Decimal(fraction.denominator) * multiplier
    score = raw.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return Grade(fraction=fraction, score=min(score, policy.points), max_score=policy.points,
                 is_correct=fraction == 1, attempt_number=attempt_number,
                 attempts_left=policy.max_attempts - attempt_number)


def answer_fraction(question: object, answer: object) -> Fraction:
    expected = _ANSWER_TYPES.get(type(question))
    if expected is None or not isinstance(answer, expected):
        raise AnswerMismatch(f"a {getattr(question, 'type', '?')} question needs a {getattr(question, 'type', '?')} "
                             f"answer, not {getattr(answer, 'type', type(answer).__name__)}")
    match question:
        case TrueFalse():
            return Fraction(int(answer.value == question.correct))
        case MultipleChoice():
            return _choice(question, answer)
        case ShortAnswer():
            given = normalise(answer.text)
            return Fraction(int(any(_within(given, normalise(a), question.tolerance)
                                    for a in question.accepted_answers)))
        case FillInTheBlank():
            if unknown := set(answer.blanks) - {b.id for b in question.blanks}:
                raise AnswerMismatch(f"unknown blanks: {sorted(unknown)}")
            right = sum(normalise(answer.blanks.get(b.id, "")) in {normalise(a) for a in b.accepted}
                        for b in question.blanks)
            return Fraction(right, len(question.blanks))
        case Matching():
            lefts, rights = {p.left_id for p in question.pairs}, {p.right_id for p in question.pairs}
            if set(answer.matches) - lefts or set(answer.matches.values()) - rights:
                raise AnswerMismatch("the answer matches items the question does not have")
            right = sum(answer.matches.get(p.left_id) == p.right_id for p in question.pairs)
            return Fraction(right, len(question.pairs))
        case Ordering():
            if sorted(answer.order) != sorted(question.correct_order):
                raise AnswerMismatch("the order must list every item exactly once")
            position = {item: index for index, item in enumerate(question.correct_order)}
            longest = _longest_increasing([position[item] for item in answer.order])
            return Fraction(longest - 1, len(question.correct_order) - 1)
    raise AnswerMismatch("unknown question type")  # pragma: no cover - the table above is exhaustive


_ANSWER_TYPES: dict[type, type] = {
    MultipleChoice: ChoiceAnswer, TrueFalse: TrueFalseAnswer, ShortAnswer: ShortAnswerAnswer,
    FillInTheBlank: FillInTheBlankAnswer, Matching: MatchingAnswer, Ordering: OrderingAnswer,
}


def _choice(question: MultipleChoice, answer: ChoiceAnswer) -> Fraction:
    picked = set(answer.option_ids)
    if len(picked) != len(answer.option_ids):
        raise AnswerMismatch("an option is picked twice")
    if unknown := picked - {o.id for o in question.options}:
        raise AnswerMismatch(f"unknown options: {sorted(unknown)}")
    key = set(question.correct_option_ids)
    if not question.multiple:
        if len(picked) != 1:
            raise AnswerMismatch("this question takes exactly one option")
        return Fraction(int(picked == key))
    return max(Fraction(0), Fraction(len(picked & key) - len(picked - key), len(key)))


def normalise(text: str) -> str:
    """Case, accents kept; spacing and punctuation dropped: 'The  Sun!' == 'the sun'."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(re.sub(r"[^\w\s]", " ", folded).split())


def _within(given: str, accepted: str, tolerance: int) -> bool:
    if tolerance == 0 or abs(len(given) - len(accepted)) > tolerance:
        return given == accepted
    return _edit_distance(given, accepted) <= tolerance


def _edit_distance(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, 1):
        current = [i]
        for j, char_b in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char_a != char_b)))
        previous = current
    return previous[-1]


def _longest_increasing(values: list[int]) -> int:
    tails: list[int] = []
    for value in values:
        index = bisect.bisect_left(tails, value)
        if index == len(tails):
            tails.append(value)
        else:
            tails[index] = value
    return len(tails)


# --- the lesson score: the one definition ------------------------------------------------------------
#
# Grades (``grades``), progress's ``student_progress.average_score`` and the dashboards built on it all
# use this (progress and analytics follow assessment's LessonGraded; they never compute a score of their
# own), and the README says it in words:
# - which questions count: every approved question of a required milestone, answered or not (unanswered
#   earns 0), and a question of an optional milestone (or of none) once the student has answered it —
#   optional milestones are not needed to complete a lesson, so skipping one costs nothing, and an answer
#   given there counts like any other;
# - how they weigh: by their points (a 2-point question weighs twice a 1-point one);
# - retries and penalties: a question earns the student's best attempt, each attempt already reduced by
#   its retry penalty (``grade``); a teacher's override replaces the attempt's score;
# - passed: the percent at or above ``grading.passingThreshold``, re-evaluated for everyone when it changes.


@dataclass(frozen=True)
class Counted:
    """One approved question as the score sees it."""

    points: Decimal
    required: bool  # on a required milestone
    best: Decimal | None = None  # the student's best score; None: not answered


@dataclass(frozen=True)
class Score:
    score: Decimal
    max_score: Decimal
    percent: Decimal  # 0–100, two decimals; 0 when nothing counts yet
    answered: int  # questions counted that the student answered
    total: int  # questions counted


def lesson_score(questions: list[Counted]) -> Score:
    counted = [q for q in questions if q.required or q.best is not None]
    earned = sum((q.best or Decimal(0) for q in counted), Decimal(0))
    points = sum((q.points for q in counted), Decimal(0))
    percent = (earned * 100 / points).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP) if points else Decimal(0)
    return Score(score=earned, max_score=points, percent=percent,
                 answered=sum(1 for q in counted if q.best is not None), total=len(counted))


def passed(percent: Decimal, threshold: float | Decimal) -> bool:
    return percent >= Decimal(str(threshold))

"""Grading per question type, and its properties."""

from __future__ import annotations

import itertools
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from cuepoint.assessment.domain.grading import AnswerMismatch, AttemptLimitReached, Policy, grade, normalise
from cuepoint.assessment.domain.questions import (
    Answer,
    ChoiceAnswer,
    FillInTheBlank,
    FillInTheBlankAnswer,
    Matching,
    MatchingAnswer,
    MultipleChoice,
    Ordering,
    OrderingAnswer,
    QuestionContent,
    ShortAnswer,
    ShortAnswerAnswer,
    TrueFalse,
    TrueFalseAnswer,
)

pytestmark = pytest.mark.unit

OPTIONS = [{"id": k, "text": k.upper()} for k in "abcde"]
SINGLE = MultipleChoice(options=OPTIONS, correct_option_ids=["b"])
MULTI = MultipleChoice(options=OPTIONS, correct_option_ids=["a", "c", "d"])
BLANKS = FillInTheBlank(template="Plants make {{sugar}} from {{gas}} and water.",
                        blanks=[{"id": "sugar", "accepted": ["glucose", "sugar"]}, {"id": "gas", "accepted": ["CO2",
                                                                                                              "carbon dioxide"]}])
MATCH = Matching(pairs=[{"left_id": f"l{i}", "left": f"L{i}", "right_id": f"r{i}", "right": f"R{i}"} for i in range(4)])
ORDER = Ordering(items=[{"id": k, "text": k} for k in "abcde"], correct_order=list("abcde"))
SHORT = ShortAnswer(accepted_answers=["Chlorophyll"], tolerance=1)


def fraction(question, answer) -> Fraction:
    return grade(question, answer, attempt_number=1, policy=Policy()).fraction


def test_exact_types_are_all_or_nothing() -> None:
    assert fraction(TrueFalse(correct=True), TrueFalseAnswer(value=True)) == 1
    assert fraction(TrueFalse(correct=True), TrueFalseAnswer(value=False)) == 0
    assert fraction(SINGLE, ChoiceAnswer(option_ids=["b"])) == 1
    assert fraction(SINGLE, ChoiceAnswer(option_ids=["a"])) == 0
    with pytest.raises(AnswerMismatch, match="exactly one"):
        fraction(SINGLE, ChoiceAnswer(option_ids=["a", "b"]))


def test_multiple_answers_earn_per_option_and_wrong_picks_cost() -> None:
    assert fraction(MULTI, ChoiceAnswer(option_ids=["a", "c", "d"])) == 1
    assert fraction(MULTI, ChoiceAnswer(option_ids=["a", "c"])) == Fraction(2, 3)
    assert fraction(MULTI, ChoiceAnswer(option_ids=["a", "c", "b"])) == Fraction(1, 3)
    assert fraction(MULTI, ChoiceAnswer(option_ids=list("abcde"))) == Fraction(1, 3), "picking all is no trick"
    assert fraction(MULTI, ChoiceAnswer(option_ids=["b", "e"])) == 0
    for bad in (["z"], ["a", "a"]):
        with pytest.raises(AnswerMismatch):
            fraction(MULTI, ChoiceAnswer(option_ids=bad))


def test_blanks_matching_and_ordering_give_partial_credit() -> None:
    assert fraction(BLANKS, FillInTheBlankAnswer(blanks={"sugar": " Glucose ", "gas": "carbon-dioxide"})) == 1
    assert fraction(BLANKS, FillInTheBlankAnswer(blanks={"sugar": "starch", "gas": "co2"})) == Fraction(1, 2)
    assert fraction(BLANKS, FillInTheBlankAnswer(blanks={})) == 0
    with pytest.raises(AnswerMismatch):
        fraction(BLANKS, FillInTheBlankAnswer(blanks={"oxygen": "x"}))
    assert fraction(MATCH, MatchingAnswer(matches={"l0": "r0", "l1": "r1", "l2": "r3", "l3": "r2"})) == Fraction(1, 2)
    with pytest.raises(AnswerMismatch):
        fraction(MATCH, MatchingAnswer(matches={"l9": "r0"}))
    assert fraction(ORDER, OrderingAnswer(order=list("abcde"))) == 1
    assert fraction(ORDER, OrderingAnswer(order=list("edcba"))) == 0
    assert fraction(ORDER, OrderingAnswer(order=list("bacde"))) == Fraction(3, 4)
    with pytest.raises(AnswerMismatch):
        fraction(ORDER, OrderingAnswer(order=list("abcd")))


def test_short_answers_are_normalised_with_optional_tolerance() -> None:
    assert normalise("  The   SUN!! ") == "the sun"
    assert fraction(SHORT, ShortAnswerAnswer(text="chlorophyll.")) == 1
    assert fraction(SHORT, ShortAnswerAnswer(text="chlorophyl")) == 1, "one edit is tolerated"
    assert fraction(SHORT, ShortAnswerAnswer(text="clorofyll")) == 0
    strict = ShortAnswer(accepted_answers=["Chlorophyll"])
    assert fraction(strict, ShortAnswerAnswer(text="chlorophyl")) == 0


def test_penalties_partial_credit_switch_and_attempt_limit() -> None:
    policy = Policy(points=Decimal(10), max_attempts=3, penalty_per_attempt=Decimal("0.25"))
    right = ChoiceAnswer(option_ids=["a", "c", "d"])
    assert [grade(MULTI, right, attempt_number=n, policy=policy).score for n in (1, 2, 3)] == [
        Decimal("10.00"), Decimal("7.50"), Decimal("5.00")]
    partial = grade(MULTI, ChoiceAnswer(option_ids=["a", "c"]), attempt_number=1, policy=policy)
    assert partial.score == Decimal("6.67") and not partial.is_correct and not partial.settled
    strict = Policy(points=Decimal(10), partial_credit=False)
    assert grade(MULTI, ChoiceAnswer(option_ids=["a", "c"]), attempt_number=1, policy=strict).score == 0
    last = grade(MULTI, ChoiceAnswer(option_ids=["b"]), attempt_number=3, policy=policy)
    assert last.attempts_left == 0 and last.settled
    with pytest.raises(AttemptLimitReached) as refused:
        grade(MULTI, right, attempt_number=4, policy=policy)
    assert refused.value.used == 3
    with pytest.raises(AnswerMismatch, match="needs a MULTIPLE_CHOICE answer"):
        grade(MULTI, TrueFalseAnswer(value=True), attempt_number=1, policy=policy)


def test_content_and_answers_validate_as_discriminated_unions() -> None:
    question = TypeAdapter(QuestionContent).validate_python({"type": "ORDERING", "items": [
        {"id": "a", "text": "A"}, {"id": "b", "text": "B"}], "correct_order": ["b", "a"]})
    assert isinstance(question, Ordering)
    assert isinstance(TypeAdapter(Answer).validate_python({"type": "TRUE_FALSE", "value": False}), TrueFalseAnswer)
    for bad in ({"type": "MULTIPLE_CHOICE", "options": OPTIONS, "correct_option_ids": ["z"]},
                {"type": "ORDERING", "items": [{"id": "a", "text": "A"}, {"id": "b", "text": "B"}],
                 "correct_order": ["a"]},
                {"type": "FILL_IN_THE_BLANK", "template": "no blanks", "blanks": [{"id": "x", "accepted": ["y"]}]},
                {"type": "ESSAY", "prompt": "?"}):
        with pytest.raises(ValidationError):
            TypeAdapter(QuestionContent).validate_python(bad)


# --- properties --------------------------------------------------------------------------------

size = st.integers(min_value=2, max_value=6)


@st.composite
def question_and_answer(draw):
    kind = draw(st.sampled_from(["choice", "matching", "ordering", "blanks"]))
    n = draw(size)
    ids = [f"i{k}" for k in range(n)]
    if kind == "choice":
        key = draw(st.lists(st.sampled_from(ids), min_size=2, max_size=n, unique=True))
        question = MultipleChoice(options=[{"id": i, "text": i} for i in ids], correct_option_ids=key)
        picked = draw(st.lists(st.sampled_from(ids), min_size=1, max_size=n, unique=True))
        return question, ChoiceAnswer(option_ids=picked), ChoiceAnswer(option_ids=key), set(picked) == set(key)
    if kind == "matching":
        question = Matching(pairs=[{"left_id": f"l{i}", "left": i, "right_id": f"r{i}", "right": i} for i in ids])
        rights = draw(st.permutations([f"r{i}" for i in ids]))
        answer = MatchingAnswer(matches=dict(zip([f"l{i}" for i in ids], rights, strict=True)))
        key = MatchingAnswer(matches={f"l{i}": f"r{i}" for i in ids})
        return question, answer, key, answer == key
    if kind == "ordering":
        question = Ordering(items=[{"id": i, "text": i} for i in ids], correct_order=ids)
        order = draw(st.permutations(ids))
        return question, OrderingAnswer(order=list(order)), OrderingAnswer(order=ids), list(order) == ids
    words = draw(st.lists(st.text(alphabet="abcdefgh", min_size=1, max_size=6), min_size=n, max_size=n))
    question = FillInTheBlank(template=" ".join(f"{{{{{i}}}}}" for i in ids),
                              blanks=[{"id": i, "accepted": [w]} for i, w in zip(ids, words, strict=True)])
    given = draw(st.lists(st.text(alphabet="abcdefgh", min_size=0, max_size=6), min_size=n, max_size=n))
    answer = FillInTheBlankAnswer(blanks=dict(zip(ids, given, strict=True)))
    key = FillInTheBlankAnswer(blanks=dict(zip(ids, words, strict=True)))
    return question, answer, key, all(normalise(g) == normalise(w) for g, w in zip(given, words, strict=True))


policies = st.builds(Policy, points=st.decimals(min_value=0, max_value=100, places=2),
                     max_attempts=st.integers(1, 6),
                     penalty_per_attempt=st.decimals(min_value=0, max_value=1, places=2),
                     partial_credit=st.booleans())


@given(question_and_answer(), policies)
def test_score_stays_within_zero_and_the_points(case, policy: Policy) -> None:
    question, answer, _, _ = case
    for attempt in range(1, policy.max_attempts + 1):
        result = grade(question, answer, attempt_number=attempt, policy=policy)
        assert Decimal(0) <= result.score <= policy.points


@given(question_and_answer())
def test_full_marks_exactly_for_the_key(case) -> None:
    question, answer, key, is_key = case
    policy = Policy(points=Decimal(10))
    assert grade(question, key, attempt_number=1, policy=policy).score == Decimal("10.00")
    assert grade(question, answer, attempt_number=1, policy=policy).is_correct == is_key


@given(question_and_answer(), policies)
def test_penalties_never_raise_a_score(case, policy: Policy) -> None:
    question, answer, _, _ = case
    scores = [grade(question, answer, attempt_number=n, policy=policy).score
              for n in range(1, policy.max_attempts + 1)]
    assert all(later <= earlier for earlier, later in itertools.pairwise(scores))


@given(st.permutations(list("abcdef")))
def test_ordering_credit_rises_with_the_ordered_run(order: list[str]) -> None:
    question = Ordering(items=[{"id": k, "text": k} for k in "abcdef"], correct_order=list("abcdef"))
    got = fraction(question, OrderingAnswer(order=order))
    assume(order != list("abcdef"))
    assert 0 <= got < 1

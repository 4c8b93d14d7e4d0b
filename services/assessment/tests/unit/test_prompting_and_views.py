"""Prompt templates, transcript windows, provider output acceptance, cost, and what students see."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from pydantic import ValidationError

from cuepoint.assessment.domain.offline_generator import TimedText, generate
from cuepoint.assessment.domain.prompting import (
    DEFAULT_PROMPT_TEMPLATE,
    DraftedQuestions,
    OutputProblem,
    Prices,
    TemplateProblem,
    accept,
    check_template,
    output_schema,
    render,
    validate_types,
    window_before,
)
from cuepoint.assessment.domain.questions import (
    FillInTheBlank,
    Matching,
    MultipleChoice,
    Ordering,
    ShortAnswer,
    TrueFalse,
    answer_key,
    student_view,
)

pytestmark = pytest.mark.unit

SEGMENTS = [TimedText(i * 10, i * 10 + 10, f"Sentence number {i} talks about chloroplast structure number {i}.")
            for i in range(10)]


def test_default_template_is_valid_and_renders_the_window() -> None:
    check_template(DEFAULT_PROMPT_TEMPLATE)
    text = render(DEFAULT_PROMPT_TEMPLATE, count=3, types=["TRUE_FALSE", "ORDERING"], milestone="Cells",
                  window=SEGMENTS[2:4])
    assert "Write 3 quiz questions" in text and "TRUE_FALSE, ORDERING" in text and '"Cells"' in text
    assert "from 20 s to 40 s" in text and SEGMENTS[3].text in text and SEGMENTS[4].text not in text


@pytest.mark.parametrize(("template", "problem"), [
    ("About {topic}: {transcript}", "unknown placeholders ['topic']"),
    ("Just {count} questions", "must include {transcript}"),
    ("{transcript", "malformed"),
    ("{transcript.__class__}", "unknown placeholders"),
])
def test_bad_templates_are_refused_with_the_reason(template: str, problem: str) -> None:
    with pytest.raises(TemplateProblem, match=problem.replace("[", r"\[").replace("{", r"\{")):
        check_template(template)


def test_window_is_what_was_said_between_the_previous_milestone_and_this_one() -> None:
    window = window_before(SEGMENTS, until=100, since=50)
    assert [s.start for s in window] == [50, 60, 70, 80, 90]
    # Too little since the previous milestone: widened back to the start of the video.
    assert [s.start for s in window_before(SEGMENTS, until=25, since=20)] == [0, 10, 20]
    assert window_before(SEGMENTS, until=0, since=0) == []


def _batch(*types: str) -> DraftedQuestions:
    contents = {"TRUE_FALSE": {"type": "TRUE_FALSE", "correct": False},
                "SHORT_ANSWER": {"type": "SHORT_ANSWER", "accepted_answers": ["xylem"]}}
    return DraftedQuestions.model_validate({"questions": [{"prompt": "?", "content": contents[t]} for t in types]})


def test_provider_output_is_filtered_to_the_requested_types_and_count() -> None:
    batch = _batch("TRUE_FALSE", "SHORT_ANSWER", "TRUE_FALSE", "TRUE_FALSE")
    assert [q.content.type for q in accept(batch, count=2, types=["TRUE_FALSE"])] == ["TRUE_FALSE", "TRUE_FALSE"]
    with pytest.raises(OutputProblem, match="none of the requested types"):
        accept(batch, count=2, types=["ORDERING"])
    with pytest.raises(ValidationError):
        DraftedQuestions.model_validate({"questions": [{"prompt": "?", "content": {"type": "ESSAY"}}]})
    schema = json.dumps(output_schema())
    assert all(t in schema for t in ("MULTIPLE_CHOICE", "FILL_IN_THE_BLANK", "MATCHING", "ORDERING"))


def test_types_default_to_all_six_and_unknown_ones_are_named() -> None:
    assert len(validate_types(None)) == 6 and validate_types(["ORDERING", "ORDERING"]) == ["ORDERING"]
    with pytest.raises(ValueError, match="ESSAY"):
        validate_types(["ESSAY"])


def test_cost_uses_the_configured_prices_per_thousand_tokens() -> None:
    prices = Prices(Decimal("0.01"), Decimal("0.03"))
    assert prices.cost(1200, 300) == Decimal("0.021000") and not prices.free
    assert Prices().cost(10**6, 10**6) == 0 and Prices().free
    assert Prices(Decimal("0.000150"), Decimal(0)).cost(1, 0) == Decimal("0.000000")  # rounds to micro-dollars


TRANSCRIPT = [
    TimedText(0, 8, "Photosynthesis happens inside chloroplasts. Chlorophyll absorbs sunlight very efficiently."),
    TimedText(8, 16, "Plants combine carbon dioxide and water. The reaction releases oxygen into the atmosphere."),
    TimedText(16, 25, "Glucose stores the captured energy. Respiration later releases that energy for growth."),
]


def _leaks(content: object, view: dict[str, object]) -> list[str]:
    shown = json.dumps(view)
    match content:
        case MultipleChoice():
            return ["correct_option_ids"] if "correct" in shown else []
        case TrueFalse():
            return ["correct"] if set(view) != {"type"} else []
        case ShortAnswer():
            return [a for a in content.accepted_answers if a.lower() in shown.lower()]
        case FillInTheBlank():
            return [a for b in content.blanks for a in b.accepted if f'"{a}"' in shown]
        case Matching():
            return ["pairs"] if "pairs" in shown or "right_id" in shown else []
        case Ordering():
            return ["order"] if [i["id"] for i in view["items"]] == content.correct_order else []
    return ["unknown type"]


@pytest.mark.parametrize("seed", ["a", "b", "c"])
def test_students_never_see_an_answer_key(seed: str) -> None:
    for draft in generate(TRANSCRIPT, count=12):
        view = student_view(draft.content, seed=seed)
        assert view["type"] == draft.content.type
        assert _leaks(draft.content, view) == [], (draft.content, view)
        assert answer_key(draft.content)  # … which is there to show once the question is settled
    ordering = Ordering(items=[{"id": "a", "text": "A"}, {"id": "b", "text": "B"}], correct_order=["a", "b"])
    assert student_view(ordering, seed=seed) == student_view(ordering, seed=seed)  # stable across reloads

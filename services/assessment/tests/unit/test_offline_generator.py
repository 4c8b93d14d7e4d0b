"""The offline generator: every type, valid, gradable, deterministic, tied to the transcript."""

from __future__ import annotations

from decimal import Decimal

import pytest

from cuepoint.assessment.domain.grading import Policy, grade
from cuepoint.assessment.domain.offline_generator import QUESTION_TYPES, NotEnoughTranscript, TimedText, generate
from cuepoint.assessment.domain.questions import (
    ChoiceAnswer,
    FillInTheBlankAnswer,
    MatchingAnswer,
    OrderingAnswer,
    ShortAnswerAnswer,
    TrueFalseAnswer,
)

pytestmark = pytest.mark.unit

WINDOW = [
    TimedText(0, 8, "Photosynthesis happens inside chloroplasts. Chlorophyll absorbs sunlight very efficiently."),
    TimedText(8, 16, "Plants combine carbon dioxide and water. The reaction releases oxygen into the atmosphere."),
    TimedText(16, 25, "Glucose stores the captured energy. Respiration later releases that energy for growth."),
]


def _key_answer(draft):
    content = draft.content
    return {
        "MULTIPLE_CHOICE": lambda: ChoiceAnswer(option_ids=content.correct_option_ids),
        "TRUE_FALSE": lambda: TrueFalseAnswer(value=content.correct),
        "SHORT_ANSWER": lambda: ShortAnswerAnswer(text=content.accepted_answers[0]),
        "FILL_IN_THE_BLANK": lambda: FillInTheBlankAnswer(blanks={b.id: b.accepted[0] for b in content.blanks}),
        "MATCHING": lambda: MatchingAnswer(matches={p.left_id: p.right_id for p in content.pairs}),
        "ORDERING": lambda: OrderingAnswer(order=content.correct_order),
    }[draft.type]()


def test_all_six_types_are_drawn_valid_and_gradable() -> None:
    drafts = generate(WINDOW, count=12)
    assert [d.type for d in drafts] == list(QUESTION_TYPES) * 2
    for draft in drafts:
        assert draft.prompt and draft.explanation
        assert 0 <= draft.span_start <= draft.span_end <= 25
        result = grade(draft.content, _key_answer(draft), attempt_number=1, policy=Policy(points=Decimal(2)))
        assert result.is_correct and result.score == Decimal("2.00"), draft


def test_questions_come_from_the_transcript_and_are_deterministic() -> None:
    first, again = generate(WINDOW, count=6), generate(WINDOW, count=6)
    assert first == again
    text = " ".join(t.text for t in WINDOW).lower()
    fill = next(d for d in first if d.type == "FILL_IN_THE_BLANK")
    assert fill.content.blanks[0].accepted[0] in text
    assert fill.content.template.replace("{{b1}}", fill.content.blanks[0].accepted[0]).lower() in text
    order = next(d for d in first if d.type == "ORDERING")
    by_id = {item.id: item.text for item in order.content.items}
    positions = [text.index(by_id[i].lower()) for i in order.content.correct_order]
    assert positions == sorted(positions), "the key follows the video's order"
    other = generate([TimedText(0, 5, WINDOW[1].text), TimedText(5, 10, WINDOW[2].text), *WINDOW[:1]], count=6)
    assert other != first


def test_types_can_be_chosen_and_thin_transcripts_are_refused() -> None:
    assert {d.type for d in generate(WINDOW, count=4, types=["TRUE_FALSE"])} == {"TRUE_FALSE"}
    with pytest.raises(ValueError, match="unknown question types"):
        generate(WINDOW, count=1, types=["ESSAY"])
    with pytest.raises(NotEnoughTranscript, match="too short"):
        generate([TimedText(0, 2, "Hello there everyone.")], count=1)

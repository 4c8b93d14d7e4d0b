"""What generation asks of a provider and what it accepts back, independent of any provider:
the transcript window before a milestone, the prompt template, the structured output
model, and what a request costs."""

from __future__ import annotations

import string
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from .offline_generator import QUESTION_TYPES, TimedText
from .questions import QuestionContent

PROMPT_VERSION = "cuepoint-v1"
PLACEHOLDERS = frozenset({"count", "types", "milestone", "start", "end", "transcript"})
MIN_WINDOW_WORDS = 40

DEFAULT_PROMPT_TEMPLATE = """\
Write {count} quiz questions for students who have just watched the part of a lesson video \
that ends at the checkpoint "{milestone}". Use only these question types: {types}. \
Ask only about what the transcript below says, never about outside trivia. \
Give every question a short explanation that a student reads after answering, \
and a difficulty of EASY, MEDIUM or HARD.

Transcript from {start} s to {end} s:
{transcript}"""

SYSTEM_MESSAGE = ("You write clear, fair quiz questions for interactive video lessons. Answer with JSON that matches "
                  "the given schema exactly.")


class TemplateProblem(ValueError):
    pass


def check_template(template: str) -> None:
    """A prompt template may use only the known placeholders and must include the transcript."""
    try:
        fields = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    except ValueError as error:
        raise TemplateProblem(f"the prompt template is malformed: {error} (write literal braces as {{{{ and }}}})") \
            from error
    if unknown := fields - PLACEHOLDERS:
        raise TemplateProblem(f"the prompt template uses unknown placeholders {sorted(unknown)}; "
                              f"known: {sorted(PLACEHOLDERS)}")
    if "transcript" not in fields:
        raise TemplateProblem("the prompt template must include {transcript}")


def render(template: str, *, count: int, types: list[str], milestone: str, window: list[TimedText]) -> str:
    return template.format(count=count, types=", ".join(types), milestone=milestone,
                           start=f"{window[0].start:.0f}" if window else "0",
                           end=f"{window[-1].end:.0f}" if window else "0",
                           transcript="\n".join(segment.text for segment in window))


def window_before(segments: list[TimedText], *, until: float, since: float) -> list[TimedText]:
    """The transcript between the previous milestone (``since``) and this one; widened back to
    the start of the video when that stretch is too short to ask about."""
    window = [s for s in segments if s.start < until and s.end > since]
    if sum(len(s.text.split()) for s in window) < MIN_WINDOW_WORDS:
        window = [s for s in segments if s.start < until]
    return window


class DraftedQuestion(BaseModel):
    """One question as a provider must return it (content holds the type and answer key)."""

    model_config = ConfigDict(extra="ignore")

    prompt: Annotated[str, Field(min_length=1, max_length=2000)]
    explanation: Annotated[str, Field(max_length=4000)] = ""
    difficulty: Literal["EASY", "MEDIUM", "HARD"] = "MEDIUM"
    content: QuestionContent


class DraftedQuestions(BaseModel):
    model_config = ConfigDict(extra="ignore")

    questions: list[DraftedQuestion] = Field(min_length=1, max_length=50)


def output_schema() -> dict[str, object]:
    return DraftedQuestions.model_json_schema()


class OutputProblem(ValueError):
    pass


def accept(batch: DraftedQuestions, *, count: int, types: list[str]) -> list[DraftedQuestion]:
    """The provider's questions of the requested types, at most ``count``; refuses a batch
    that has none usable."""
    wanted = [q for q in batch.questions if q.content.type in types]
    if not wanted:
        got = sorted({q.content.type for q in batch.questions})
        raise OutputProblem(f"the provider returned only {got}, none of the requested types {types}")
    return wanted[:count]


def validate_types(types: list[str] | None) -> list[str]:
    chosen = list(dict.fromkeys(types or QUESTION_TYPES))
    if unknown := set(chosen) - set(QUESTION_TYPES):
        raise ValueError(f"unknown question types {sorted(unknown)}")
    return chosen


@dataclass(frozen=True)
class Prices:
    input_per_1k: Decimal = Decimal(0)
    output_per_1k: Decimal = Decimal(0)

    @property
    def free(self) -> bool:
        return self.input_per_1k == 0 and self.output_per_1k == 0

    def cost(self, tokens_in: int, tokens_out: int) -> Decimal:
        raw = (Decimal(tokens_in) * self.input_per_1k + Decimal(tokens_out) * self.output_per_1k) / 1000
        return raw.quantize(Decimal("0.000001"), rounding=ROUND_HALF_UP)

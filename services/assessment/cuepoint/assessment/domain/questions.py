"""The six question types: content and answer key (one model per type, discriminated
by ``type``), and the answer a student submits for each."""

from __future__ import annotations

import random
import re
import secrets
from collections.abc import Collection
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Id = Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_-]+$")]
Text = Annotated[str, Field(min_length=1, max_length=1000)]
BLANK = re.compile(r"\{\{([A-Za-z0-9_-]+)\}\}")


class _Model(BaseModel):
    # A stored or answered value always carries its defaults (``type`` above all), so the API's
    # response schema says they are there and a generated client can narrow on ``type``.
    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_serialization_defaults_required=True)


class Option(_Model):
    id: Id
    text: Text


class MultipleChoice(_Model):
    """One or several correct options; several means per-option partial credit."""

    type: Literal["MULTIPLE_CHOICE"] = "MULTIPLE_CHOICE"
    options: list[Option] = Field(min_length=2, max_length=10)
    correct_option_ids: list[Id] = Field(min_length=1)

    @model_validator(mode="after")
    def _key_is_among_options(self) -> "MultipleChoice":
        ids = [o.id for o in self.options]
        if len(set(ids)) != len(ids):
            raise ValueError("option ids must be unique")
        if len(set(self.correct_option_ids)) != len(self.correct_option_ids):
            raise ValueError("correct_option_ids repeats an option")
        if unknown := set(self.correct_option_ids) - set(ids):
            raise ValueError(f"correct_option_ids names unknown options: {sorted(unknown)}")
        return self

    @property
    def multiple(self) -> bool:
        return len(self.correct_option_ids) > 1


class TrueFalse(_Model):
    type: Literal["TRUE_FALSE"] = "TRUE_FALSE"
    correct: bool


class ShortAnswer(_Model):
    """Compared after normalising case, spacing and punctuation; ``tolerance`` allows that
    many character edits (typos) and still counts as correct."""

    type: Literal["SHORT_ANSWER"] = "SHORT_ANSWER"
    accepted_answers: list[Text] = Field(min_length=1, max_length=20)
    tolerance: int = Field(default=0, ge=0, le=3)


class Blank(_Model):
    id: Id
    accepted: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(min_length=1, max_length=10)


class FillInTheBlank(_Model):
    """``template`` marks each blank as ``{{id}}``; each blank has accepted alternatives."""

    type: Literal["FILL_IN_THE_BLANK"] = "FILL_IN_THE_BLANK"
    template: Annotated[str, Field(min_length=1, max_length=4000)]
    blanks: list[Blank] = Field(min_length=1, max_length=20)

    @model_validator(mode="after")
    def _blanks_match_template(self) -> "FillInTheBlank":
        in_template = BLANK.findall(self.template)
        declared = [b.id for b in self.blanks]
        if sorted(in_template) != sorted(declared) or len(set(declared)) != len(declared):
            raise ValueError(f"the template's blanks {in_template} and the declared blanks {declared} differ")
        return self


class Pair(_Model):
    left_id: Id
    left: Text
    right_id: Id
    right: Text


class Matching(_Model):
    """Match each left item to its right item; per-pair partial credit."""

    type: Literal["MATCHING"] = "MATCHING"
    pairs: list[Pair] = Field(min_length=2, max_length=12)

    @model_validator(mode="after")
    def _unique(self) -> "Matching":
        for side in ("left_id", "right_id"):
            ids = [getattr(p, side) for p in self.pairs]
            if len(set(ids)) != len(ids):
                raise ValueError(f"{side} values must be unique")
        return self


class Item(_Model):
    id: Id
    text: Text


class Ordering(_Model):
    """Put the items in order; credit for the longest correctly ordered subsequence."""

    type: Literal["ORDERING"] = "ORDERING"
    items: list[Item] = Field(min_length=2, max_length=12)
    correct_order: list[Id]

    @model_validator(mode="after")
    def _permutation(self) -> "Ordering":
        ids = [i.id for i in self.items]
        if len(set(ids)) != len(ids) or sorted(ids) != sorted(self.correct_order):
            raise ValueError("correct_order must list every item id exactly once")
        return self


QuestionContent = Annotated[MultipleChoice | TrueFalse | ShortAnswer | FillInTheBlank | Matching | Ordering,
                            Field(discriminator="type")]


class ChoiceAnswer(_Model):
    type: Literal["MULTIPLE_CHOICE"] = "MULTIPLE_CHOICE"
    option_ids: list[Id] = Field(min_length=1, max_length=10)


class TrueFalseAnswer(_Model):
    type: Literal["TRUE_FALSE"] = "TRUE_FALSE"
    value: bool


class ShortAnswerAnswer(_Model):
    type: Literal["SHORT_ANSWER"] = "SHORT_ANSWER"
    text: Annotated[str, Field(max_length=1000)]


class FillInTheBlankAnswer(_Model):
    type: Literal["FILL_IN_THE_BLANK"] = "FILL_IN_THE_BLANK"
    blanks: dict[Id, Annotated[str, Field(max_length=200)]]


class MatchingAnswer(_Model):
    type: Literal["MATCHING"] = "MATCHING"
    matches: dict[Id, Id]


class OrderingAnswer(_Model):
    type: Literal["ORDERING"] = "ORDERING"
    order: list[Id] = Field(max_length=12)


Answer = Annotated[ChoiceAnswer | TrueFalseAnswer | ShortAnswerAnswer | FillInTheBlankAnswer | MatchingAnswer
                   | OrderingAnswer, Field(discriminator="type")]


def student_view(content: MultipleChoice | TrueFalse | ShortAnswer | FillInTheBlank | Matching | Ordering,
                 *, seed: str) -> dict[str, object]:
    """What a student may see of a question before it is settled: never the answer key.

    Matching's two columns and ordering's items are shuffled per ``seed`` (question and student):
    the order the author wrote them in is the answer, and the same order for everyone would let
    one student's solved question serve the class. Deterministic, so a reload shows the same order.
    """
    rng = random.Random(seed)
    match content:
        case MultipleChoice():
            return {"type": content.type, "options": [o.model_dump() for o in content.options],
                    "multiple_answers": content.multiple, "answers_expected": len(content.correct_option_ids)}
        case TrueFalse() | ShortAnswer():
            return {"type": content.type}
        case FillInTheBlank():
            return {"type": content.type, "template": content.template, "blank_ids": [b.id for b in content.blanks]}
        case Matching():
            lefts = [{"id": p.left_id, "text": p.left} for p in content.pairs]
            rights = [{"id": p.right_id, "text": p.right} for p in content.pairs]
            rng.shuffle(lefts)
            rng.shuffle(rights)
            return {"type": content.type, "left": lefts, "right": rights}
        case Ordering():
            items = [i.model_dump() for i in content.items]
            rng.shuffle(items)
            while len(items) > 1 and [i["id"] for i in items] == content.correct_order:
                rng.shuffle(items)
            return {"type": content.type, "items": items}
    raise TypeError(f"unknown question content {type(content).__name__}")  # pragma: no cover


def new_id() -> str:
    """An id that says nothing: not its position, not its partner's."""
    return secrets.token_hex(6)


def with_minted_ids(content: MultipleChoice | TrueFalse | ShortAnswer | FillInTheBlank | Matching | Ordering,
                    *, keep: Collection[str] = ()) -> MultipleChoice | TrueFalse | ShortAnswer | FillInTheBlank \
        | Matching | Ordering:
    """The content with every matching and ordering id that students see replaced by a random one, the key
    following. Authors (a teacher, an AI, the demo) number pairs and items in answer order — ``t1``↔``s1``,
    ``i1`` < ``i2`` — and those ids alone answered the question. ``keep``: ids minted here before (a stored
    question's), kept so an edit does not orphan its attempts' answers.
    """
    def minted(ids: list[str]) -> dict[str, str]:
        return {old: old if old in keep else new_id() for old in ids}

    match content:
        case Matching():
            lefts = minted([p.left_id for p in content.pairs])
            rights = minted([p.right_id for p in content.pairs])
            return Matching(pairs=[p.model_copy(update={"left_id": lefts[p.left_id], "right_id": rights[p.right_id]})
                                   for p in content.pairs])
        case Ordering():
            ids = minted([i.id for i in content.items])
            return Ordering(items=[i.model_copy(update={"id": ids[i.id]}) for i in content.items],
                            correct_order=[ids[i] for i in content.correct_order])
    return content


def shown_ids(content: object) -> set[str]:
    """The matching and ordering ids of stored content (a dict as stored, or a model)."""
    raw = content.model_dump() if isinstance(content, BaseModel) else content
    if not isinstance(raw, dict):
        return set()
    if raw.get("type") == "MATCHING":
        return {p[side] for p in raw.get("pairs", []) for side in ("left_id", "right_id")}
    if raw.get("type") == "ORDERING":
        return {i["id"] for i in raw.get("items", [])}
    return set()


def answer_key(content: MultipleChoice | TrueFalse | ShortAnswer | FillInTheBlank | Matching | Ordering
               ) -> dict[str, object]:
    """The correct answer, shown with the explanation once a question is settled."""
    match content:
        case MultipleChoice():
            return {"option_ids": list(content.correct_option_ids)}
        case TrueFalse():
            return {"value": content.correct}
        case ShortAnswer():
            return {"accepted_answers": list(content.accepted_answers)}
        case FillInTheBlank():
            return {"blanks": {b.id: list(b.accepted) for b in content.blanks}}
        case Matching():
            return {"matches": {p.left_id: p.right_id for p in content.pairs}}
        case Ordering():
            return {"order": list(content.correct_order)}
    raise TypeError(f"unknown question content {type(content).__name__}")  # pragma: no cover


def selected_options(answer: object) -> list[str]:
    """The option ids an answer chose, for item analysis (choice questions only)."""
    return list(answer.option_ids) if isinstance(answer, ChoiceAnswer) else []

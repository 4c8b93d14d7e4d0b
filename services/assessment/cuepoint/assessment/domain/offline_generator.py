"""The built-in, offline question generator: all six types, drawn deterministically from
the transcript window leading up to a milestone. The default where no AI key is set.

It works from the text alone: sentences, and their key terms (the longest, rarest
content words). The same window always yields the same questions.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections import Counter
from dataclasses import dataclass

from .questions import (
    FillInTheBlank,
    Matching,
    MultipleChoice,
    Ordering,
    ShortAnswer,
    TrueFalse,
)

QUESTION_TYPES = ("MULTIPLE_CHOICE", "TRUE_FALSE", "SHORT_ANSWER", "FILL_IN_THE_BLANK", "MATCHING", "ORDERING")
PROVIDER, MODEL, PROMPT_VERSION = "OFFLINE", "cuepoint-offline-1", "offline-v1"
STOPWORDS = frozenset("""
about above after again against because been before being below between both could does doing during each
from further have having here itself just more most other ought over same should some such than that their
theirs them themselves then there these they this those through under until very were what when where which
while whom will with would your yours also into only its it's like make made many much must need these
""".split())


@dataclass(frozen=True)
class TimedText:
    start: float
    end: float
    text: str


@dataclass(frozen=True)
class Draft:
    type: str
    prompt: str
    explanation: str
    content: object
    difficulty: str
    span_start: float
    span_end: float


class NotEnoughTranscript(ValueError):
    pass


@dataclass(frozen=True)
class _Sentence:
    text: str
    start: float
    end: float


def generate(window: list[TimedText], *, count: int, types: list[str] | None = None) -> list[Draft]:
    """``count`` questions cycling through ``types`` (default: all six)."""
    wanted = list(types or QUESTION_TYPES)
    if unknown := set(wanted) - set(QUESTION_TYPES):
        raise ValueError(f"unknown question types: {sorted(unknown)}")
    sentences = _sentences(window)
    terms = _key_terms(sentences)
    if len(sentences) < 2 or len(terms) < 4:
        raise NotEnoughTranscript("the transcript before this milestone is too short to draw questions from "
                                  f"({len(sentences)} sentences, {len(terms)} key terms; need 2 and 4)")
    seed = hashlib.sha256(" ".join(s.text for s in sentences).encode()).digest()
    rng = random.Random(seed)
    builders = {"MULTIPLE_CHOICE": _multiple_choice, "TRUE_FALSE": _true_false, "SHORT_ANSWER": _short_answer,
                "FILL_IN_THE_BLANK": _fill_in, "MATCHING": _matching, "ORDERING": _ordering}
    return [builders[wanted[index % len(wanted)]](sentences, terms, rng, index) for index in range(count)]


def _sentences(window: list[TimedText]) -> list[_Sentence]:
    found: list[_Sentence] = []
    for segment in window:
        for text in re.split(r"(?<=[.!?])\s+", segment.text.strip()):
            if len(text.split()) >= 4:
                found.append(_Sentence(text.strip(), segment.start, segment.end))
    return found


def _words(text: str) -> list[str]:
    return re.findall(r"[A-Za-z][A-Za-z'-]{4,}", text)


def _key_terms(sentences: list[_Sentence]) -> list[str]:
    counts = Counter(w.lower() for s in sentences for w in _words(s.text) if w.lower() not in STOPWORDS)
    # Long words carry the content (rarer first among equals); ties alphabetical, so deterministic.
    return sorted(counts, key=lambda w: (-len(w), counts[w], w))[:40]


def _with_term(sentences: list[_Sentence], terms: list[str], rng: random.Random, index: int) -> tuple[_Sentence, str]:
    # Answers come from the strongest terms; the rest serve as distractors.
    candidates = [(s, t) for s in sentences for t in terms[:12] if re.search(rf"\b{re.escape(t)}\b", s.text, re.I)]
    return candidates[(index + rng.randrange(len(candidates))) % len(candidates)]


def _blank(sentence: _Sentence, term: str, marker: str = "_____") -> str:
    return re.sub(rf"\b{re.escape(term)}\b", marker, sentence.text, count=1, flags=re.I)


def _id(rng: random.Random) -> str:
    """An id in no particular order (never ``t1``↔``s1``, ``i1`` < ``i2``: those would give the answer away);
    from the generator's own random source, so the same window still yields the same drafts."""
    return f"{rng.getrandbits(48):012x}"


def _draft(kind: str, prompt: str, explanation: str, content: object, sentence: _Sentence, difficulty: str) -> Draft:
    return Draft(kind, prompt, explanation, content, difficulty, sentence.start, sentence.end)


def _multiple_choice(sentences, terms, rng, index) -> Draft:
    sentence, term = _with_term(sentences, terms, rng, index)
    distractors = rng.sample([t for t in terms if t != term.lower()], 3)
    labels = [term.lower(), *distractors]
    rng.shuffle(labels)
    options = [{"id": f"o{i + 1}", "text": label} for i, label in enumerate(labels)]
    key = [o["id"] for o in options if o["text"] == term.lower()]
    content = MultipleChoice(options=options, correct_option_ids=key)
    return _draft("MULTIPLE_CHOICE", f"Which word completes the statement? “{_blank(sentence, term)}”",
                  f"The video says: “{sentence.text}”", content, sentence, "MEDIUM")


def _true_false(sentences, terms, rng, index) -> Draft:
    sentence, term = _with_term(sentences, terms, rng, index)
    truthful = rng.random() < 0.5
    statement = sentence.text
    if not truthful:
        swap = rng.choice([t for t in terms if t != term.lower()])
        statement = re.sub(rf"\b{re.escape(term)}\b", swap, sentence.text, count=1, flags=re.I)
    return _draft("TRUE_FALSE", f"True or false: “{statement}”",
                  f"The video says: “{sentence.text}”", TrueFalse(correct=truthful), sentence, "EASY")


def _short_answer(sentences, terms, rng, index) -> Draft:
    sentence, term = _with_term(sentences, terms, rng, index)
    return _draft("SHORT_ANSWER", f"Answer in one word: “{_blank(sentence, term)}”",
                  f"The missing word is “{term.lower()}”: “{sentence.text}”",
                  ShortAnswer(accepted_answers=[term.lower()], tolerance=1 if len(term) >= 7 else 0), sentence, "HARD")


def _fill_in(sentences, terms, rng, index) -> Draft:
    sentence, term = _with_term(sentences, terms, rng, index)
    content = FillInTheBlank(template=_blank(sentence, term, "{{b1}}"), blanks=[{"id": "b1", "accepted": [term.lower()]}])
    return _draft("FILL_IN_THE_BLANK", "Fill in the blank.", f"The video says: “{sentence.text}”", content,
                  sentence, "MEDIUM")


def _matching(sentences, terms, rng, index) -> Draft:
    used: dict[str, _Sentence] = {}
    for sentence in sentences:
        for term in terms:
            if term not in used and sentence not in used.values() and re.search(rf"\b{re.escape(term)}\b",
                                                                               sentence.text, re.I):
                used[term] = sentence
                break
    chosen = sorted(used.items(), key=lambda item: item[1].start)[:4]
    if len(chosen) < 2:
        return _fill_in(sentences, terms, rng, index)
    pairs = [{"left_id": _id(rng), "left": term, "right_id": _id(rng), "right": _blank(s, term)[:300]}
             for term, s in chosen]
    return Draft("MATCHING", "Match each word to the statement it completes.",
                 "Each statement is quoted from the video with its word removed.", Matching(pairs=pairs), "MEDIUM",
                 chosen[0][1].start, chosen[-1][1].end)


def _ordering(sentences, terms, rng, index) -> Draft:
    picked = sorted(rng.sample(range(len(sentences)), min(4, len(sentences))))
    items = [{"id": _id(rng), "text": sentences[k].text[:300]} for k in picked]
    shown = items[:]
    rng.shuffle(shown)
    return Draft("ORDERING", "Put these statements in the order the video presents them.",
                 "They appear in the video in this order.",
                 Ordering(items=shown, correct_order=[item["id"] for item in items]), "HARD",
                 sentences[picked[0]].start, sentences[picked[-1]].end)

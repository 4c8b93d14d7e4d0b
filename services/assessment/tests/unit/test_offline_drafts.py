"""The offline generator's drafts against a rubric checked by code, over fixed transcripts
(tests/data/transcripts, written for this project, public domain). A draft passes when:

- the answer is in the transcript window (and, for ordering, the key follows the transcript);
- exactly one option is right (no distractor that the transcript also makes true, no duplicates);
- distractors are of the answer's kind — same number of words, both numbers or neither, both names or
  neither, the same word ending (an adverb for an adverb, a plural for a plural) — and not nonsense:
  drawn from the transcript, every word a word;
- the prompt is a question, or a statement with exactly one blank (a true/false statement: none).

``bench/offline_drafts.py`` prints the pass share (overall and per criterion); this test holds it.
"""

from __future__ import annotations

import difflib
import re
from collections import Counter
from pathlib import Path

import pytest
from wordfreq import zipf_frequency

from cuepoint.assessment.domain.offline_generator import QUESTION_TYPES, TimedText, generate
from cuepoint.assessment.domain.questions import (
    FillInTheBlank,
    Matching,
    MultipleChoice,
    Ordering,
    ShortAnswer,
    TrueFalse,
)

pytestmark = pytest.mark.unit

DATA = Path(__file__).parent.parent / "data" / "transcripts"
SEGMENT_SECONDS = 8.0
BLANK = re.compile(r"_{3,}|\{\{[A-Za-z0-9_-]+\}\}")
QUOTED = re.compile(r"“(.+?)”")
CRITERIA = ("answer_in_window", "one_right_answer", "distractors_same_kind", "prompt_shape")


def transcripts() -> dict[str, list[TimedText]]:
    found = {}
    for path in sorted(DATA.glob("*.txt")):
        lines = [line.strip() for line in path.read_text().splitlines() if line.strip()]
        found[path.stem] = [TimedText(i * SEGMENT_SECONDS, (i + 1) * SEGMENT_SECONDS, line)
                            for i, line in enumerate(lines)]
    return found


def windows() -> list[tuple[str, list[TimedText]]]:
    """Two milestone windows per transcript: its first half and its second half."""
    out = []
    for name, segments in transcripts().items():
        half = len(segments) // 2
        out += [(f"{name}[0:{half}]", segments[:half]), (f"{name}[{half}:]", segments[half:])]
    return out


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"[^\w\s'-]", " ", text.lower())).strip()


def _words(text: str) -> list[str]:
    return re.findall(r"[A-Za-z0-9][A-Za-z0-9'-]*", text)


def _in(phrase: str, text: str) -> bool:
    return f" {_norm(phrase)} " in f" {_norm(text)} "


def _ending(word: str) -> str:
    w = word.lower()
    for suffix in ("ly", "ing", "ed"):
        if w.endswith(suffix) and len(w) > len(suffix) + 3:
            return suffix
    if w.endswith("s") and not w.endswith(("ss", "us", "is", "ys")) and len(w) > 3:
        return "s"
    return ""


def _is_name(phrase: str, window: str) -> bool:
    """Capitalised where the window has it other than at the start of a sentence (Volta, Pompeii)."""
    for sentence in re.split(r"(?<=[.!?])\s+", window):
        for found in re.finditer(rf"\b{re.escape(phrase)}\b", sentence, re.IGNORECASE):
            if found.start() > 0 and found.group(0)[0].isupper():
                return True
    return False


def kind(phrase: str, window: str) -> tuple:
    """What kind of phrase: how many words, a number or not, a name or not, the last word's ending."""
    words = _words(phrase)
    number = bool(words) and all(any(ch.isdigit() for ch in w) for w in words)
    return len(words), number, _is_name(phrase, window), _ending(words[-1]) if words else ""


def _real(phrase: str, window: str) -> bool:
    """Not nonsense: in the transcript, and every word a word (known to wordfreq, or the transcript's)."""
    window_words = {w.lower() for w in _words(window)}
    return _in(phrase, window) and all(zipf_frequency(w, "en") >= 1.5 or w.lower() in window_words
                                       for w in _words(phrase))


def _sentences_with(template: str, fill: str) -> str:
    return BLANK.sub(fill, template, count=1)


def check(draft, window: list[TimedText]) -> list[str]:
    """The criteria this draft fails (empty: it passes)."""
    text = " ".join(s.text for s in window)
    content, prompt = draft.content, draft.prompt
    failed: set[str] = set()
    quoted = QUOTED.findall(prompt)
    statement = quoted[0] if quoted else prompt

    def distractors_ok(answer: str, distractors: list[str]) -> bool:
        want = kind(answer, text)
        answer_words = {w.lower() for w in _words(answer)}
        return all(_real(d, text) and kind(d, text) == want and not answer_words & {w.lower() for w in _words(d)}
                   for d in distractors)

    match content:
        case MultipleChoice():
            by_id = {o.id: o.text for o in content.options}
            right = [by_id[i] for i in content.correct_option_ids]
            others = [t for i, t in by_id.items() if i not in content.correct_option_ids]
            if len(right) != 1 or not _in(_sentences_with(statement, right[0]), text):
                failed.add("answer_in_window")
            if len(right) != 1 or len({_norm(t) for t in by_id.values()}) != len(by_id) or any(
                    _in(_sentences_with(statement, d), text) for d in others):
                failed.add("one_right_answer")
            if right and not distractors_ok(right[0], others):
                failed.add("distractors_same_kind")
            if len(BLANK.findall(prompt)) != 1:
                failed.add("prompt_shape")
        case TrueFalse():
            original = QUOTED.findall(draft.explanation)
            if not original or not _in(original[0], text) or content.correct != _in(statement, text):
                failed.add("answer_in_window")
            if not content.correct and original:
                # The false statement swaps one phrase of the original for another of the same kind.
                a, b = _words(original[0]), _words(statement)
                changes = [op for op in difflib.SequenceMatcher(a=a, b=b).get_opcodes() if op[0] != "equal"]
                if len(changes) != 1 or not distractors_ok(" ".join(a[changes[0][1]:changes[0][2]]),
                                                           [" ".join(b[changes[0][3]:changes[0][4]])]):
                    failed.add("distractors_same_kind")
            if BLANK.search(prompt):
                failed.add("prompt_shape")
        case ShortAnswer():
            if not _in(_sentences_with(statement, content.accepted_answers[0]), text):
                failed.add("answer_in_window")
            if len(BLANK.findall(prompt)) != 1 and not prompt.rstrip().endswith("?"):
                failed.add("prompt_shape")
        case FillInTheBlank():
            if len(content.blanks) != 1 or not _in(_sentences_with(content.template, content.blanks[0].accepted[0]),
                                                   text):
                failed.add("answer_in_window")
            if len(BLANK.findall(content.template)) != 1:
                failed.add("prompt_shape")
        case Matching():
            if not all(_in(p.left, text) and _in(_sentences_with(p.right, p.left), text) for p in content.pairs):
                failed.add("answer_in_window")
            if any(_in(_sentences_with(p.right, q.left), text) for p in content.pairs for q in content.pairs
                   if p is not q) or len({_norm(p.left) for p in content.pairs}) != len(content.pairs):
                failed.add("one_right_answer")
            lefts = [p.left for p in content.pairs]
            if len({kind(left, text)[:3] for left in lefts}) != 1 or not all(_real(left, text) for left in lefts):
                failed.add("distractors_same_kind")
            if any(len(BLANK.findall(p.right)) != 1 for p in content.pairs):
                failed.add("prompt_shape")
        case Ordering():
            by_id = {i.id: i.text for i in content.items}
            positions = [_norm(text).find(_norm(by_id[i])) for i in content.correct_order]
            if any(p < 0 for p in positions) or positions != sorted(positions):
                failed.add("answer_in_window")
            if not prompt.strip():
                failed.add("prompt_shape")
    return [c for c in CRITERIA if c in failed]


def measure() -> dict[str, object]:
    """Every window's drafts, all six types twice; the share that passes, overall and per criterion."""
    drafts, failures, by_type = 0, Counter(), Counter()
    passed, passed_by_type = 0, Counter()
    examples: list[str] = []
    for name, window in windows():
        for draft in generate(window, count=12, types=list(QUESTION_TYPES)):
            problems = check(draft, window)
            drafts += 1
            by_type[draft.type] += 1
            failures.update(problems)
            if not problems:
                passed += 1
                passed_by_type[draft.type] += 1
            elif len(examples) < 12:
                examples.append(f"{name} {draft.type} {problems}: {draft.prompt[:90]}")
    return {"drafts": drafts, "pass_share": passed / drafts,
            "criteria": {c: 1 - failures[c] / drafts for c in CRITERIA},
            "by_type": {t: passed_by_type[t] / by_type[t] for t in by_type}, "examples": examples}


def test_the_rubric_catches_what_it_should() -> None:
    window = transcripts()["photosynthesis"][:4]
    text = " ".join(s.text for s in window)
    assert kind("chloroplasts", text) == kind("pigments", text) != kind("efficiently", text)
    assert not _real("four hundred engineers hertz", text)
    good = MultipleChoice(options=[{"id": "a", "text": "chlorophyll"}, {"id": "b", "text": "stomata"},
                                   {"id": "c", "text": "photosynthesis"}], correct_option_ids=["a"])
    draft = type("D", (), {"content": good, "explanation": "",
                           "prompt": "Which word completes the statement? “Chloroplasts contain _____, a green "
                                     "pigment that absorbs red and blue light.”"})()
    assert check(draft, window) == []
    nonsense = good.model_copy(update={"options": [*good.options[:2], good.options[2].model_copy(
        update={"text": "efficiently"})]})
    assert check(type("D", (), {"content": nonsense, "explanation": "", "prompt": draft.prompt})(), window) == [
        "distractors_same_kind"]


def test_most_offline_drafts_pass_the_rubric() -> None:
    figures = measure()
    assert figures["drafts"] >= 150
    assert figures["pass_share"] >= PASS_SHARE_FLOOR, figures


# Measured on these 16 windows (192 drafts): 75.5 % before pysbd/YAKE/same-kind distractors (multiple choice
# 6.2 %, true/false 59.4 %, matching 87.5 %: distractors of another kind), 100 % after.
PASS_SHARE_FLOOR = 0.95

"""The built-in, offline question generator: all six types, drawn deterministically from
the transcript window leading up to a milestone. The default where no AI key is set.

It works from the text alone, with pure-Python libraries and no model downloads: sentence
boundaries by pysbd (abbreviations, decimals and initials do not end a sentence), key phrases by
YAKE (statistical keyphrase extraction), and word frequencies by wordfreq (to keep phrases that
carry content and to judge what kind of phrase each is). A distractor is another key phrase of the
transcript of the same kind as the answer — as many words, a number for a number, a name for a
name, the same ending — so options read alike and only the transcript tells them apart. The same
window always yields the same questions.
"""

from __future__ import annotations

import hashlib
import random
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import get_args

import pysbd
import yake
from wordfreq import zipf_frequency

from cuepoint.contracts.assessment import QuestionType

from .questions import (
    FillInTheBlank,
    Matching,
    MultipleChoice,
    Ordering,
    ShortAnswer,
    TrueFalse,
)

QUESTION_TYPES: tuple[str, ...] = get_args(QuestionType)  # the contracts' six, in their order
PROVIDER, MODEL, PROMPT_VERSION = "OFFLINE", "cuepoint-offline-2", "offline-v2"
# Words a key phrase must not contain: function words and verbs of description that YAKE keeps
# ("measured in amperes", "called an ammeter") but that make no answer.
NOT_CONTENT = frozenset("""
a an the of in on at by to for from with into onto over under about after before between through during
and or but nor so yet as than that this these those which who whom whose what when where why how
is are was were be been being am has have had do does did can could may might must shall should will would
it its it's they them their we our you your he him his she her i me my not no also only very just
called named known means mean say says said make makes made use uses used take takes took give gives
gave get gets got become becomes became keep keeps kept form forms first second third one two
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
                                  f"({len(sentences)} sentences, {len(terms)} key phrases; need 2 and 4)")
    seed = hashlib.sha256(" ".join(s.text for s in sentences).encode()).digest()
    rng = random.Random(seed)
    builders = {"MULTIPLE_CHOICE": _multiple_choice, "TRUE_FALSE": _true_false, "SHORT_ANSWER": _short_answer,
                "FILL_IN_THE_BLANK": _fill_in, "MATCHING": _matching, "ORDERING": _ordering}
    return [builders[wanted[index % len(wanted)]](sentences, terms, rng, index) for index in range(count)]


@lru_cache(maxsize=1)
def _segmenter() -> pysbd.Segmenter:
    return pysbd.Segmenter(language="en", clean=False, char_span=True)


def _sentences(window: list[TimedText]) -> list[_Sentence]:
    """Sentences of the whole window (one may span segments), each timed by the segments it touches."""
    text, spans = "", []
    for segment in window:
        if text:
            text += " "
        spans.append((len(text), len(text) + len(segment.text.strip()), segment))
        text += segment.text.strip()
    found: list[_Sentence] = []
    for span in _segmenter().segment(text):
        sentence = span.sent.strip()
        if len(sentence.split()) < 5:
            continue
        touched = [seg for start, end, seg in spans if start < span.end and end > span.start] or [spans[-1][2]]
        found.append(_Sentence(sentence, touched[0].start, touched[-1].end))
    return found


def _words(text: str) -> list[str]:
    return re.findall(r"[A-Za-z0-9][A-Za-z0-9'-]*", text)


def _contains(text: str, phrase: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(phrase)}(?![\w-])", text, re.IGNORECASE) is not None


def _ending(word: str) -> str:
    w = word.lower()
    for suffix in ("ly", "ing", "ed"):
        if w.endswith(suffix) and len(w) > len(suffix) + 3:
            return suffix
    if w.endswith("s") and not w.endswith(("ss", "us", "is", "ys")) and len(w) > 3:
        return "s"
    return ""


def _is_name(phrase: str, sentences: list[_Sentence]) -> bool:
    """Capitalised where the transcript has it other than at the start of a sentence (Volta, Pompeii)."""
    for sentence in sentences:
        for found in re.finditer(rf"\b{re.escape(phrase)}\b", sentence.text, re.IGNORECASE):
            if found.start() > 0 and found.group(0)[0].isupper():
                return True
    return False


def _kind(phrase: str, sentences: list[_Sentence]) -> tuple[int, bool, bool, str]:
    words = _words(phrase)
    return (len(words), all(any(c.isdigit() for c in w) for w in words), _is_name(phrase, sentences),
            _ending(words[-1]))


@dataclass(frozen=True)
class _Term:
    text: str  # as the transcript writes it (its case)
    kind: tuple[int, bool, bool, str]


def _key_terms(sentences: list[_Sentence]) -> list[_Term]:
    """Key phrases of one or two content words, strongest first, as written in the transcript."""
    text = " ".join(s.text for s in sentences)
    if not text.strip():
        return []
    extractor = yake.KeywordExtractor(lan="en", n=2, top=60, dedupLim=0.9)
    terms: list[_Term] = []
    seen: set[str] = set()
    for phrase, _score in sorted(extractor.extract_keywords(text), key=lambda k: (k[1], k[0])):
        words = _words(phrase)
        if not words or len(words) > 2 or any(w.lower() in NOT_CONTENT for w in words):
            continue
        if any(_ending(w) in ("ly", "ing", "ed") for w in words) or all(len(w) < 4 for w in words):
            continue
        # Content, not glue: at least one word a reader would not meet on every page.
        if min(zipf_frequency(w, "en") for w in words) > 5.2 and not any(c.isdigit() for c in phrase):
            continue
        written = next((m.group(0) for s in sentences for m in [re.search(
            rf"(?<![\w-]){re.escape(phrase)}(?![\w-])", s.text, re.IGNORECASE)] if m), None)
        if written is None or written.lower() in seen:
            continue
        if len(words) == 2 and not _noun_phrase(written, sentences):
            continue
        if len(words) == 1 and _verb_like(written, sentences):
            continue
        seen.add(written.lower())
        terms.append(_Term(written, _kind(written, sentences)))
    return terms[:40]


DETERMINERS = ("the", "a", "an", "of", "in", "called", "by", "with", "from", "and", "his", "her", "its", "their")


def _noun_phrase(phrase: str, sentences: list[_Sentence]) -> bool:
    """Two words that read as one thing ("the left ventricle", "a parallel circuit", "Alessandro Volta"), not
    a subject and its verb ("voltage equals"): a name, or led by a determiner or preposition in the transcript."""
    first, second = phrase.split(maxsplit=1)
    if first[0].isupper() != second[0].isupper():
        return False  # half a name ("scientist Alessandro")
    if first[0].isupper() and _is_name(phrase, sentences):
        return True
    lead = "|".join(DETERMINERS)
    return any(re.search(rf"\b(?:{lead})\s+{re.escape(phrase)}(?![\w-])", s.text, re.IGNORECASE)
               for s in sentences)


OBJECTS = ("the", "a", "an", "every", "each", "it", "them", "its", "their", "his", "her", "on", "into", "back",
           "down", "up", "away", "out")


def _verb_like(word: str, sentences: list[_Sentence]) -> bool:
    """A word the transcript uses as a verb ("gravity pulls every object", "a force acts on it", "to predict"):
    followed by an object or a particle, or after "to", and never led by a determiner. Nouns make answers."""
    lead, objects = "|".join(DETERMINERS), "|".join(OBJECTS)
    for sentence in sentences:
        if re.search(rf"\b(?:{lead})\s+{re.escape(word)}\b", sentence.text, re.IGNORECASE):
            return False
    return any(re.search(rf"\b{re.escape(word)}\s+(?:{objects})\b|\bto\s+{re.escape(word)}\b", sentence.text,
                         re.IGNORECASE) for sentence in sentences)


def _with_term(sentences: list[_Sentence], terms: list[_Term], rng: random.Random, index: int,
               *, distractors: int = 0) -> tuple[_Sentence, _Term, list[_Term]]:
    """A sentence and a key phrase in it to ask about, with up to ``distractors`` phrases of its kind that
    the transcript does not make true in its place. Pairs with the most distractors first."""
    candidates = []
    for rank, term in enumerate(terms[:16]):
        for sentence in sentences:
            if not _contains(sentence.text, term.text):
                continue
            others = _alike(term, terms, sentence, sentences)
            candidates.append((-min(len(others), distractors), rank, sentences.index(sentence), sentence, term,
                               others))
    best = min(c[0] for c in candidates)
    pool = [c for c in candidates if c[0] == best]
    _, _, _, sentence, term, others = pool[(index + rng.randrange(len(pool))) % len(pool)]
    chosen = rng.sample(others, min(distractors, len(others))) if distractors else []
    return sentence, term, chosen


def _alike(term: _Term, terms: list[_Term], sentence: _Sentence, sentences: list[_Sentence]) -> list[_Term]:
    own = {w.lower() for w in _words(term.text)}
    alike = []
    for other in terms:
        if other.kind != term.kind or own & {w.lower() for w in _words(other.text)} or _contains(
                sentence.text, other.text):  # a phrase of the sentence itself would read oddly in its place
            continue
        filled = _blank(sentence, term, other.text)
        if any(_contains(s.text, filled) for s in sentences):  # the transcript makes it true too
            continue
        alike.append(other)
    return alike


def _blank(sentence: _Sentence, term: _Term, marker: str = "_____") -> str:
    return re.sub(rf"(?<![\w-]){re.escape(term.text)}(?![\w-])", lambda _: marker, sentence.text, count=1,
                  flags=re.IGNORECASE)


def _answer(term: _Term) -> str:
    return term.text if term.kind[2] else term.text.lower()


def _id(rng: random.Random) -> str:
    """An id in no particular order (never ``t1``↔``s1``, ``i1`` < ``i2``: those would give the answer away);
    from the generator's own random source, so the same window still yields the same drafts."""
    return f"{rng.getrandbits(48):012x}"


def _draft(kind: str, prompt: str, explanation: str, content: object, sentence: _Sentence, difficulty: str) -> Draft:
    return Draft(kind, prompt, explanation, content, difficulty, sentence.start, sentence.end)


def _multiple_choice(sentences, terms, rng, index) -> Draft:
    sentence, term, distractors = _with_term(sentences, terms, rng, index, distractors=3)
    labels = [_answer(term), *(_answer(d) for d in distractors)]
    if len(labels) < 2:  # no phrase of its kind: ask it as a typed answer instead
        return _short_answer(sentences, terms, rng, index)
    rng.shuffle(labels)
    options = [{"id": _id(rng), "text": label} for label in labels]
    key = [o["id"] for o in options if o["text"] == _answer(term)]
    content = MultipleChoice(options=options, correct_option_ids=key)
    return _draft("MULTIPLE_CHOICE", f"Which completes the statement? “{_blank(sentence, term)}”",
                  f"The video says: “{sentence.text}”", content, sentence, "MEDIUM")


def _true_false(sentences, terms, rng, index) -> Draft:
    sentence, term, distractors = _with_term(sentences, terms, rng, index, distractors=1)
    truthful = rng.random() < 0.5 or not distractors
    statement = sentence.text if truthful else _blank(sentence, term, distractors[0].text)
    return _draft("TRUE_FALSE", f"True or false: “{statement}”",
                  f"The video says: “{sentence.text}”", TrueFalse(correct=truthful), sentence, "EASY")


def _short_answer(sentences, terms, rng, index) -> Draft:
    sentence, term, _ = _with_term(sentences, terms, rng, index)
    words = "one word" if term.kind[0] == 1 else "two words"
    return _draft("SHORT_ANSWER", f"Answer in {words}: “{_blank(sentence, term)}”",
                  f"The missing {'word is' if term.kind[0] == 1 else 'words are'} “{_answer(term)}”: "
                  f"“{sentence.text}”",
                  ShortAnswer(accepted_answers=[_answer(term)], tolerance=1 if len(term.text) >= 7 else 0),
                  sentence, "HARD")


def _fill_in(sentences, terms, rng, index) -> Draft:
    sentence, term, _ = _with_term(sentences, terms, rng, index)
    content = FillInTheBlank(template=_blank(sentence, term, "{{b1}}"), blanks=[{"id": "b1",
                                                                                 "accepted": [_answer(term)]}])
    return _draft("FILL_IN_THE_BLANK", "Fill in the blank.", f"The video says: “{sentence.text}”", content,
                  sentence, "MEDIUM")


def _matching(sentences, terms, rng, index) -> Draft:
    """Phrases of one kind, each matched to the sentence it completes (and that no other completes)."""
    by_kind: dict[tuple, dict[str, tuple[_Term, _Sentence]]] = {}
    for term in terms:
        for sentence in sentences:
            group = by_kind.setdefault(term.kind[:3], {})
            if term.text not in group and sentence not in [s for _, s in group.values()] and _contains(
                    sentence.text, term.text):
                group[term.text] = (term, sentence)
                break
    chosen = []
    for group in sorted(by_kind.values(), key=lambda g: -len(g)):
        pairs = sorted(group.values(), key=lambda item: item[1].start)
        pairs = [(t, s) for t, s in pairs if not any(
            _contains(s.text, o.text) for o, _ in pairs if o is not t)][:4]
        if len(pairs) >= 2:
            chosen = pairs
            break
    if len(chosen) < 2:
        return _fill_in(sentences, terms, rng, index)
    pairs = [{"left_id": _id(rng), "left": _answer(term), "right_id": _id(rng), "right": _blank(s, term)[:300]}
             for term, s in chosen]
    return Draft("MATCHING", "Match each phrase to the statement it completes.",
                 "Each statement is quoted from the video with its phrase removed.", Matching(pairs=pairs), "MEDIUM",
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

"""WebVTT and SRT parsing."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cuepoint.content.domain.milestones import timestamp_problem
from cuepoint.content.domain.transcripts import Segment, TranscriptError, parse

pytestmark = pytest.mark.unit


def _clock(seconds: float, separator: str) -> str:
    millis = round(seconds * 1000)
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    whole, ms = divmod(rest, 1000)
    return f"{hours:02}:{minutes:02}:{whole:02}{separator}{ms:03}"


cues = st.lists(st.tuples(st.integers(0, 10_000_000), st.integers(1, 60_000),
                          st.text(alphabet="abcdefghij klmnop,.!?", min_size=1, max_size=40).map(str.strip)
                          .filter(bool)), min_size=1, max_size=30)


@given(cues)
def test_vtt_and_srt_round_trip(raw: list[tuple[int, int, str]]) -> None:
    raw = sorted(raw)
    expected = [Segment(start / 1000, (start + length) / 1000, text) for start, length, text in raw]
    vtt = "WEBVTT\n\n" + "\n".join(f"{_clock(s.start, '.')} --> {_clock(s.end, '.')}\n{s.text}\n" for s in expected)
    srt = "\n".join(f"{i}\n{_clock(s.start, ',')} --> {_clock(s.end, ',')}\n{s.text}\n"
                    for i, s in enumerate(expected, 1))
    assert parse(vtt, "vtt") == expected
    assert parse(srt, "srt") == expected


@pytest.mark.parametrize(("content", "format", "line", "message"), [
    ("00:00:01.000 --> 00:00:02.000\nhi\n", "vtt", 1, "WEBVTT"),
    ("WEBVTT\n\n00:00:01.000 -> 00:00:02.000\nhi\n", "vtt", 3, "timing line"),
    ("WEBVTT\n\n00:00:03.000 --> 00:00:02.000\nhi\n", "vtt", 3, "end after it starts"),
    ("WEBVTT\n\n00:00:05.000 --> 00:00:06.000\na\n\n00:00:01.000 --> 00:00:02.000\nb\n", "vtt", 6, "time order"),
    ("1\n00:00:01,000 --> 00:00:02,000\n\n", "srt", 2, "no text"),
    ("WEBVTT\n\nNOTE just a note\n", "vtt", 4, "no cues"),
    ("1\n00:00:01,000 --> 00:00:02,000\nok\n", "docx", 1, "unknown format"),
])
def test_malformed_transcripts_name_the_line(content: str, format: str, line: int, message: str) -> None:
    with pytest.raises(TranscriptError) as caught:
        parse(content, format)
    assert caught.value.line == line and message in str(caught.value)


def test_vtt_extras_are_tolerated() -> None:
    content = ("\ufeffWEBVTT - lesson\n\nNOTE author: me\nsecond line\n\nSTYLE\n::cue { color: red }\n\n"
               "cue-1\n00:01.000 --> 00:02.500 align:start\n<v Teacher>Hello</v>\nthere\n")
    assert parse(content, "vtt") == [Segment(1.0, 2.5, "Hello there")]


def test_milestone_positions() -> None:
    assert timestamp_problem(10, None) is None
    assert timestamp_problem(10, 10) is None
    assert "after its end" in timestamp_problem(10.5, 10)
    assert "before the start" in timestamp_problem(-1, None)

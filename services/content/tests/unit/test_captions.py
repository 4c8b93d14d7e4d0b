"""Transcripts written back as WebVTT caption tracks; caption labels."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cuepoint.content.domain.captions import caption_label, cue_time, webvtt
from cuepoint.content.domain.transcripts import Segment, parse

pytestmark = pytest.mark.unit

# Up to a day: the longest video the platform accepts (and our parser reads two-digit hours).
segments = st.lists(st.tuples(st.integers(0, 86_400_000), st.integers(1, 60_000),
                              st.text(alphabet="abcxyz ÁéØ,.!?'\"-", min_size=1, max_size=40).map(str.strip)
                              .filter(bool)), min_size=1, max_size=30)


@given(segments)
def test_what_we_write_our_own_parser_reads_back(raw: list[tuple[int, int, str]]) -> None:
    expected = [Segment(start / 1000, (start + length) / 1000, text) for start, length, text in sorted(raw)]
    assert parse(webvtt(expected), "vtt") == expected


def test_the_file_is_webvtt_with_one_cue_per_segment() -> None:
    text = webvtt([Segment(1.0, 4.0, "Light becomes energy."), Segment(3723.5, 3725.25, "An hour later.")])
    assert text == ("WEBVTT\n\n"
                    "00:00:01.000 --> 00:00:04.000\nLight becomes energy.\n\n"
                    "01:02:03.500 --> 01:02:05.250\nAn hour later.\n\n")


def test_markup_characters_are_escaped_so_the_text_stays_text() -> None:
    text = webvtt([Segment(0, 1, "if a < b && b --> c then <b>not bold</b>")])
    cue = text.split("\n\n")[1]
    assert cue.splitlines()[1] == "if a &lt; b &amp;&amp; b --&gt; c then &lt;b&gt;not bold&lt;/b&gt;"
    assert cue.count("-->") == 1, "only the timing line may hold -->"


def test_a_blank_line_cannot_end_a_cue_early() -> None:
    text = webvtt([Segment(0, 1, "first\n\nsecond")])
    assert text == "WEBVTT\n\n00:00:00.000 --> 00:00:01.000\nfirst\nsecond\n\n"


@pytest.mark.parametrize(("seconds", "written"), [
    (0, "00:00:00.000"), (2.861, "00:00:02.861"), (59.9996, "00:01:00.000"), (100 * 3600 + 1, "100:00:01.000")])
def test_cue_times(seconds: float, written: str) -> None:
    assert cue_time(seconds) == written


@pytest.mark.parametrize(("tag", "label"), [
    ("en", "English"), ("pt-BR", "Portuguese (Brazil)"), ("zh-Hant-TW", "Chinese (Traditional, Taiwan)"),
    ("es-419", "Spanish (Latin America)"), ("EN-gb", "English (United Kingdom)"), ("tlh", "tlh"),
    ("de-1996", "de-1996")])
def test_labels(tag: str, label: str) -> None:
    assert caption_label(tag) == label

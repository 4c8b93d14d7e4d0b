"""WebVTT and SRT transcripts parsed into timed segments; errors name the line."""

from __future__ import annotations

import re
from dataclasses import dataclass

from cuepoint.runtime.errors import Invalid

_TIME = r"(?:(\d{1,2}):)?(\d{2}):(\d{2})[.,](\d{3})"
_CUE = re.compile(rf"^\s*{_TIME}\s*-->\s*{_TIME}(?:\s+.*)?$")
MAX_SEGMENTS = 20_000
MAX_TEXT = 2_000
# The segments travel in TranscriptReady; this keeps that event far below Kafka's 1 MB.
TEXT_LIMIT = 512 * 1024


@dataclass(frozen=True)
class Segment:
    start: float
    end: float
    text: str


class TranscriptError(ValueError):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line


def _seconds(hours: str | None, minutes: str, seconds: str, millis: str) -> float:
    return int(hours or 0) * 3600 + int(minutes) * 60 + int(seconds) + int(millis) / 1000


def parse(text: str, format: str) -> list[Segment]:
    """Segments of a ``vtt`` or ``srt`` transcript, in time order."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if format == "vtt":
        if not lines or not lines[0].lstrip("\ufeff").startswith("WEBVTT"):
            raise TranscriptError(1, "a WebVTT file starts with 'WEBVTT'")
    elif format != "srt":
        raise TranscriptError(1, f"unknown format {format!r}; use vtt or srt")
    segments: list[Segment] = []
    index = 1 if format == "vtt" else 0
    while index < len(lines):
        line = lines[index].strip()
        if not line or (format == "vtt" and line.startswith(("NOTE", "STYLE", "REGION"))):
            index = _skip_block(lines, index) if line else index + 1
            continue
        if format == "srt" and line.isdigit():
            index += 1
            line = lines[index].strip() if index < len(lines) else ""
        elif format == "vtt" and "-->" not in line and index + 1 < len(lines) and "-->" in lines[index + 1]:
            index += 1  # a cue identifier
            line = lines[index].strip()
        match = _CUE.match(line)
        if match is None:
            raise TranscriptError(index + 1, f"expected a timing line like '00:00:01.000 --> 00:00:04.000', got {line[:60]!r}")
        # Rounded before comparing: 2 + 861/1000 is 2.8609999…, and cues may share a start.
        start, end = round(_seconds(*match.groups()[:4]), 3), round(_seconds(*match.groups()[4:]), 3)
        if end <= start:
            raise TranscriptError(index + 1, "a cue must end after it starts")
        if segments and start < segments[-1].start:
            raise TranscriptError(index + 1, "cues must be in time order")
        cue_line = index + 1
        index += 1
        body: list[str] = []
        while index < len(lines) and lines[index].strip():
            body.append(re.sub(r"<[^>]+>", "", lines[index].strip()))
            index += 1
        if not body:
            raise TranscriptError(cue_line, "the cue starting here has no text")
        text_value = " ".join(body)
        if len(text_value) > MAX_TEXT:
            raise TranscriptError(index, f"a cue's text is longer than {MAX_TEXT} characters")
        segments.append(Segment(start, end, text_value))
        if len(segments) > MAX_SEGMENTS:
            raise TranscriptError(index, f"more than {MAX_SEGMENTS} cues")
    if not segments:
        raise TranscriptError(len(lines), "no cues found")
    return segments


def _skip_block(lines: list[str], index: int) -> int:
    while index < len(lines) and lines[index].strip():
        index += 1
    return index + 1


def accepted_segments(content: str, format: str) -> list[Segment]:
    """The segments of an uploaded transcript, or Invalid naming the line (or the size) that is wrong."""
    try:
        segments = parse(content, format)
    except TranscriptError as error:
        raise Invalid(f"the transcript is malformed at {error}", line=error.line) from error
    text_bytes = sum(len(s.text.encode()) for s in segments)
    if text_bytes > TEXT_LIMIT:
        raise Invalid(f"the transcript's text is {text_bytes} bytes, over the {TEXT_LIMIT}-byte limit "
                      "(about nine hours of speech); split the video")
    return segments


def ensure_within_video(segments: list[Segment], duration: float | None) -> None:
    if duration is not None and segments[-1].start > duration:
        raise Invalid(f"the transcript runs past the end of the {duration:.3f} s video")

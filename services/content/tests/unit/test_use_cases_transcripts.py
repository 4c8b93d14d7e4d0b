"""Transcripts' use case on the fake unit of work: a transcript replaces the one in its language
and travels with its segments; a malformed, too long or too large one is refused."""

from __future__ import annotations

import pytest

from cuepoint.content.use_cases import transcripts
from cuepoint.content.use_cases.transcripts import UploadTranscript
from cuepoint.contracts import content as events
from cuepoint.runtime.errors import Invalid

from .fakes import AUTHOR, TENANT, fake_units, lesson, video

pytestmark = pytest.mark.unit

VTT = "WEBVTT\n\n00:00:01.000 --> 00:00:04.000\nLight becomes energy.\n\n00:00:05.000 --> 00:00:09.000\nIn leaves.\n"
# 300 cues of 1,999 characters: over the 512 KiB a TranscriptReady may carry.
LONG = "WEBVTT\n\n" + "".join(
    f"00:{i // 60:02d}:{i % 60:02d}.000 --> 00:{i // 60:02d}:{i % 60:02d}.500\n{'x' * 1999}\n\n" for i in range(300))


async def run(units, case, command):
    async with units(TENANT) as uow:
        return await case(command, uow)


def one_video(**video_values):
    draft = lesson(has_unpublished_changes=False)
    return draft, video(draft, **video_values)


async def test_a_transcript_replaces_the_one_in_its_language_and_travels_with_its_segments() -> None:
    draft, clip = one_video()
    units = fake_units(draft, clip)
    summary = await run(units, transcripts.upload_transcript, UploadTranscript(AUTHOR, clip.id, "en", "vtt", VTT))
    again = await run(units, transcripts.upload_transcript, UploadTranscript(AUTHOR, clip.id, "en", "vtt", VTT))
    assert summary.segment_count == 2 and list(units.store.transcripts) == [(clip.id, "en")]
    assert units.store.transcripts[(clip.id, "en")].id == again.id
    ready = units.emitted[0].event
    assert isinstance(ready, events.TranscriptReady)
    assert ready.segments_url == f"/v1/videos/{clip.id}/transcripts/en"
    assert [s.text for s in ready.segments] == ["Light becomes energy.", "In leaves."]


@pytest.mark.parametrize(("content", "duration", "why"), [
    ("WEBVTT\n\n00:00:03.000 --> 00:00:02.000\nbackwards\n", 120.0, "malformed at line 3"),
    (VTT, 3.0, "runs past the end of the 3.000 s video"),
    (LONG, None, "over the 524288-byte limit")])
async def test_a_transcript_is_refused_with_the_reason(content, duration, why) -> None:
    draft, clip = one_video(duration=duration)
    units = fake_units(draft, clip)
    with pytest.raises(Invalid, match=why):
        await run(units, transcripts.upload_transcript, UploadTranscript(AUTHOR, clip.id, "en", "vtt", content))
    assert units.emitted == [] and units.store.transcripts == {}

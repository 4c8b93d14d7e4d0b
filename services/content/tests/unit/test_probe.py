"""ffprobe's answers read as a video in an accepted container, or refused."""

from __future__ import annotations

import json

import pytest

from cuepoint.content.domain.probe import UNREADABLE, UnreadableVideo, probe_result

pytestmark = pytest.mark.unit


def answer(format_name: str | None, *, streams: list[dict] | None = None, duration: str = "2.000000") -> bytes:
    found: dict = {"streams": streams if streams is not None else [
        {"codec_type": "video", "codec_name": "h264", "width": 320, "height": 240}]}
    if format_name:
        found["format"] = {"format_name": format_name, "duration": duration}
    return json.dumps(found).encode()


@pytest.mark.parametrize("format_name", ["mov,mp4,m4a,3gp,3g2,mj2", "matroska,webm"])
def test_accepted_containers(format_name: str) -> None:
    assert probe_result(0, answer(format_name)) == {"duration": 2.0, "width": 320, "height": 240, "codec": "h264"}


@pytest.mark.parametrize("returncode, output, why", [
    (1, b"{}", ""),
    (0, b"not json", ""),
    (0, answer(None), ""),
    (0, answer("hls"), "its format is hls"),
    (0, answer("mov,mp4,m4a,3gp,3g2,mj2,hls"), "its format is"),
    (0, answer("matroska,webm", streams=[{"codec_type": "audio", "codec_name": "opus"}]), "no video stream"),
])
def test_refused(returncode: int, output: bytes, why: str) -> None:
    with pytest.raises(UnreadableVideo) as refused:
        probe_result(returncode, output)
    assert str(refused.value).startswith(UNREADABLE) and why in str(refused.value)


def test_an_unknown_duration_is_left_out() -> None:
    assert "duration" not in probe_result(0, answer("matroska,webm", duration="N/A"))

"""Reading an uploaded file with ffprobe: its duration and resolution (domain.probe reads the answer)."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path
from typing import Any

from .domain.probe import PROBED_FORMATS, UNREADABLE, UnreadableVideo, probe_result
from .storage import VideoStorage


class Prober:
    def __init__(self, storage: VideoStorage, timeout_seconds: float) -> None:
        self.storage = storage
        self.timeout_seconds = timeout_seconds

    async def __call__(self, name: str, size: int) -> dict[str, Any]:
        """Duration and resolution from ffprobe, when it is installed; UnreadableVideo if it cannot
        read the file as one of the accepted containers.

        ffprobe reads a local copy only, with the file protocol alone and a fixed list of demuxers:
        given a URL, a playlist uploaded as video/mp4 would make it fetch whatever the playlist names."""
        if shutil.which("ffprobe") is None:
            return {}
        with tempfile.TemporaryDirectory(prefix="cuepoint-probe-") as directory:
            path = Path(directory) / "upload"
            await self.storage.download(name, path, max_bytes=size)
            process = await asyncio.create_subprocess_exec(
                "ffprobe", "-v", "error", "-protocol_whitelist", "file", "-format_whitelist", ",".join(PROBED_FORMATS),
                "-show_entries", "format=format_name,duration:stream=codec_type,codec_name,width,height",
                "-of", "json", f"file:{path}", stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.DEVNULL)
            try:
                output, _ = await asyncio.wait_for(process.communicate(), timeout=self.timeout_seconds)
            except TimeoutError:
                process.kill()
                await process.wait()
                raise UnreadableVideo(f"{UNREADABLE}: ffprobe did not finish reading it within "
                                      f"{self.timeout_seconds:g} s") from None
        return probe_result(process.returncode, output)

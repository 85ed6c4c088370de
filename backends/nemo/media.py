"""Reading an MP4's size and length with PyAV."""

from __future__ import annotations

from pathlib import Path

import av

from bot.errors import RenderFailed


def probe_mp4(path: Path) -> tuple[int, int, float]:
    """(width, height, duration in seconds) of the first video stream of `path`."""
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            width, height = stream.codec_context.width, stream.codec_context.height
            if container.duration is not None:
                duration = container.duration / 1_000_000
            elif stream.duration is not None and stream.time_base is not None:
                duration = float(stream.duration * stream.time_base)
            else:
                duration = 0.0
    except (av.FFmpegError, IndexError) as exc:
        raise RenderFailed("Nemo's render is not a playable MP4") from exc
    return int(width), int(height), float(duration)

"""A sendVideo thumbnail: the MP4's first frame as a small JPEG."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import av
from PIL import Image

log = logging.getLogger(__name__)

#: Telegram's rules for thumbnails: JPEG, at most 320 px a side, under 200 kB.
MAX_SIDE = 320
MAX_BYTES = 200 * 1024


def first_frame_jpeg(video: Path) -> bytes | None:
    """The first frame, scaled to fit 320 px, as JPEG bytes; None if it cannot be read."""
    try:
        with av.open(str(video)) as container:
            frame = next(container.decode(video=0))
            image: Image.Image = frame.to_image()  # type: ignore[no-untyped-call]
    except (av.FFmpegError, StopIteration, OSError) as exc:
        log.warning("No thumbnail for %s: %s", video.name, exc)
        return None
    image.thumbnail((MAX_SIDE, MAX_SIDE))
    for quality in (85, 70, 50):
        out = io.BytesIO()
        image.convert("RGB").save(out, format="JPEG", quality=quality)
        if out.tell() <= MAX_BYTES:
            return out.getvalue()
    return None

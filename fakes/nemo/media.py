"""Real small MP4 files for the emulator's renders, made with PyAV."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np


def make_mp4(path: Path, width: int = 160, height: int = 90, duration_s: float = 1.0) -> Path:
    """Encode a short moving gradient into `path` (H.264 when available, else MPEG-4)."""
    width, height = max(16, width - width % 2), max(16, height - height % 2)
    fps = 10
    frames = max(1, round(duration_s * fps))
    with av.open(str(path), mode="w") as container:
        try:
            stream = container.add_stream("libx264", rate=fps)
        except Exception:  # a PyAV build without x264
            stream = container.add_stream("mpeg4", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        xs = np.linspace(0, 255, width, dtype=np.float32)
        for i in range(frames):
            shade = (xs[None, :] + i * 12) % 256
            rgb = np.empty((height, width, 3), dtype=np.uint8)
            rgb[..., 0] = shade.astype(np.uint8)
            rgb[..., 1] = 128
            rgb[..., 2] = 255 - rgb[..., 0]
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def fit(width: int, height: int, longest: int = 320) -> tuple[int, int]:
    """`width`×`height` scaled so the longest side is `longest` (keeps renders tiny)."""
    scale = longest / max(width, height, 1)
    return max(16, round(width * scale)), max(16, round(height * scale))

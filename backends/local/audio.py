"""Background music: decoded with PyAV, looped or trimmed to the clip, faded, as AAC."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.errors import BadInput

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

log = logging.getLogger(__name__)

RATE = 48_000


def probe(path: Path) -> float:
    """The duration in seconds of an audio file; raises `BadInput` if it has no sound."""
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise BadInput("audio_silent")
            stream = container.streams.audio[0]
            if stream.duration is not None and stream.time_base is not None:
                return float(stream.duration * stream.time_base)
            if container.duration is not None:
                return container.duration / 1_000_000
            return 0.0
    except av.FFmpegError as exc:
        log.info("bad audio %s: %s", path.name, exc)
        raise BadInput("audio_unreadable") from exc


def load(path: Path, duration_s: float, volume: float = 1.0) -> NDArray[np.float32]:
    """Stereo float samples at 48 kHz, exactly `duration_s` long: looped if short, faded
    in briefly and out over the last second or so."""
    import av
    import numpy as np

    total = round(duration_s * RATE)
    chunks: list[NDArray[np.float32]] = []
    have = 0
    resampler = av.AudioResampler(format="fltp", layout="stereo", rate=RATE)
    try:
        with av.open(str(path)) as container:
            for frame in container.decode(audio=0):
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray().astype(np.float32))
                    have += chunks[-1].shape[1]
                if have >= total:
                    break
    except av.FFmpegError as exc:
        raise BadInput("audio_unreadable") from exc
    if not chunks:
        return np.zeros((2, total), dtype=np.float32)
    pcm = np.concatenate(chunks, axis=1)
    if pcm.shape[1] < total:
        pcm = np.tile(pcm, (1, total // pcm.shape[1] + 1))
    pcm = pcm[:, :total] * np.float32(volume)
    fade_in = min(total // 4, round(0.2 * RATE))
    fade_out = min(total // 3, round(1.2 * RATE))
    if fade_in:
        pcm[:, :fade_in] *= np.linspace(0.0, 1.0, fade_in, dtype=np.float32)
    if fade_out:
        pcm[:, total - fade_out :] *= np.linspace(1.0, 0.0, fade_out, dtype=np.float32)
    return np.ascontiguousarray(pcm)


def encode(stream: Any, pcm: NDArray[np.float32]) -> list[Any]:
    """Encode the samples with the output's AAC `stream`; returns its packets in order."""
    import av

    packets: list[Any] = []
    size = stream.codec_context.frame_size or 1024
    for start in range(0, pcm.shape[1], size):
        frame = av.AudioFrame.from_ndarray(
            pcm[:, start : start + size].copy(), format="fltp", layout="stereo"
        )
        frame.sample_rate = RATE
        frame.pts = start
        packets.extend(stream.encode(frame))
    packets.extend(stream.encode(None))
    return packets

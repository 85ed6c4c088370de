"""Background music: decoded with PyAV, looped or trimmed to the clip, faded, brought to
a set loudness (EBU R128), as AAC.

Loudness is measured by ffmpeg's `ebur128` filter (through PyAV's own libavfilter) on
the very samples that go into the clip — after trimming, looping and fades — and a
single gain brings them to the target; where that gain would push the true peak over the
ceiling, ffmpeg's `alimiter` holds the peaks and a second, small gain makes up what the
limiting took. A plain gain keeps the music's dynamics (unlike `loudnorm`'s dynamic
mode) and is exact on a track this short.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.errors import BadInput

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

log = logging.getLogger(__name__)

RATE = 48_000
#: The true-peak ceiling after normalisation, in dBTP (EBU R128 allows -1).
CEILING_DBTP = -1.0
#: Below this the gated loudness is undefined (silence, or under 0.4 s of sound).
SILENT_LUFS = -70.0


@dataclass(frozen=True, slots=True)
class Loudness:
    """EBU R128 integrated loudness (LUFS) and true peak (dBTP) of some samples."""

    integrated: float
    true_peak: float


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


def _filtered(pcm: NDArray[np.float32], chain: Sequence[tuple[str, str]]) -> tuple[
    NDArray[np.float32], dict[str, str]
]:  # fmt: skip
    """Stereo 48 kHz samples through a chain of ffmpeg audio filters: the samples that
    come out, and the metadata of the last frame (where `ebur128` puts its totals)."""
    import av
    import av.filter
    import numpy as np

    graph = av.filter.Graph()
    tb = Fraction(1, RATE)
    node = graph.add_abuffer(format="fltp", sample_rate=RATE, layout="stereo", time_base=tb)
    first = node
    for name, args in chain:
        nxt = graph.add(name, args)
        node.link_to(nxt)
        node = nxt
    node.link_to(graph.add("abuffersink"))
    graph.configure()
    out: list[NDArray[np.float32]] = []
    meta: dict[str, str] = {}

    def drain() -> None:
        nonlocal meta
        while True:
            try:
                frame = graph.pull()
            except (av.BlockingIOError, av.EOFError):
                return
            assert isinstance(frame, av.AudioFrame)
            out.append(frame.to_ndarray().astype(np.float32).reshape(2, -1))
            meta = dict(frame.metadata) or meta

    step = 4800
    for start in range(0, pcm.shape[1], step):
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(pcm[:, start : start + step]), format="fltp", layout="stereo"
        )
        frame.sample_rate, frame.pts, frame.time_base = RATE, start, tb
        first.push(frame)
        drain()
    first.push(None)
    drain()
    samples = np.concatenate(out, axis=1) if out else np.zeros((2, 0), np.float32)
    return samples, meta


def measure(pcm: NDArray[np.float32], *, true_peak: bool = True) -> Loudness:
    """The EBU R128 loudness of stereo 48 kHz samples (ffmpeg's `ebur128`); without
    `true_peak` (4× oversampling, most of the cost) the peak is the samples' own."""
    import numpy as np

    mode = "true" if true_peak else "none"
    _, meta = _filtered(pcm, [("ebur128", f"metadata=1:peak={mode}")])
    integrated = float(meta.get("lavfi.r128.I", SILENT_LUFS))
    if true_peak:
        peak = float(meta.get("lavfi.r128.true_peak", 0.0))
    else:
        peak = float(np.abs(pcm).max(initial=0.0))
    return Loudness(integrated, 20 * math.log10(peak) if peak > 0 else -math.inf)


def normalise(
    pcm: NDArray[np.float32], target_lufs: float, ceiling_dbtp: float = CEILING_DBTP
) -> NDArray[np.float32]:
    """The samples brought to `target_lufs` integrated, true peaks under `ceiling_dbtp`;
    silence (or sound too short to measure) is returned as it is."""
    import numpy as np

    before = measure(pcm, true_peak=False)
    if before.integrated <= SILENT_LUFS + 0.5:
        return pcm
    # Sample peaks are held 1 dB under the ceiling: true (inter-sample) peaks of music
    # rarely rise more than that above them.
    limit = 10 ** ((ceiling_dbtp - 1.0) / 20)
    out, now = pcm, before
    for _ in range(4):
        gain = np.float32(10 ** ((target_lufs - now.integrated) / 20))
        out = out * gain
        if float(np.abs(out).max(initial=0.0)) > limit:
            out = limit_peaks(out, limit)
        now = measure(out, true_peak=False)
        if abs(now.integrated - target_lufs) < 0.2 or now.integrated <= SILENT_LUFS + 0.5:
            break
    log.info(
        "music loudness %.1f LUFS → %.1f LUFS (target %.1f), sample peak %.1f dBFS",
        before.integrated, now.integrated, target_lufs, now.true_peak,
    )  # fmt: skip
    return np.ascontiguousarray(out, dtype=np.float32)


#: The limiter's reach on each side of a peak: 25 ms of attack and of release.
LIMITER_RADIUS = RATE // 40


def limit_peaks(pcm: NDArray[np.float32], limit: float) -> NDArray[np.float32]:
    """Samples whose peaks stay under `limit`, by a smooth gain that dips around them.

    Offline, so it looks both ways: the gain each sample needs is spread to every sample
    within the radius (a running minimum), then smoothed over half that span each way;
    every smoothed value comes from a window that holds the peak, so no peak passes.
    ffmpeg's `alimiter` was tried first: it let peaks through (+0.6 dBTP after it on a
    test with clicks), this does not.
    """
    import numpy as np

    peak = np.abs(pcm).max(axis=0)
    need = np.minimum(1.0, limit / np.maximum(peak, 1e-12)).astype(np.float32)
    r = LIMITER_RADIUS
    spread = _running_min(need, 2 * r + 1)
    kernel = np.full(r + 1, 1.0 / (r + 1), dtype=np.float32)
    padded = np.pad(spread, (r // 2, r - r // 2), mode="edge")
    gain = np.convolve(padded, kernel, mode="valid").astype(np.float32)
    return np.ascontiguousarray(pcm * gain)


def _running_min(x: NDArray[np.float32], window: int) -> NDArray[np.float32]:
    """The minimum over a centred `window` (odd) at each position, edges repeated: van
    Herk / Gil-Werman, linear in the length."""
    import numpy as np

    r = window // 2
    padded = np.pad(x, (r, r), mode="edge")
    n = padded.size
    blocks = -(-n // window)
    full = np.pad(padded, (0, blocks * window - n), mode="edge").reshape(blocks, window)
    ahead = np.minimum.accumulate(full, axis=1).ravel()  # min from each block's start
    behind = np.minimum.accumulate(full[:, ::-1], axis=1)[:, ::-1].ravel()  # to its end
    i = np.arange(x.size)
    # The window at output i covers padded[i : i + window].
    return np.minimum(behind[i], ahead[i + window - 1]).astype(np.float32)


def _fit_length(pcm: NDArray[np.float32], n: int) -> NDArray[np.float32]:
    """Exactly `n` samples: cut, or padded with silence."""
    import numpy as np

    if pcm.shape[1] >= n:
        return pcm[:, :n]
    return np.pad(pcm, ((0, 0), (0, n - pcm.shape[1])))

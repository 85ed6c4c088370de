"""The size budget: the bitrate, and if need be the frame size, that keeps a clip under
the upload limit of the chat it goes to (Discord's 10 MiB, Telegram's 50 MB).

The limit, less a margin for the MP4's index and the encoders' slack, is shared between
the music (AAC at its bitrate) and the picture; x264's cap (`maxrate`, with a one-second
`bufsize`, of which x264 starts 90 % full) is set so that the whole clip cannot pass it,
and never above the configured cap. When that leaves the picture fewer bits than it
needs to look right (`MIN_BPP`), the music drops to 96 kbit/s and then the frame gets
smaller (720p, 540p, 360p on its short side), before the clip is made anyway at the
smallest size.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from backends.local.still import even

if TYPE_CHECKING:
    from backends.local.render import RenderSpec

log = logging.getLogger(__name__)

#: Bits per pixel of each frame below which a photo clip visibly loses detail: a 60 s
#: 1080×1920 slideshow of grainy 12-megapixel photos took 0.021 (1.3 Mbit/s) at x264's
#: crf 21 (`python -m bench.fit`); this is about a third less.
MIN_BPP = 0.015
#: The short sides tried, largest first, when the frame must get smaller.
SHORT_SIDES = (1080, 720, 540, 360)
#: AAC bitrates (kbit/s): the usual, and the one used when the picture is short of bits.
AUDIO_KBPS = (160, 96)
#: The part of the limit planned for: the rest covers the MP4 index and the encoders
#: running over their averages.
SAFETY = 0.95
#: x264 starts with its buffer this full (its `vbv-init` default).
VBV_INIT = 0.9


@dataclass(frozen=True, slots=True)
class Plan:
    """The frame size and bitrates of a clip that fits."""

    width: int
    height: int
    video_kbps: int
    audio_kbps: int
    fits: bool  # False: even the smallest plan is under MIN_BPP (made anyway)


def video_kbps(max_bytes: int, seconds: float, audio_kbps: int) -> int:
    """The highest `maxrate` (with a one-second buffer) that keeps a clip of `seconds`
    with `audio_kbps` of music under `max_bytes`."""
    index = 16_384 + 40 * seconds * 30  # the MP4 index: a few dozen bytes a frame
    usable = (max_bytes * SAFETY - index) * 8 / 1000  # kbit
    video = usable - audio_kbps * 1.05 * seconds  # AAC runs a little over its average
    # Over `seconds` x264 spends at most maxrate·seconds, plus what the buffer held.
    return max(50, int(video / (seconds + VBV_INIT)))


def _sizes(width: int, height: int) -> list[tuple[int, int]]:
    short = min(width, height)
    out = [(width, height)]
    for side in SHORT_SIDES:
        if side < short:
            s = side / short
            out.append((even(width * s), even(height * s)))
    return out


def plan(
    width: int, height: int, fps: int, seconds: float, music: bool, cap_kbps: int,
    max_bytes: int,
) -> Plan:  # fmt: skip
    """The largest frame (then the best music) whose picture gets at least `MIN_BPP`
    within `max_bytes`; the smallest of all when none does."""
    audios = AUDIO_KBPS if music else (0,)
    best: Plan | None = None
    for w, h in _sizes(width, height):
        for audio in audios:
            kbps = min(cap_kbps, video_kbps(max_bytes, seconds, audio))
            best = Plan(w, h, kbps, audio, kbps * 1000 / (w * h * fps) >= MIN_BPP)
            if best.fits:
                return best
    assert best is not None
    return best


def fit(spec: RenderSpec) -> RenderSpec:
    """`spec` made to fit its `max_bytes` (unchanged when it has none)."""
    if spec.max_bytes is None:
        return spec
    seconds = spec.frames / spec.fps
    music = spec.music is not None
    p = plan(spec.width, spec.height, spec.fps, seconds, music, spec.max_bitrate_kbps,
             spec.max_bytes)  # fmt: skip
    if not p.fits:
        log.warning(
            "a %.0f s clip cannot look right in %d bytes; made at %dx%d, %d kbit/s",
            seconds, spec.max_bytes, p.width, p.height, p.video_kbps,
        )  # fmt: skip
    elif (p.width, p.height) != (spec.width, spec.height):
        log.info(
            "a %.0f s clip for %d bytes: %dx%d instead of %dx%d",
            seconds, spec.max_bytes, p.width, p.height, spec.width, spec.height,
        )  # fmt: skip
    return replace(
        spec,
        width=p.width,
        height=p.height,
        max_bitrate_kbps=p.video_kbps,
        bufsize_kbps=p.video_kbps,
        audio_kbps=p.audio_kbps or spec.audio_kbps,
    )


def tighter(spec: RenderSpec, size_bytes: int) -> RenderSpec:
    """For a second try when a clip came out over its limit: the cap lowered by the
    share it went over, and a little more."""
    assert spec.max_bytes is not None
    kbps = max(50, int(spec.max_bitrate_kbps * spec.max_bytes / size_bytes * 0.92))
    return replace(spec, max_bitrate_kbps=kbps, bufsize_kbps=kbps)

"""Moving segments: a video file, an animated GIF or frames in memory, played in the clip.

A moving segment takes a slide's place in the clip (`RenderSpec.slides`), alone or among
photos: it plays from its start for the slide's span (trimmed there), scaled and
cropped to the output like a photo (or shown whole over a blurred fill when its shape
differs a lot), with no camera move of its own; titles, fades, crossfades and music
apply as for a photo. A video that ends before its span holds its last frame; a GIF,
or any segment with `loop`, starts again.

Frames are decoded by PyAV in the renderer's producer thread, one source frame ahead of
the clip, and converted once per source frame (not per output frame) by swscale into
the output's BT.709 limited-range NV12 at the size the crop needs.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from backends.local.still import choose_fit, even
from bot.errors import BadInput

if TYPE_CHECKING:
    import av
    import numpy as np
    from numpy.typing import NDArray

log = logging.getLogger(__name__)

#: Largest picture a moving input may have (4K UHD, either way up, with some slack).
MAX_PIXELS = 4096 * 2304
#: Below this on either side a moving input cannot make a clip.
MIN_SIDE = 32


@dataclass(frozen=True, slots=True)
class VideoSlide:
    """A moving segment read from a file PyAV decodes (MP4, MOV, WebM, MKV, GIF …),
    played from `start_s`; `loop` starts it again when it ends (else its last frame
    stays). `focus` is where to keep in frame when cropping, as fractions of the
    picture (None: the centre)."""

    path: Path
    loop: bool = False
    start_s: float = 0.0
    focus: tuple[float, float] | None = None


@dataclass(frozen=True, slots=True, eq=False)
class FramesSlide:
    """A moving segment of frames in memory: RGB (h×w×3, uint8, all one size) at `fps`.
    For a generator that has its frames at hand (a model's output) and no file."""

    frames: Sequence[NDArray[np.uint8]] = field(repr=False)
    fps: float
    loop: bool = False
    focus: tuple[float, float] | None = None


MovingSlide = VideoSlide | FramesSlide


@dataclass(frozen=True, slots=True)
class MovingInfo:
    """What a probe finds in a moving input."""

    width: int
    height: int
    duration_s: float
    frames: int


def probe(path: Path, max_seconds: float) -> MovingInfo:
    """Check a video or an animated GIF (its first frame decodes, its size and length
    are within limits) and describe it; raises `BadInput`."""
    import av

    try:
        if path.stat().st_size == 0:
            raise BadInput("video_unreadable")
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise BadInput("video_no_picture")
            stream = container.streams.video[0]
            first = next(container.decode(stream), None)
            if first is None:
                raise BadInput("video_no_picture")
            w, h = first.width, first.height
            duration = _duration(container, stream)
            frames = int(stream.frames or 0) or max(
                1, round(duration * float(stream.average_rate or 25))
            )
    except av.FFmpegError as exc:
        log.info("bad video %s: %s", path.name, exc)
        raise BadInput("video_unreadable") from exc
    except OSError as exc:
        raise BadInput("video_unreadable") from exc
    if min(w, h) < MIN_SIDE:
        raise BadInput("image_too_small", width=w, height=h, min_side=MIN_SIDE)
    if w * h > MAX_PIXELS:
        raise BadInput("video_too_large", width=w, height=h)
    if duration > max_seconds:
        raise BadInput("video_too_long", seconds=f"{duration:.0f}", limit=f"{max_seconds:g}")
    return MovingInfo(w, h, duration, frames)


def _duration(container: Any, stream: Any) -> float:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return float(container.duration) / 1_000_000
    return 0.0


# --- playing ------------------------------------------------------------------------------


def _white_under(frame: av.VideoFrame) -> av.VideoFrame:
    """A frame with transparency flattened onto white (as a viewer shows a GIF)."""
    import av
    import numpy as np

    rgba = frame.to_ndarray(format="rgba").astype(np.uint16)
    alpha = rgba[:, :, 3:4]
    rgb = (rgba[:, :, :3] * alpha + 255 * (255 - alpha) + 127) // 255
    out = av.VideoFrame.from_ndarray(rgb.astype(np.uint8), format="rgb24")
    out.pts, out.time_base = frame.pts, frame.time_base
    return out


def _timed_frames(slide: MovingSlide) -> Iterator[tuple[float, float, av.VideoFrame]]:
    """The segment's frames in order, each with its time from the segment's start and
    how long it shows, in seconds."""
    import av

    if isinstance(slide, FramesSlide):
        for i, rgb in enumerate(slide.frames):
            yield i / slide.fps, 1 / slide.fps, av.VideoFrame.from_ndarray(rgb, format="rgb24")
        return
    with av.open(str(slide.path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        if slide.start_s > 0 and stream.time_base is not None:
            container.seek(round(slide.start_s / stream.time_base), stream=stream)
        gap = 1 / float(stream.average_rate or 25)
        for frame in container.decode(stream):
            if frame.time is None:
                continue
            t = float(frame.time) - slide.start_s
            if t < -1e-6:  # decoded from the keyframe before the start: passed over
                continue
            base = frame.time_base
            shows = float(frame.duration * base) if frame.duration and base is not None else gap
            if frame.format.name in ("bgra", "rgba", "argb", "abgr", "pal8", "yuva420p"):
                frame = _white_under(frame)
            yield max(0.0, t), shows, frame


class Player:
    """Plays one moving segment into frame planes at the output's size."""

    def __init__(self, slide: MovingSlide, out_w: int, out_h: int) -> None:
        self.slide = slide
        self.w, self.h = out_w, out_h
        self._source = _timed_frames(slide)
        self._offset = 0.0  # seconds added to source times after each loop
        self._period = 0.0
        self._pending: tuple[float, av.VideoFrame] | None = None
        self._shown: NDArray[np.uint8] | None = None  # NV12 rows of the current frame
        self._pull()
        if self._pending is None:
            raise BadInput("video_no_picture")

    def close(self) -> None:
        """Stop decoding (closes the file)."""
        close = getattr(self._source, "close", None)
        if close is not None:
            close()

    def _pull(self) -> None:
        """Read the next source frame into `_pending` (None at the end, unless looping)."""
        item = next(self._source, None)
        if item is None and self.slide.loop and self._period > 0:
            self.close()
            self._offset += self._period
            self._source = _timed_frames(self.slide)
            item = next(self._source, None)
        if item is not None:
            t, shows, frame = item
            self._period = max(self._period, t + shows)
            self._pending = (t + self._offset, frame)
        else:
            self._pending = None

    def draw(self, t: float, y_rows: NDArray[np.uint8], uv_rows: NDArray[np.uint8]) -> None:
        """The segment as seen `t` seconds after its start, into the plane rows (Y: h
        rows, chroma: h/2 rows, each at least w bytes)."""
        latest: av.VideoFrame | None = None
        # A millisecond of slack: Matroska and WebM keep times in whole milliseconds.
        while self._pending is not None and self._pending[0] <= t + 1e-3:
            latest = self._pending[1]
            self._pull()
        if latest is not None or self._shown is None:
            if latest is None:  # the first frame starts after 0: show it from the start
                assert self._pending is not None
                latest = self._pending[1]
            self._shown = self._fit(latest)
        h, w = self.h, self.w
        y_rows[:h, :w] = self._shown[:h]
        uv_rows[: h // 2, :w] = self._shown[h:]

    def _fit(self, frame: av.VideoFrame) -> NDArray[np.uint8]:
        """The frame cover-cropped (or fitted over a blurred fill) to the output, as one
        NV12 buffer (h rows of Y, then h/2 rows of interleaved Cb, Cr)."""
        import numpy as np

        w, h = self.w, self.h
        fw, fh = frame.width, frame.height
        buf = np.empty((h * 3 // 2, w), dtype=np.uint8)
        y, uv = buf[:h], buf[h:]
        if choose_fit(fw, fh, w, h) == "cover":
            s = max(w / fw, h / fh)
            sw, sh = max(w, even(fw * s)), max(h, even(fh * s))
            fy, fuv = _nv12(frame, sw, sh)
            cx, cy = self.slide.focus or (0.5, 0.5)
            left = min(sw - w, max(0, round(cx * sw - w / 2))) & ~1
            top = min(sh - h, max(0, round(cy * sh - h / 2))) & ~1
            y[:] = fy[top : top + h, left : left + w]
            uv[:] = fuv[top // 2 : (top + h) // 2, left : left + w]
            return buf
        s = min(w / fw, h / fh)
        sw, sh = min(w, even(fw * s)), min(h, even(fh * s))
        _blurred_fill(frame, y, uv)
        fy, fuv = _nv12(frame, sw, sh)
        left, top = ((w - sw) // 2) & ~1, ((h - sh) // 2) & ~1
        y[top : top + sh, left : left + sw] = fy[:, :sw]
        uv[top // 2 : (top + sh) // 2, left : left + sw] = fuv[:, :sw]
        return buf


def _nv12(frame: av.VideoFrame, w: int, h: int) -> tuple[NDArray[np.uint8], NDArray[np.uint8]]:
    """The frame scaled to w×h by swscale, as BT.709 limited-range NV12 planes (views
    without the line padding)."""
    import av
    import numpy as np
    from av.video.reformatter import ColorRange, Colorspace, Interpolation

    shrink = w <= frame.width and h <= frame.height
    src_range = frame.color_range if frame.color_range in (1, 2) else None
    out = frame.reformat(
        width=w,
        height=h,
        format="nv12",
        src_color_range=src_range,
        dst_colorspace=Colorspace.ITU709,
        dst_color_range=ColorRange.MPEG,
        interpolation=Interpolation.AREA if shrink else Interpolation.BICUBIC,
    )
    assert isinstance(out, av.VideoFrame)
    luma, chroma = out.planes[0], out.planes[1]
    y = np.frombuffer(memoryview(luma), dtype=np.uint8).reshape(h, luma.line_size)[:, :w]
    uv = np.frombuffer(memoryview(chroma), dtype=np.uint8).reshape(h // 2, chroma.line_size)
    return y, uv[:, :w]


def _blurred_fill(frame: av.VideoFrame, y: NDArray[np.uint8], uv: NDArray[np.uint8]) -> None:
    """The frame itself, cover-cropped small, blurred hard, darkened and scaled up to
    fill the planes (as a photo's fill, see `backends.local.still`)."""
    import cv2
    import numpy as np

    from backends.local.still import rgb_to_yuv709

    h, w = y.shape
    small_w, small_h = max(8, even(w / 16)), max(8, even(h / 16))
    s = max(small_w / frame.width, small_h / frame.height)
    bw, bh = max(small_w, even(frame.width * s + 1)), max(small_h, even(frame.height * s + 1))
    small = frame.reformat(width=bw, height=bh, format="rgb24").to_ndarray()
    left, top = (bw - small_w) // 2, (bh - small_h) // 2
    crop = np.ascontiguousarray(small[top : top + small_h, left : left + small_w], dtype=np.uint8)
    blurred = cv2.GaussianBlur(crop, (0, 0), max(2, small_w // 12))
    sy, su, sv = rgb_to_yuv709((blurred * 0.55).astype(np.uint8))
    cv2.resize(sy, (w, h), dst=y, interpolation=cv2.INTER_CUBIC)
    chroma = np.dstack([su, sv])
    uv[:] = cv2.resize(chroma, (w // 2, h // 2), interpolation=cv2.INTER_CUBIC).reshape(h // 2, w)

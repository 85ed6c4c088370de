"""The render pipeline: stills built once, frames warped in a worker thread, H.264 out.

A producer thread makes each frame (a sub-pixel warp of a ready Y'CbCr still, see
`backends.local.warp`, plus a crossfade, title or fade where needed) straight into the encoder's
frame, a few frames ahead, while PyAV's x264 encodes on frame threads, so both cores stay
busy. Output: H.264 4:2:0 (yuv420p), BT.709 limited range, even dimensions, `+faststart`,
AAC when there is music.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

from backends.local import motion
from backends.local.motion import Move
from backends.local.moving import FramesSlide, VideoSlide
from bot.errors import BadInput, RenderFailed

if TYPE_CHECKING:
    import av
    import numpy as np
    from numpy.typing import NDArray

    from backends.local.moving import Player
    from backends.local.overlay import Title
    from backends.local.still import Still
    from backends.local.warp import PlaneWarper

log = logging.getLogger(__name__)

#: (frames done, frames in all)
Progress = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class Slide:
    """One photo of the clip and its camera move."""

    path: Path
    move: Move = "zoom_in"


#: A slide of the clip: a photo with a camera move, or a moving segment (a video, an
#: animated GIF, frames in memory: `backends.local.moving`).
AnySlide = Slide | VideoSlide | FramesSlide

__all__ = ["AnySlide", "FramesSlide", "RenderResult", "RenderSpec", "Slide", "VideoSlide", "render"]


@dataclass(frozen=True, slots=True)
class RenderSpec:
    """Everything a render needs; built from a project by `backends.local.clip`."""

    slides: tuple[AnySlide, ...]
    width: int
    height: int
    fps: int = 30
    duration_s: float = 5.0
    speed: float = 1.0
    title: str | None = None
    title_s: float = 3.0
    fade_in_s: float = 0.0
    fade_out_s: float = 0.0
    crossfade_s: float = 0.8
    music: Path | None = None
    music_volume: float = 1.0
    preset: str = "veryfast"
    crf: int = 21
    max_bitrate_kbps: int = 7000

    @property
    def frames(self) -> int:
        """How many frames the clip has."""
        return max(1, round(self.duration_s * self.fps))


@dataclass(frozen=True, slots=True)
class RenderResult:
    """A finished MP4."""

    path: Path
    width: int
    height: int
    duration_s: float
    frames: int
    size_bytes: int


@dataclass(frozen=True, slots=True)
class _Span:
    start: int  # first frame
    count: int  # frames


def spans(n_slides: int, frames: int, crossfade_frames: int) -> list[_Span]:
    """Where each slide sits in the clip: equal lengths, overlapping by the crossfade."""
    if n_slides <= 1:
        return [_Span(0, frames)]
    c = max(0, min(crossfade_frames, frames // (2 * n_slides)))
    each = (frames + (n_slides - 1) * c) / n_slides
    out = []
    for i in range(n_slides):
        start = round(i * (each - c))
        end = frames if i == n_slides - 1 else round(i * (each - c) + each)
        out.append(_Span(start, end - start))
    return out


class _Frames:
    """Makes the frames of one spec, in order (runs on the producer thread)."""

    def __init__(self, spec: RenderSpec) -> None:
        import numpy as np

        self.spec = spec
        self.w, self.h = spec.width, spec.height
        self.spans = spans(len(spec.slides), spec.frames, round(spec.crossfade_s * spec.fps))
        self.stills: dict[int, Still] = {}
        self.warpers: dict[int, tuple[PlaneWarper, PlaneWarper]] = {}
        self.players: dict[int, Player] = {}
        self.aspect = self.w / self.h
        self.title: Title | None = None
        if spec.title:
            from backends.local.overlay import make_title

            self.title = make_title(spec.title, self.w, self.h)
        self._scratch = np.empty((self.h * 3 // 2, self.w), dtype=np.uint8)

    def close(self) -> None:
        """Close the moving segments' files."""
        for player in self.players.values():
            player.close()
        self.players.clear()

    def _player(self, i: int) -> Player:
        """Slide `i`'s player (a moving segment), opened on first use."""
        from backends.local.moving import Player

        if i not in self.players:
            for old in [k for k in self.players if k < i - 1]:
                self.players.pop(old).close()
            slide = self.spec.slides[i]
            assert isinstance(slide, VideoSlide | FramesSlide)
            self.players[i] = Player(slide, self.w, self.h)
        return self.players[i]

    def _still(self, i: int) -> Still:
        from backends.local.still import build

        if i not in self.stills:
            for old in [k for k in self.stills if k < i - 1]:
                del self.stills[old]
                del self.warpers[old]
            slide = self.spec.slides[i]
            assert isinstance(slide, Slide)
            zoom = motion.max_zoom(slide.move, self.spec.speed, self.aspect)
            self.stills[i] = build(slide.path, self.w, self.h, zoom)
        return self.stills[i]

    def _warpers(self, i: int) -> tuple[PlaneWarper, PlaneWarper]:
        """The luma and chroma warpers of slide `i`'s still, made on first use."""
        from backends.local.warp import PlaneWarper

        if i not in self.warpers:
            still = self._still(i)
            self.warpers[i] = (PlaneWarper(still.y), PlaneWarper(still.uv))
        return self.warpers[i]

    def _warp(self, i: int, k: int, y: NDArray[np.uint8], uv: NDArray[np.uint8]) -> None:
        """Slide `i` at frame `k` into the plane rows: a photo as seen by the camera, a
        moving segment at its own time."""
        span, slide = self.spans[i], self.spec.slides[i]
        if not isinstance(slide, Slide):
            self._player(i).draw((k - span.start) / self.spec.fps, y, uv)
            return
        luma, chroma = self._warpers(i)
        t = (k - span.start) / max(1, span.count - 1)
        cam = motion.camera_at(slide.move, t, self.spec.speed, self.aspect)
        m = motion.camera_matrix(cam, self.w, self.h, luma.width, luma.height)
        luma.warp(motion.pixel_matrix(m, 1.0), y, self.w, self.h)
        chroma.warp(motion.pixel_matrix(m, 2.0), uv, self.w // 2, self.h // 2)

    def frame(self, k: int) -> NDArray[np.uint8]:
        """Frame `k` as one NV12 buffer (Y rows, then rows of interleaved Cb, Cr)."""
        import numpy as np

        buf = np.empty((self.h * 3 // 2, self.w), dtype=np.uint8)
        self.fill(k, *_planes(buf, self.h))
        return buf

    def video_frame(self, k: int) -> av.VideoFrame:
        """Frame `k` drawn straight into an encoder frame's planes (no copy on the way)."""
        import av

        vf = av.VideoFrame(self.w, self.h, "nv12")
        self.fill(k, *_frame_planes(vf, self.h))
        return vf

    def fill(self, k: int, y_rows: NDArray[np.uint8], uv_rows: NDArray[np.uint8]) -> None:
        """Draw frame `k` into the plane rows `y_rows` (h rows) and `uv_rows` (h/2 rows of
        interleaved Cb, Cr), each at least w bytes wide (an encoder frame's padding is
        left alone)."""
        import cv2

        spec = self.spec
        active = [i for i, s in enumerate(self.spans) if s.start <= k < s.start + s.count]
        self._warp(active[0], k, y_rows, uv_rows)
        y, uv = _views(y_rows, uv_rows, self.w, self.h)
        if len(active) > 1:
            nxt = self.spans[active[1]]
            scratch = _planes(self._scratch, self.h)
            self._warp(active[1], k, *scratch)
            sy, suv = _views(*scratch, self.w, self.h)
            cur = self.spans[active[0]]
            overlap = max(1, cur.start + cur.count - nxt.start)
            a = motion.ease((k - nxt.start + 1) / (overlap + 1))
            cv2.addWeighted(y, 1.0 - a, sy, a, 0.0, dst=y)
            cv2.addWeighted(uv, 1.0 - a, suv, a, 0.0, dst=uv)
        t = k / spec.fps
        if self.title is not None and t < spec.title_s:
            from backends.local.overlay import blend

            fade = min(0.5, spec.title_s / 4)
            rise = min(1.0, (t + 1 / spec.fps) / fade) if fade else 1.0
            fall = min(1.0, (spec.title_s - t) / fade) if fade else 1.0
            blend(self.title, y, uv, motion.ease(min(rise, fall)))
        gain = 1.0
        if spec.fade_in_s > 0 and t < spec.fade_in_s:
            gain = motion.ease(t / spec.fade_in_s)
        end = spec.frames / spec.fps - 1 / spec.fps
        if spec.fade_out_s > 0 and end - t < spec.fade_out_s:
            gain = min(gain, motion.ease(max(0.0, end - t) / spec.fade_out_s))
        if gain < 1.0:
            # Towards black in limited range: Y → 16, Cb/Cr → 128.
            cv2.convertScaleAbs(y, dst=y, alpha=gain, beta=16.0 * (1.0 - gain))
            cv2.convertScaleAbs(uv, dst=uv, alpha=gain, beta=128.0 * (1.0 - gain))


def _planes(buf: NDArray[np.uint8], h: int) -> tuple[NDArray[np.uint8], NDArray[np.uint8]]:
    """The plane rows of an NV12 buffer (h×w): Y (h rows), then interleaved chroma (h/2)."""
    return buf[:h], buf[h:]


def _frame_planes(vf: av.VideoFrame, h: int) -> tuple[NDArray[np.uint8], NDArray[np.uint8]]:
    """Writable plane rows of an NV12 `VideoFrame`, padding included (`line_size` wide)."""
    import numpy as np

    luma, chroma = vf.planes[0], vf.planes[1]
    y = np.frombuffer(memoryview(luma), dtype=np.uint8).reshape(h, luma.line_size)
    uv = np.frombuffer(memoryview(chroma), dtype=np.uint8).reshape(h // 2, chroma.line_size)
    return y, uv


def _views(
    y_rows: NDArray[np.uint8], uv_rows: NDArray[np.uint8], w: int, h: int
) -> tuple[NDArray[np.uint8], NDArray[np.uint8]]:
    """The pictures in plane rows: Y (h×w) and chroma (h/2 × w/2 × 2, Cb and Cr)."""
    return y_rows[:h, :w], uv_rows[: h // 2, :w].reshape(h // 2, w // 2, 2)


_DONE = object()


def _produce(
    make: Callable[[int], Any], n: int, q: queue.Queue[Any], stop: threading.Event
) -> None:
    try:
        for k in range(n):
            item = make(k)
            while not stop.is_set():
                try:
                    q.put(item, timeout=0.2)
                    break
                except queue.Full:
                    continue
            if stop.is_set():
                return
        q.put(_DONE)
    except BaseException as exc:  # handed to the consumer, which re-raises it
        q.put(exc)


def produced(make: Callable[[int], Any], n: int, depth: int = 6) -> Iterator[Any]:
    """`make(0..n-1)` computed on a worker thread, `depth` ahead of the consumer."""
    q: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()
    worker = threading.Thread(target=_produce, args=(make, n, q, stop), daemon=True)
    worker.start()
    try:
        while True:
            item = q.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        worker.join()


def open_output(path: Path, spec: RenderSpec) -> tuple[Any, Any]:
    """An MP4 container with a tuned x264 stream: (container, video stream)."""
    import av

    container = av.open(
        str(path), mode="w", format="mp4", container_options={"movflags": "+faststart"}
    )
    rate = spec.max_bitrate_kbps
    stream = container.add_stream(
        "libx264",
        rate=spec.fps,
        options={
            "preset": spec.preset,
            "crf": str(spec.crf),
            "maxrate": f"{rate}k",
            "bufsize": f"{rate * 2}k",
            "x264-params": "colorprim=bt709:transfer=bt709:colormatrix=bt709:range=tv",
        },
    )
    stream.width, stream.height = spec.width, spec.height
    # NV12 is x264's own layout (no conversion inside it); the stream is 4:2:0 8-bit
    # High profile, which players and probes report as yuv420p.
    stream.pix_fmt = "nv12"
    stream.thread_type = "FRAME"
    cc = stream.codec_context
    cc.color_range = 1  # MPEG (limited)
    cc.colorspace = 1  # BT.709
    cc.color_primaries = 1
    cc.color_trc = 1
    return container, stream


def render(spec: RenderSpec, out: Path, progress: Progress | None = None) -> RenderResult:
    """Render `spec` to the MP4 `out`; raises `BadInput` for bad photos or music and
    `RenderFailed` if encoding fails."""
    import av

    if not spec.slides:
        raise RenderFailed("There is no photo to render.")
    if spec.width % 2 or spec.height % 2:
        raise RenderFailed("Output dimensions must be even.")
    frames = _Frames(spec)
    n = spec.frames
    tmp = out.with_name(out.name + ".part")
    try:
        container, stream = open_output(tmp, spec)
        with container:
            audio_packets: list[Any] = []
            if spec.music is not None:
                from backends.local import audio

                pcm = audio.load(spec.music, n / spec.fps, spec.music_volume)
                astream = container.add_stream("aac", rate=audio.RATE)
                astream.layout = "stereo"
                astream.bit_rate = 160_000
                audio_packets = audio.encode(astream, pcm)
            ai = 0

            def mux_audio_until(seconds: float) -> None:
                nonlocal ai
                while ai < len(audio_packets):
                    pkt = audio_packets[ai]
                    if pkt.pts is not None and float(pkt.pts * pkt.time_base) > seconds:
                        break
                    container.mux(pkt)
                    ai += 1

            time_base = Fraction(1, spec.fps)
            for k, vf in enumerate(produced(frames.video_frame, n)):
                vf.pts = k
                vf.time_base = time_base
                vf.color_range = 1
                vf.colorspace = 1
                container.mux(stream.encode(vf))
                mux_audio_until(k / spec.fps)
                if progress is not None:
                    progress(k + 1, n)
            container.mux(stream.encode(None))
            mux_audio_until(float("inf"))
        tmp.replace(out)
    except (BadInput, RenderFailed):
        tmp.unlink(missing_ok=True)
        raise
    except (av.FFmpegError, OSError, ValueError, RuntimeError) as exc:
        tmp.unlink(missing_ok=True)
        log.exception("render failed")
        raise RenderFailed(f"The render failed: {exc}") from exc
    finally:
        frames.close()
    return RenderResult(out, spec.width, spec.height, n / spec.fps, n, out.stat().st_size)

"""The still: one photo turned once into the planes every frame is warped from.

The photo is cover-cropped to the output's aspect, or — when its shape differs a lot —
laid over a blurred, darkened fill of itself; made as large as the deepest zoom needs and
no larger; then converted once to BT.709 limited-range Y'CbCr, with chroma at half size,
so each frame is just two warps of ready planes (luma, and interleaved chroma).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from backends.local import images
from backends.local.faces import Box

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray
    from PIL import Image

Fit = Literal["cover", "fill"]

#: Shapes further apart than this (ratio of aspect ratios) get the blurred fill.
FILL_THRESHOLD = 1.35

# BT.709 luma weights.
KR, KB = 0.2126, 0.0722
KG = 1.0 - KR - KB


def even(x: float) -> int:
    """The nearest even integer, at least 2."""
    return max(2, 2 * round(x / 2.0))


@dataclass(frozen=True, slots=True)
class Still:
    """Y at full size and Cb, Cr interleaved at half size (NV12's layout), uint8, limited
    range; `subject` is where the faces are in it (None: none found or not looked for)."""

    y: NDArray[np.uint8]
    uv: NDArray[np.uint8]
    fit: Fit
    subject: Box | None = None

    @property
    def width(self) -> int:
        """Width of the luma plane."""
        return int(self.y.shape[1])

    @property
    def height(self) -> int:
        """Height of the luma plane."""
        return int(self.y.shape[0])


def choose_fit(photo_w: int, photo_h: int, out_w: int, out_h: int) -> Fit:
    """Cover-crop when the shapes are close, blurred fill when cropping would lose much."""
    ratio = (photo_w / photo_h) / (out_w / out_h)
    return "cover" if max(ratio, 1.0 / ratio) <= FILL_THRESHOLD else "fill"


def rgb_to_yuv709(rgb: NDArray[np.uint8]) -> tuple[NDArray[np.uint8], ...]:
    """Full-range 8-bit RGB → limited-range BT.709 Y (full size), Cb and Cr (half size)."""
    import cv2
    import numpy as np

    ky = 219.0 / 255.0
    kc = 224.0 / 255.0
    m = np.array(
        [
            [KR * ky, KG * ky, KB * ky, 16.0],
            [-KR / (2 - 2 * KB) * kc, -KG / (2 - 2 * KB) * kc, 0.5 * kc, 128.0],
            [0.5 * kc, -KG / (2 - 2 * KR) * kc, -KB / (2 - 2 * KR) * kc, 128.0],
        ],
        dtype=np.float32,
    )
    ycc = cv2.transform(rgb, m)
    h, w = ycc.shape[:2]
    y = np.ascontiguousarray(ycc[:, :, 0], dtype=np.uint8)
    uv = cv2.resize(ycc[:, :, 1:], (w // 2, h // 2), interpolation=cv2.INTER_AREA)
    u = np.ascontiguousarray(uv[:, :, 0], dtype=np.uint8)
    return y, u, np.ascontiguousarray(uv[:, :, 1], dtype=np.uint8)


def _resize(photo: Image.Image, w: int, h: int) -> Image.Image:
    """Area averaging to shrink (fast, no aliasing), bicubic to enlarge."""
    import cv2
    import numpy as np
    from PIL import Image

    if (w, h) == photo.size:
        return photo
    shrink = w <= photo.width and h <= photo.height
    method = cv2.INTER_AREA if shrink else cv2.INTER_CUBIC
    return Image.fromarray(cv2.resize(np.asarray(photo), (w, h), interpolation=method))


def window(size: int, span: int, lo: float, hi: float) -> int:
    """Where a window of `span` pixels starts in `size` so that it holds [lo, hi] centred
    (as far as the edges allow); a centred window when lo > hi (nothing to hold)."""
    centre = (lo + hi) / 2 if lo <= hi else size / 2
    return min(size - span, max(0, round(centre - span / 2)))


def _compose(
    photo: Image.Image, cw: int, ch: int, fit: Fit, subject: Box | None = None
) -> tuple[Image.Image, Box | None]:
    """The canvas (cw×ch) and where `subject` (fractions of the photo) lands on it."""
    from PIL import Image, ImageFilter

    pw, ph = photo.size
    if fit == "cover":
        s = max(cw / pw, ch / ph)
        sw, sh = max(cw, round(pw * s)), max(ch, round(ph * s))
        scaled = _resize(photo, sw, sh)
        box = subject or Box(1, 1, 0, 0)  # an empty box: the centre
        left = window(sw, cw, box.x0 * sw, box.x1 * sw)
        top = window(sh, ch, box.y0 * sh, box.y1 * sh)
        placed = subject.mapped(
            lambda x: (x * sw - left) / cw, lambda y: (y * sh - top) / ch
        ) if subject else None  # fmt: skip
        return scaled.crop((left, top, left + cw, top + ch)), placed
    s = min(cw / pw, ch / ph)
    fw, fh = max(1, round(pw * s)), max(1, round(ph * s))
    fg = _resize(photo, fw, fh)
    # The fill: the photo itself, cover-cropped small, blurred hard and darkened.
    small_w, small_h = max(8, cw // 16), max(8, ch // 16)
    bs = max(small_w / pw, small_h / ph)
    bw, bh = max(small_w, math.ceil(pw * bs)), max(small_h, math.ceil(ph * bs))
    bg = fg.resize((bw, bh), Image.Resampling.BILINEAR, reducing_gap=2.0)
    bl, bt = (bw - small_w) // 2, (bh - small_h) // 2
    bg = bg.crop((bl, bt, bl + small_w, bt + small_h))
    bg = bg.filter(ImageFilter.GaussianBlur(radius=max(2, small_w // 12)))
    bg = bg.point(lambda v: int(v * 0.55))
    canvas = bg.resize((cw, ch), Image.Resampling.BICUBIC)
    left, top = (cw - fw) // 2, (ch - fh) // 2
    canvas.paste(fg, (left, top))
    placed = subject.mapped(
        lambda x: (left + x * fw) / cw, lambda y: (top + y * fh) / ch
    ) if subject else None  # fmt: skip
    return canvas, placed


def build(path: Path, out_w: int, out_h: int, zoom: float, *, faces: bool = True) -> Still:
    """Build the still for an `out_w`×`out_h` output whose deepest zoom is `zoom`; with
    `faces`, a cover crop keeps the photo's faces in and `Still.subject` says where they
    are.

    Its aspect is the output's (to within rounding to even sizes).
    """
    import numpy as np

    # The still has the output's aspect, `zoom` times larger: 1:1 pixels at the deepest
    # point of the move, a mild downscale elsewhere.
    cw, ch = even(out_w * zoom), even(out_h * zoom)
    chosen: list[Fit] = []

    def need(pw: int, ph: int) -> tuple[int, int]:
        fit = choose_fit(pw, ph, out_w, out_h)
        chosen.append(fit)
        s = max(cw / pw, ch / ph) if fit == "cover" else min(cw / pw, ch / ph)
        return math.ceil(pw * s), math.ceil(ph * s)

    photo = images.load(path, need)
    fit = chosen[0]
    pw, ph = photo.size
    up = max(cw / pw, ch / ph) if fit == "cover" else min(cw / pw, ch / ph)
    if up > 1.0:
        # The photo has fewer pixels than the deepest zoom could show: a smaller still
        # (never below the output) looks the same and costs less per frame.
        shrink = max(1.0 / zoom, 1.0 / up)
        cw, ch = max(out_w, even(cw * shrink)), max(out_h, even(ch * shrink))
    subject = None
    if faces:
        from backends.local import faces as face_finder

        found = face_finder.detect(np.asarray(photo))
        # The window the crop keeps, as a fraction of the photo on each side.
        s = max(cw / pw, ch / ph) if fit == "cover" else min(cw / pw, ch / ph)
        subject = face_finder.subject(found, cw / (pw * s), ch / (ph * s))
    canvas, placed = _compose(photo, cw, ch, fit, subject)
    photo.close()
    y, u, v = rgb_to_yuv709(np.asarray(canvas))
    return Still(y, np.ascontiguousarray(np.dstack([u, v])), fit, placed)

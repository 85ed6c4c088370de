"""The title: drawn once with Pillow, blended per frame in Y'CbCr with a fade."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray
    from PIL import ImageFont

# The title font ships as a Python package (Noto Sans CJK, SIL Open Font License): it
# draws Latin with accents, Chinese, Japanese and Korean the same on every machine, with
# no system font to install. Faces in the collection: JP, KR, SC, TC, HK.
_SIMPLIFIED_CHINESE_FACE = 2
_WEIGHT = "Bold"

Font: TypeAlias = "ImageFont.FreeTypeFont | ImageFont.ImageFont"


def _missing(font: Font, text: str) -> str:
    from PIL import Image

    def drawn(ch: str) -> bytes:
        mask = font.getmask(ch)
        return Image.frombytes("L", mask.size, bytes(mask)).tobytes() if mask.size[0] else b""

    # A code point no font has: its drawing is the font's "missing glyph" box.
    box = drawn("\U0010fffd")
    return "".join(sorted({ch for ch in text if not ch.isspace() and drawn(ch) == box}))


@functools.lru_cache(maxsize=1)
def font_path() -> Path | None:
    """The bundled title font's file; None if the package is missing (then Pillow's own
    basic-Latin font is used)."""
    try:
        import manimgx_fonts_cjk
    except ImportError:
        return None
    path = Path(manimgx_fonts_cjk.__file__).parent / "NotoSansCJK-VF.otf.ttc"
    return path if path.is_file() else None


def _font(size: int) -> Font:
    from PIL import ImageFont

    path = font_path()
    if path is None:
        return ImageFont.load_default(size=size)
    font = ImageFont.truetype(str(path), size, index=_SIMPLIFIED_CHINESE_FACE)
    font.set_variation_by_name(_WEIGHT)
    return font


def missing_glyphs(text: str) -> str:
    """The characters of `text` the title font cannot draw (they would show as boxes)."""
    return _missing(_font(32), text)


@dataclass(frozen=True, slots=True)
class Title:
    """A title's planes: Y and alpha at full size, interleaved Cb/Cr and alpha at half
    size, placed at (`x`, `y`) in the frame (both even)."""

    x: int
    y: int
    luma: NDArray[np.float32]
    alpha: NDArray[np.float32]
    chroma: NDArray[np.float32]
    alpha_half: NDArray[np.float32]


def make_title(text: str, frame_w: int, frame_h: int) -> Title:
    """Draw `text` centred in the lower third, as large as fits the frame's width."""
    import numpy as np
    from PIL import Image, ImageDraw

    from backends.local.still import rgb_to_yuv709

    size = max(12, round(min(frame_w, frame_h) * 0.09))
    probe = ImageDraw.Draw(Image.new("L", (1, 1)))
    while True:
        font = _font(size)
        stroke = max(1, size // 14)
        left, top, right, bottom = probe.textbbox((0, 0), text, font=font, stroke_width=stroke)
        if right - left <= frame_w * 0.88 or size <= 12:
            break
        size = max(12, int(size * 0.9))
    pad = stroke + 2
    w = min(frame_w, (right - left) + 2 * pad)
    h = min(frame_h, (bottom - top) + 2 * pad)
    w, h = int(w), int(h)
    w, h = w + (w & 1), h + (h & 1)
    img = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    ImageDraw.Draw(img).text(
        (pad - left, pad - top),
        text,
        font=font,
        fill=(255, 255, 255, 255),
        stroke_width=stroke,
        stroke_fill=(0, 0, 0, 255),
    )
    rgba = np.asarray(img)
    y, cb, cr = rgb_to_yuv709(np.ascontiguousarray(rgba[:, :, :3]))
    alpha = rgba[:, :, 3].astype(np.float32) / 255.0
    alpha_half = alpha.reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))
    x0 = ((frame_w - w) // 2) & ~1
    y0 = min(frame_h - h, round(frame_h * 0.78 - h / 2)) & ~1

    return Title(
        max(0, x0),
        max(0, y0),
        y.astype(np.float32),
        alpha,
        np.dstack([cb, cr]).astype(np.float32),
        alpha_half.astype(np.float32)[:, :, None],
    )


def blend(title: Title, y: NDArray[np.uint8], uv: NDArray[np.uint8], k: float) -> None:
    """Blend the title into the frame planes in place, at opacity `k` (0..1)."""
    import numpy as np

    if k <= 0.0:
        return
    th, tw = title.luma.shape
    ys = y[title.y : title.y + th, title.x : title.x + tw]
    a = title.alpha * k
    ys[...] = np.rint(ys * (1.0 - a) + title.luma * a).astype(np.uint8)
    cx, cy = title.x // 2, title.y // 2
    ah = title.alpha_half * k
    cs = uv[cy : cy + th // 2, cx : cx + tw // 2]
    cs[...] = np.rint(cs * (1.0 - ah) + title.chroma * ah).astype(np.uint8)

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

# Pillow's default font draws basic Latin only (no accents, no CJK): for other text the
# first of these fonts found on the machine that draws every character is used.
_FALLBACK_FONTS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/TTF/DejaVuSans-Bold.ttf",
    "/System/Library/Fonts/PingFang.ttc",
    "/System/Library/Fonts/STHeiti Medium.ttc",
    "/Library/Fonts/Arial Unicode.ttf",
    "C:/Windows/Fonts/msyh.ttc",
    "C:/Windows/Fonts/arialbd.ttf",
)

Font: TypeAlias = "ImageFont.FreeTypeFont | ImageFont.ImageFont"


def _missing(font: Font, text: str) -> str:
    from PIL import Image

    def drawn(ch: str) -> bytes:
        mask = font.getmask(ch)
        return Image.frombytes("L", mask.size, bytes(mask)).tobytes() if mask.size[0] else b""

    # A code point no font has: its drawing is the font's "missing glyph" box.
    box = drawn("\U0010fffd")
    return "".join(sorted({ch for ch in text if not ch.isspace() and drawn(ch) == box}))


@functools.lru_cache(maxsize=64)
def _font_path(text: str) -> str | None:
    """The font file for `text`; None means Pillow's default font."""
    from PIL import ImageFont

    if not _missing(ImageFont.load_default(size=32), text):
        return None
    for candidate in _FALLBACK_FONTS:
        if Path(candidate).exists() and not _missing(ImageFont.truetype(candidate, 32), text):
            return candidate
    return None


def _font(text: str, size: int) -> Font:
    from PIL import ImageFont

    path = _font_path(text)
    return ImageFont.load_default(size=size) if path is None else ImageFont.truetype(path, size)


def missing_glyphs(text: str) -> str:
    """The characters of `text` no available font can draw (they would show as boxes)."""
    return _missing(_font(text, 32), text)


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

    from bot.local.still import rgb_to_yuv709

    size = max(12, round(min(frame_w, frame_h) * 0.09))
    probe = ImageDraw.Draw(Image.new("L", (1, 1)))
    while True:
        font = _font(text, size)
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

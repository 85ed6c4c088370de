"""The title: drawn once with Pillow, blended per frame in Y'CbCr with a fade."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray
    from PIL import ImageFont

# Pillow's default font has no CJK glyphs; a system CJK font is used when one exists.
_CJK_FONTS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/System/Library/Fonts/PingFang.ttc",
    "C:/Windows/Fonts/msyh.ttc",
)


@dataclass(frozen=True, slots=True)
class Title:
    """A title's planes: Y and alpha at full size, Cb, Cr and alpha at half size, placed
    at (`x`, `y`) in the frame (both even)."""

    x: int
    y: int
    luma: NDArray[np.float32]
    alpha: NDArray[np.float32]
    cb: NDArray[np.float32]
    cr: NDArray[np.float32]
    alpha_half: NDArray[np.float32]


def _font(text: str, size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    from PIL import ImageFont

    if any(ord(ch) > 0x2E7F for ch in text):
        for candidate in _CJK_FONTS:
            if Path(candidate).exists():
                return ImageFont.truetype(candidate, size)
    return ImageFont.load_default(size=size)


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
        cb.astype(np.float32),
        cr.astype(np.float32),
        alpha_half.astype(np.float32),
    )


def blend(
    title: Title, y: NDArray[np.uint8], u: NDArray[np.uint8], v: NDArray[np.uint8], k: float
) -> None:
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
    for plane, src in ((u, title.cb), (v, title.cr)):
        ps = plane[cy : cy + th // 2, cx : cx + tw // 2]
        ps[...] = np.rint(ps * (1.0 - ah) + src * ah).astype(np.uint8)

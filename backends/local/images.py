"""Loading photos safely: every odd format a phone or a chat sends, reduced early.

Bad input raises `BadImage` with a message fit for the user. Memory stays bounded: the
size is checked from the header before any decoding, and big JPEGs are decoded at a
reduced scale (`Image.draft`) to about what the output needs.
"""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bot.errors import BadImage

if TYPE_CHECKING:
    from PIL import Image

log = logging.getLogger(__name__)

#: Below this on either side a picture cannot make a clip.
MIN_SIDE = 32
#: Most pixels we accept; JPEGs are decoded reduced, so they may be larger.
MAX_PIXELS = 50_000_000
MAX_PIXELS_JPEG = 120_000_000

#: A JPEG may be decoded at a reduced scale giving this fraction of the pixels needed.
DRAFT_SLACK = 0.85

_heif_registered = False


@dataclass(frozen=True, slots=True)
class ImageInfo:
    """What the header says about a photo, after EXIF orientation."""

    width: int
    height: int
    format: str


def _register_heif() -> None:
    global _heif_registered
    if not _heif_registered:
        import pillow_heif

        pillow_heif.register_heif_opener()
        _heif_registered = True


def _open(path: Path) -> Image.Image:
    """Open (header only) and check the size, or raise `BadImage`."""
    from PIL import Image, UnidentifiedImageError

    _register_heif()
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise BadImage("image_unreadable") from exc
    if size == 0:
        raise BadImage("image_empty")
    try:
        with warnings.catch_warnings():
            # Our own pixel limit below is the one that counts.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(path)
    except Image.DecompressionBombError as exc:
        found = re.search(r"\((\d+) pixels\)", str(exc))
        mp = int(found.group(1)) // 1_000_000 if found else MAX_PIXELS * 10 // 1_000_000
        raise BadImage("image_bomb", megapixels=mp, limit=MAX_PIXELS // 1_000_000) from exc
    except UnidentifiedImageError as exc:
        raise BadImage("image_not_a_picture") from exc
    except (OSError, ValueError, SyntaxError) as exc:
        raise BadImage("image_damaged") from exc
    w, h = img.size
    limit = MAX_PIXELS_JPEG if img.format == "JPEG" else MAX_PIXELS
    if w * h > limit:
        img.close()
        raise BadImage("image_too_large", width=w, height=h, limit=limit // 1_000_000)
    if min(w, h) < MIN_SIDE:
        img.close()
        raise BadImage("image_too_small", width=w, height=h, min_side=MIN_SIDE)
    return img


def _oriented_size(img: Image.Image) -> tuple[int, int]:
    orientation = img.getexif().get(0x0112, 1)
    w, h = img.size
    return (h, w) if orientation in (5, 6, 7, 8) else (w, h)


def inspect(path: Path) -> ImageInfo:
    """Check a photo fully (cheaply) and return its oriented size, or raise `BadImage`."""
    img = _open(path)
    with img:
        w, h = _oriented_size(img)
        fmt = img.format or "?"
        # Decode once at the smallest scale the format allows, to find truncation.
        img.draft("RGB", (max(MIN_SIDE, w // 8), max(MIN_SIDE, h // 8)))
        try:
            img.load()
        except (OSError, ValueError, SyntaxError) as exc:
            log.info("bad image %s: %s", path.name, exc)
            raise BadImage("image_truncated") from exc
    return ImageInfo(w, h, fmt)


def animated(path: Path) -> bool:
    """Whether the file is a picture with more than one frame (an animated GIF); False
    for anything Pillow cannot open (`inspect` then says why)."""
    try:
        img = _open(path)
    except BadImage:
        return False
    with img:
        return bool(getattr(img, "is_animated", False))


def _to_rgb(img: Image.Image) -> Image.Image:
    """Flatten any mode (CMYK, 16-bit, palette, transparency) to 8-bit RGB."""
    from PIL import Image

    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        import numpy as np

        arr = np.asarray(img, dtype=np.uint32)
        # 16-bit grey: keep the top byte; 32-bit "I" may hold 16-bit data too.
        peak = 65535 if img.mode != "I" or int(arr.max(initial=0)) > 255 else 255
        arr8 = (arr * 255 // peak).clip(0, 255).astype(np.uint8)
        img = Image.fromarray(arr8, mode="L")
    if img.mode == "F":
        img = img.convert("L")
    has_alpha = img.mode in ("RGBA", "LA", "PA", "La", "RGBa") or (
        img.mode in ("P", "L", "RGB") and "transparency" in img.info
    )
    if has_alpha:
        rgba = img.convert("RGBA")
        # Transparent parts become white, as a photo viewer shows them.
        flat = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        flat.alpha_composite(rgba)
        return flat.convert("RGB")
    return img.convert("RGB") if img.mode != "RGB" else img


def load(path: Path, need: Callable[[int, int], tuple[int, int]]) -> Image.Image:
    """Load a photo as 8-bit RGB, upright, no smaller than `need(width, height)` where the
    photo allows (big JPEGs are decoded at a reduced scale); raises `BadImage`."""
    from PIL import ImageOps

    img = _open(path)
    try:
        w, h = _oriented_size(img)
        need_w, need_h = need(w, h)
        if (w, h) != img.size:  # the photo is stored sideways
            need_w, need_h = need_h, need_w
        if img.format == "JPEG":
            # Decoding at 1/2, 1/4 or 1/8 scale is far cheaper; accept a scale a little
            # under the need (the still is then made slightly smaller, not blurrier).
            img.draft("RGB", (int(need_w * DRAFT_SLACK), int(need_h * DRAFT_SLACK)))
        img.seek(0)  # animated GIF, multi-frame TIFF or HEIC: the first picture
        img.load()
        upright = ImageOps.exif_transpose(img)
        out = _to_rgb(upright)
        out.load()
        return out
    except BadImage:
        raise
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        log.info("bad image %s: %s", path.name, exc)
        raise BadImage("image_truncated") from exc
    finally:
        img.close()

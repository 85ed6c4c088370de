"""Sub-pixel warps of a still plane into a frame plane.

Zoom, pan and breathing map output pixels to still pixels by a scale and a shift only, so
the bilinear warp is separable: a horizontal pass, then a vertical one, each a blend of
two neighbours with 8-bit weights (1/256 pixel, finer than OpenCV's 1/32). Both passes
read and write whole rows, which LLVM vectorises: the horizontal pass runs over the still
stored transposed (its columns are rows there), and the intermediate is transposed back
once. That is about a quarter of the CPU of `cv2.warpAffine` (2.0 against 6.8 ms for a
1080×1920 luma plane, 0.95 against 4.4 ms for its chroma), whose per-pixel gathers do not
vectorise; it matters because the renderer shares two cores with x264. Moves with rotation
use `cv2.warpAffine`.

Numba compiles the kernels on first use (about a second, once) and caches them on disk
beside this file, or in its user cache (or `NUMBA_CACHE_DIR`) where that is read-only;
later processes load them in a fraction of that. With nowhere writable, they are compiled
in each process instead (logged).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar, cast

import numba
import numpy as np

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from backends.local.motion import Affine

    Bytes: TypeAlias = NDArray[np.uint8]
    Words: TypeAlias = NDArray[np.uint16]
    Ints: TypeAlias = NDArray[np.int32]
    Weights: TypeAlias = NDArray[np.uint16]

F = TypeVar("F", bound=Callable[..., Any])

log = logging.getLogger(__name__)

#: Output rows warped together: the intermediate (about 128 × 1080 × 2 bytes for luma)
#: stays in the core's cache. 128 measured fastest of 32–256 here, 1.7 ms a 1080×1920
#: frame (luma and chroma) against 2.9 ms in one piece.
BAND = 128


def _kernel(fn: F) -> F:
    """Compiled to machine code, cached on disk, and free of the GIL while it runs."""
    try:
        return cast(F, numba.njit(cache=True, nogil=True, boundscheck=False)(fn))
    except RuntimeError as exc:  # nowhere writable for the cache (Numba's own check)
        log.warning("render kernels not cached, compiled in each process instead: %s", exc)
        return cast(F, numba.njit(cache=False, nogil=True, boundscheck=False)(fn))


@_kernel
def _taps(a: float, b: float, size: int, idx: Ints, frac: Weights) -> None:
    """For output positions i: the left neighbour `idx[i]` and its partner's weight
    `frac[i]` (of 256) of the source position a·i + b, clamped to the edge."""
    top = size - 1.0
    for i in range(idx.shape[0]):
        p = a * i + b
        p = min(max(p, 0.0), top)
        k = min(int(p), size - 2)
        idx[i] = k
        frac[i] = int((p - k) * 256.0 + 0.5)


@_kernel
def _columns(st: Bytes, tt: Words, xi: Ints, xf: Weights, lo: int, hi: int) -> None:
    """Horizontal pass on the transposed still `st`: row x of `tt` blends still columns
    xi[x] and xi[x] + 1 over the row span [lo, hi) (channels interleaved)."""
    for x in range(tt.shape[0]):
        f = np.uint16(xf[x])
        g = np.uint16(256) - f
        a = st[xi[x], lo:hi]
        b = st[xi[x] + 1, lo:hi]
        t = tt[x]
        for j in range(hi - lo):
            t[j] = np.uint16(a[j]) * g + np.uint16(b[j]) * f


@_kernel
def _rows(t: Words, dst: Bytes, yi: Ints, yf: Weights, first: int, width: int) -> None:
    """Vertical pass: row y of `dst` (its first `width` bytes) blends rows yi[y] and
    yi[y] + 1 of the intermediate `t`, which starts at still row `first`."""
    half = np.uint32(1 << 15)
    for y in range(yi.shape[0]):
        f = np.uint32(yf[y])
        g = np.uint32(256) - f
        a = t[yi[y] - first]
        b = t[yi[y] + 1 - first]
        o = dst[y]
        for x in range(width):
            o[x] = np.uint8((np.uint32(a[x]) * g + np.uint32(b[x]) * f + half) >> 16)


def separable(m: Affine) -> bool:
    """Whether the pixel matrix `m` only scales and shifts (no rotation or shear)."""
    return m[0][1] == 0.0 and m[1][0] == 0.0 and m[0][0] > 0.0 and m[1][1] > 0.0


class PlaneWarper:
    """Warps one still plane (h×w, or h×w×2 interleaved chroma) into frame planes."""

    def __init__(self, plane: NDArray[np.uint8]) -> None:
        if plane.dtype != np.uint8 or plane.ndim not in (2, 3):
            raise ValueError(f"a still plane is 8-bit h×w or h×w×channels, not {plane.dtype}")
        self.plane = plane
        self.channels = 1 if plane.ndim == 2 else int(plane.shape[2])
        self._transposed: NDArray[np.uint8] | None = None
        self._buffers: tuple[NDArray[np.uint16], NDArray[np.uint16]] | None = None

    @property
    def height(self) -> int:
        """Rows of the still plane."""
        return int(self.plane.shape[0])

    @property
    def width(self) -> int:
        """Columns (pixels) of the still plane."""
        return int(self.plane.shape[1])

    def warp(self, m: Affine, dst: NDArray[np.uint8], out_w: int, out_h: int) -> None:
        """Warp into the 2-D byte rows `dst` (a frame plane, padding included: best
        C-contiguous), whose first `out_h` rows and `out_w` pixels (× channels) are
        written: dst(x, y) = still(m · (x, y, 1)), bilinear, edges repeated."""
        too_small = dst.shape[0] < out_h or dst.shape[1] < out_w * self.channels
        if dst.dtype != np.uint8 or dst.ndim != 2 or too_small:
            raise ValueError(f"destination {dst.shape} cannot hold {out_w}×{out_h}")
        if not all(math.isfinite(v) for row in m for v in row):
            raise ValueError(f"not a finite matrix: {m}")
        if not separable(m) or min(self.width, self.height) < 2:
            self._warp_affine(m, dst, out_w, out_h)
            return
        import cv2

        (ax, _, bx), (_, ay, by) = m
        ch = self.channels
        xi = np.empty(out_w, np.int32)
        xf = np.empty(out_w, np.uint16)
        yi = np.empty(out_h, np.int32)
        yf = np.empty(out_h, np.uint16)
        _taps(ax, bx, self.width, xi, xf)
        _taps(ay, by, self.height, yi, yf)
        still_t = self._still_t()
        # In bands of output rows, so that the intermediate stays in cache.
        for y0 in range(0, out_h, BAND):
            y1 = min(out_h, y0 + BAND)
            first = int(yi[y0])  # rows only go down the still (ay > 0)
            n = int(yi[y1 - 1]) + 2 - first
            tt_buf, t_buf = self._scratch(out_w * n * ch)
            tt = tt_buf[: out_w * n * ch].reshape(out_w, n * ch)
            _columns(still_t, tt, xi, xf, first * ch, (first + n) * ch)
            t = t_buf[: out_w * n * ch]
            if ch == 1:
                cv2.transpose(tt, dst=t.reshape(n, out_w))
            else:
                cv2.transpose(tt.reshape(out_w, n, ch), dst=t.reshape(n, out_w, ch))
            _rows(t.reshape(n, out_w * ch), dst[y0:y1], yi[y0:y1], yf[y0:y1], first, out_w * ch)

    def _still_t(self) -> NDArray[np.uint8]:
        """The still with rows and columns swapped (channels kept together), made once."""
        if self._transposed is None:
            planes = self.plane.reshape(self.height, self.width, self.channels)
            swapped = planes.transpose(1, 0, 2)
            self._transposed = np.ascontiguousarray(swapped).reshape(self.width, -1)
        return self._transposed

    def _scratch(self, size: int) -> tuple[NDArray[np.uint16], NDArray[np.uint16]]:
        """Two intermediate buffers of at least `size` words."""
        if self._buffers is None or self._buffers[0].size < size:
            self._buffers = (np.empty(size, np.uint16), np.empty(size, np.uint16))
        return self._buffers

    def _warp_affine(self, m: Affine, dst: NDArray[np.uint8], out_w: int, out_h: int) -> None:
        import cv2

        view = dst[:out_h, : out_w * self.channels]
        if self.channels > 1:
            view = view.reshape(out_h, out_w, self.channels)
        cv2.warpAffine(
            self.plane,
            np.array(m, dtype=np.float64),
            (out_w, out_h),
            dst=view,
            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_REPLICATE,
        )

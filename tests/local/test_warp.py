"""The separable sub-pixel warp against OpenCV's `warpAffine` (the reference bilinear)."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backends.local.warp import PlaneWarper, separable


def _reference(plane: np.ndarray, m: tuple[tuple[float, ...], ...], w: int, h: int) -> np.ndarray:
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    matrix = np.array(m, dtype=np.float64)
    return np.asarray(
        cv2.warpAffine(plane, matrix, (w, h), flags=flags, borderMode=cv2.BORDER_REPLICATE)
    )


def _exact(plane: np.ndarray, m: tuple[tuple[float, ...], ...], w: int, h: int) -> np.ndarray:
    """Bilinear interpolation in floating point, edges repeated (OpenCV's definition)."""
    (ax, _, bx), (_, ay, by) = m
    p = plane.astype(np.float64).reshape(plane.shape[0], plane.shape[1], -1)

    def taps(a: float, b: float, n: int, size: int) -> tuple[np.ndarray, np.ndarray]:
        pos = np.clip(a * np.arange(n) + b, 0.0, size - 1.0)
        k = np.minimum(np.floor(pos).astype(int), size - 2)
        return k, pos - k

    xk, xf = taps(ax, bx, w, plane.shape[1])
    yk, yf = taps(ay, by, h, plane.shape[0])
    rows = p[yk] * (1 - yf)[:, None, None] + p[yk + 1] * yf[:, None, None]
    out = rows[:, xk] * (1 - xf)[None, :, None] + rows[:, xk + 1] * xf[None, :, None]
    return np.asarray(out.reshape((h, w, *plane.shape[2:])))


def _texture(h: int, w: int, channels: int, seed: int) -> np.ndarray:
    """Smooth-ish random detail, as a photo has (pure noise would only test rounding)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (max(2, h // 3), max(2, w // 3), channels), dtype=np.uint8)
    big = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    return np.asarray(big).reshape((h, w, channels) if channels > 1 else (h, w))


@settings(max_examples=60, deadline=None)
@given(
    sw=st.integers(2, 90),
    sh=st.integers(2, 90),
    w=st.integers(1, 70),
    h=st.integers(1, 70),
    ax=st.floats(0.2, 3.0),
    ay=st.floats(0.2, 3.0),
    bx=st.floats(-20.0, 60.0),
    by=st.floats(-20.0, 60.0),
    channels=st.sampled_from([1, 2]),
    pad=st.integers(0, 9),
    seed=st.integers(0, 2**16),
)
def test_separable_warp_matches_opencv_bilinear(
    sw: int, sh: int, w: int, h: int, ax: float, ay: float, bx: float, by: float,
    channels: int, pad: int, seed: int,
) -> None:  # fmt: skip
    plane = _texture(sh, sw, channels, seed)
    m = ((ax, 0.0, bx), (0.0, ay, by))
    # A frame plane: rows wider than the picture (the encoder's line padding), which
    # must be left as it was.
    dst = np.full((h + 1, w * channels + pad), 77, dtype=np.uint8)
    PlaneWarper(plane).warp(m, dst, w, h)
    got = dst[:h, : w * channels].reshape((h, w, channels) if channels > 1 else (h, w))
    # Positions to 1/256 pixel, one rounding at the end: within a level of exact.
    assert np.abs(got.astype(int) - _exact(plane, m, w, h)).max() <= 1.0
    assert (dst[:, w * channels :] == 77).all()
    assert (dst[h] == 77).all()


def test_full_frame_zoom_agrees_with_opencv_and_is_finer() -> None:
    """A 1080×1920 frame of a zoom: equal to OpenCV's warp (positions to 1/32 pixel)
    to within one level."""
    plane = _texture(2000, 1124, 1, 1)
    m = ((0.93, 0.0, 10.3), (0.0, 0.93, 20.7))
    dst = np.empty((1920, 1088), dtype=np.uint8)
    PlaneWarper(plane).warp(m, dst, 1080, 1920)
    diff = np.abs(dst[:, :1080].astype(int) - _reference(plane, m, 1080, 1920))
    assert diff.max() <= 1
    assert diff.mean() < 0.1


def test_a_shift_of_a_fraction_of_a_pixel_moves_the_picture_by_that_fraction() -> None:
    """Sub-pixel means sub-pixel: shifting by 1/8 px moves a ramp by 1/8 of a step."""
    ramp = np.tile((np.arange(32) * 8).astype(np.uint8), (8, 1))  # 8 levels a pixel
    dst = np.empty((8, 24), dtype=np.uint8)
    warper = PlaneWarper(ramp)
    means = []
    for eighth in range(9):
        warper.warp(((1.0, 0.0, 4.0 + eighth / 8), (0.0, 1.0, 0.0)), dst, 24, 8)
        means.append(float(dst.mean()))
    steps = np.diff(means)
    assert np.allclose(steps, 1.0, atol=1e-9)  # 8 levels × 1/8


def test_rotation_goes_through_opencv() -> None:
    plane = _texture(120, 100, 2, 3)
    c, s = np.cos(0.05), np.sin(0.05)
    m = ((c * 0.9, -s * 0.9, 8.0), (s * 0.9, c * 0.9, 3.0))
    assert not separable(m)
    dst = np.empty((50, 60 * 2), dtype=np.uint8)
    PlaneWarper(plane).warp(m, dst, 60, 50)
    assert np.array_equal(dst.reshape(50, 60, 2), _reference(plane, m, 60, 50))


def test_bad_destinations_and_matrices_are_refused() -> None:
    warper = PlaneWarper(_texture(20, 20, 1, 0))
    m = ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0))
    with pytest.raises(ValueError, match="cannot hold"):
        warper.warp(m, np.empty((9, 10), np.uint8), 10, 10)
    with pytest.raises(ValueError, match="cannot hold"):
        warper.warp(m, np.empty((10, 10, 1), np.uint8), 10, 10)
    with pytest.raises(ValueError, match="cannot hold"):
        warper.warp(m, np.empty((10, 10), np.uint16), 10, 10)
    with pytest.raises(ValueError, match="8-bit"):
        PlaneWarper(np.zeros((20, 20), np.float32))
    nan = ((float("nan"), 0.0, 0.0), (0.0, 1.0, 0.0))
    with pytest.raises(ValueError, match="finite"):
        warper.warp(nan, np.empty((10, 10), np.uint8), 10, 10)


def test_kernels_still_work_where_nothing_is_writable_for_the_cache(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Numba refuses `cache=True` when no cache folder is writable (a read-only install
    and home): the renderer compiles without the cache instead of failing."""
    import numba

    from backends.local import warp

    real = numba.njit

    def picky(*args: Any, **kwargs: Any) -> Any:
        if kwargs.get("cache"):
            raise RuntimeError("cannot cache function 'f': no locator available for file 'x'")
        return real(*args, **kwargs)

    monkeypatch.setattr(numba, "njit", picky)

    def double(a: np.ndarray) -> None:
        for i in range(a.shape[0]):
            a[i] *= 2

    kernel = warp._kernel(double)
    values = np.arange(4)
    kernel(values)
    assert values.tolist() == [0, 2, 4, 6]
    assert "compiled in each process" in caplog.text

"""Motion smoothness: frame-to-frame motion measured by phase correlation.

The renderer's frames are compared with the camera path they should follow; so is an
integer-pixel crop-and-scale reference that works like ffmpeg's `zoompan` (crop window
snapped to whole pixels). Ours must be well under a tenth of a pixel; the reference shows
the familiar wobble of a pixel or so.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from backends.local import motion
from backends.local.render import RenderSpec, Slide, _Frames

W = H = 320
FRAMES = 40
# Patch centres, away from the zoom centre, so a zoom moves them.
POINTS = ((80, 80), (240, 80), (80, 240), (240, 240))
PATCH = 64


@pytest.fixture(scope="module")
def texture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Blurred noise: strong detail everywhere, so phase correlation locks on."""
    import cv2
    from PIL import Image

    rng = np.random.default_rng(7)
    noise = rng.integers(0, 256, (800, 800), dtype=np.uint8)
    img = cv2.GaussianBlur(noise, (0, 0), 3.0)
    lo, hi = int(img.min()), int(img.max())
    img = ((img.astype(np.float32) - lo) * (255.0 / max(1, hi - lo))).astype(np.uint8)
    path = tmp_path_factory.mktemp("jitter") / "texture.png"
    Image.fromarray(img).convert("RGB").save(path)
    return path


def _camera(frames: _Frames, k: int) -> np.ndarray:
    """The intended map of frame k (continuous output → still coordinates), as 3×3."""
    still = frames._still(0)
    slide = frames.spec.slides[0]
    assert isinstance(slide, Slide)
    c = motion.camera_at(slide.move, k / (FRAMES - 1), frames.spec.speed, 1.0)
    m = np.array(motion.camera_matrix(c, W, H, still.width, still.height))
    return np.vstack([m, [0.0, 0.0, 1.0]])


def _jitter(frames: _Frames, frame_at: Callable[[int], np.ndarray]) -> np.ndarray:
    """For each pair of frames, how far the measured motion strays from the intended
    motion, in output pixels (worst of four points near the corners)."""
    import cv2

    errors = []
    criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 60, 1e-5)
    pts = np.array([[x + 0.5, y + 0.5, 1.0] for x, y in POINTS]).T
    prev = frame_at(0).astype(np.float32)
    for k in range(FRAMES - 1):
        cur = frame_at(k + 1).astype(np.float32)
        # Fit the affine warp W with prev(W(x)) ≈ cur(x), i.e. frame k+1 → frame k.
        _, warp = cv2.findTransformECC(
            cur, prev, np.eye(2, 3, dtype=np.float32), cv2.MOTION_AFFINE, criteria
        )
        measured = np.asarray(warp, dtype=np.float64) @ (pts - [[0.5], [0.5], [0.0]]) + 0.5
        intended = (np.linalg.solve(_camera(frames, k), _camera(frames, k + 1)) @ pts)[:2]
        errors.append(float(np.hypot(*(measured - intended)).max()))
        prev = cur
    return np.array(errors)


def _spec(path: Path, move: motion.Move) -> RenderSpec:
    return RenderSpec(slides=(Slide(path, move),), width=W, height=H, fps=FRAMES, duration_s=1.0)


def _zoompan_like(frames: _Frames) -> Callable[[int], np.ndarray]:
    """Crop a window snapped to whole pixels, then scale it to the output (zoompan's way)."""
    import cv2

    still = frames._still(0)
    slide = frames.spec.slides[0]
    assert isinstance(slide, Slide)
    move = slide.move

    def frame_at(k: int) -> np.ndarray:
        cam = motion.camera_at(move, k / (FRAMES - 1), frames.spec.speed, 1.0)
        ww, wh = round(still.width / cam.zoom), round(still.height / cam.zoom)
        x0 = round(cam.cx * still.width - ww / 2)
        y0 = round(cam.cy * still.height - wh / 2)
        crop = still.y[y0 : y0 + wh, x0 : x0 + ww]
        return cv2.resize(crop, (W, H), interpolation=cv2.INTER_LINEAR)

    return frame_at


@pytest.mark.parametrize("move", ["zoom_in", "pan_right"])
def test_motion_is_sub_pixel_smooth_where_integer_crops_wobble(
    texture: Path, move: motion.Move
) -> None:
    frames = _Frames(_spec(texture, move))

    def ours(k: int) -> np.ndarray:
        return frames.frame(k)[:H]

    mine = _jitter(frames, ours)
    reference = _jitter(frames, _zoompan_like(frames))
    rms_mine = float(np.sqrt((mine**2).mean()))
    rms_ref = float(np.sqrt((reference**2).mean()))
    print(
        f"{move}: ours RMS {rms_mine:.4f} max {mine.max():.4f}; "
        f"integer crop RMS {rms_ref:.3f} max {reference.max():.3f}"
    )
    assert rms_mine < 0.05
    assert mine.max() < 0.1
    assert rms_ref > 0.25
    assert reference.max() > 0.6

"""Camera moves as per-frame 2×3 affine matrices (output pixel → still pixel).

Every move — zoom, pan, rotate, breathing — is a camera path: a centre, a zoom and an
angle per frame, eased so it starts and ends at rest. The renderer warps the still with
one matrix per frame, so motion is sub-pixel and never snaps to whole pixels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

Move = Literal[
    "zoom_in", "zoom_out", "pan_left", "pan_right", "pan_up", "pan_down", "rotate", "breathe",
    "still", "zoom_face",
]  # fmt: skip

MOVES: tuple[Move, ...] = (
    "zoom_in", "zoom_out", "pan_left", "pan_right", "pan_up", "pan_down", "rotate", "breathe",
    "still", "zoom_face",
)  # fmt: skip

#: How far each move goes at speed 1 (zoom factor gained, or degrees for rotate).
BASE_ZOOM = 0.15
BASE_PAN_ZOOM = 1.15
BASE_ROTATE_DEG = 3.0
BASE_BREATHE = 0.04
#: "Zoom in on the face" goes this deep at speed 1, ending centred on the face.
BASE_FACE_ZOOM = 0.45
MAX_ZOOM = 1.6

Affine = tuple[tuple[float, float, float], tuple[float, float, float]]


@dataclass(frozen=True, slots=True)
class Camera:
    """Where the camera looks: centre (fractions of the still), zoom ≥ 1, angle in radians."""

    cx: float
    cy: float
    zoom: float
    angle: float = 0.0


def ease(t: float) -> float:
    """Smoothstep-like ease in and out: zero speed at both ends (quintic smootherstep)."""
    t = min(1.0, max(0.0, t))
    return t * t * t * (t * (6.0 * t - 15.0) + 10.0)


def _cover_zoom(angle: float, aspect: float) -> float:
    """The least zoom at which a window rotated by `angle` stays inside the still."""
    c, s = math.cos(abs(angle)), math.sin(abs(angle))
    return max(c + s / aspect, c + s * aspect)


def camera_at(
    move: Move,
    t: float,
    speed: float = 1.0,
    aspect: float = 1.0,
    target: tuple[float, float] | None = None,
) -> Camera:
    """The camera at time `t` (0..1 through the clip) for `move`; `aspect` is width/height.

    `target` (fractions of the still: a face) is what zooms and breathing aim at: the
    camera drifts towards it as it zooms, reaching it (as near as the still's edges
    allow) at the deepest point, so it stays in view all the way.
    """
    cam = _centred(move, ease(t), max(0.1, speed), aspect)
    if target is None or move not in _AIMED:
        return cam
    deepest = max_zoom(move, speed, aspect)
    if deepest <= 1.0:
        return cam
    k = (cam.zoom - 1.0) / (deepest - 1.0)
    margin = 1.0 / (2.0 * deepest)

    def toward(aim: float) -> float:
        return 0.5 + (min(1.0 - margin, max(margin, aim)) - 0.5) * k

    return Camera(toward(target[0]), toward(target[1]), cam.zoom, cam.angle)


#: The moves that aim at a target when there is one.
_AIMED: frozenset[Move] = frozenset({"zoom_in", "zoom_out", "zoom_face", "breathe"})


def _centred(move: Move, e: float, speed: float, aspect: float) -> Camera:
    """The camera for `move` at eased progress `e`, around the still's centre."""
    if move == "zoom_in":
        return Camera(0.5, 0.5, 1.0 + min(BASE_ZOOM * speed, MAX_ZOOM - 1.0) * e)
    if move == "zoom_out":
        return Camera(0.5, 0.5, 1.0 + min(BASE_ZOOM * speed, MAX_ZOOM - 1.0) * (1.0 - e))
    if move == "zoom_face":
        return Camera(0.5, 0.5, 1.0 + min(BASE_FACE_ZOOM * speed, MAX_ZOOM - 1.0) * e)
    if move in ("pan_left", "pan_right", "pan_up", "pan_down"):
        zoom = min(1.0 + (BASE_PAN_ZOOM - 1.0) * speed, MAX_ZOOM)
        # The window is 1/zoom of the still; its centre can travel over the rest.
        half_room = (1.0 - 1.0 / zoom) / 2.0
        d = (2.0 * e - 1.0) * half_room  # -half_room → +half_room
        if move == "pan_right":
            return Camera(0.5 + d, 0.5, zoom)
        if move == "pan_left":
            return Camera(0.5 - d, 0.5, zoom)
        if move == "pan_down":
            return Camera(0.5, 0.5 + d, zoom)
        return Camera(0.5, 0.5 - d, zoom)
    if move == "rotate":
        deg = min(BASE_ROTATE_DEG * speed, 10.0)
        angle = math.radians(deg) * (2.0 * e - 1.0) / 2.0
        return Camera(0.5, 0.5, _cover_zoom(math.radians(deg) / 2.0, aspect) * 1.02, angle)
    if move == "breathe":
        # One gentle in-and-out per ~5 s at speed 1; starts and ends at rest.
        amp = min(BASE_BREATHE * speed, 0.2)
        return Camera(0.5, 0.5, 1.0 + amp * (1.0 - math.cos(2.0 * math.pi * e)) / 2.0)
    return Camera(0.5, 0.5, 1.0)


def max_zoom(move: Move, speed: float = 1.0, aspect: float = 1.0, samples: int = 64) -> float:
    """The largest zoom the move reaches (the still is built this much larger)."""
    speed = max(0.1, speed)
    return max(_centred(move, ease(i / samples), speed, aspect).zoom for i in range(samples + 1))


def camera_matrix(cam: Camera, out_w: int, out_h: int, still_w: int, still_h: int) -> Affine:
    """The affine map from continuous output coordinates to continuous still coordinates.

    At zoom 1 the whole still fills the output; the still must have the output's aspect.
    """
    # Still pixels per output pixel.
    sx = still_w / (out_w * cam.zoom)
    sy = still_h / (out_h * cam.zoom)
    c, s = math.cos(cam.angle), math.sin(cam.angle)
    a, b = c * sx, -s * sy
    d, e = s * sx, c * sy
    tx = cam.cx * still_w - (a * out_w / 2.0 + b * out_h / 2.0)
    ty = cam.cy * still_h - (d * out_w / 2.0 + e * out_h / 2.0)
    return ((a, b, tx), (d, e, ty))


def pixel_matrix(m: Affine, scale: float = 1.0) -> Affine:
    """Turn a continuous map into OpenCV's pixel-index convention (centres at integers),
    for planes subsampled by `scale` on both sides (2 for 4:2:0 chroma)."""
    (a, b, tx), (d, e, ty) = m
    # idx = cont/scale - 0.5 on both sides.
    ox = (a * 0.5 + b * 0.5) + tx / scale - 0.5
    oy = (d * 0.5 + e * 0.5) + ty / scale - 0.5
    return ((a, b, ox), (d, e, oy))


def path(
    move: Move, frames: int, out_w: int, out_h: int, still_w: int, still_h: int,
    speed: float = 1.0, target: tuple[float, float] | None = None,
) -> list[Affine]:  # fmt: skip
    """One continuous matrix per frame of a clip of `frames` frames."""
    aspect = out_w / out_h
    last = max(1, frames - 1)
    return [
        camera_matrix(
            camera_at(move, i / last, speed, aspect, target), out_w, out_h, still_w, still_h
        )
        for i in range(frames)
    ]

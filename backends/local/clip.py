"""The clip a session is making: its settings, and the draft JSON built from them.

The draft uses Nemo's short-key shape (see `bot.ports.backend`), so the shared timeline summary
reads it; the renderer's own parameters live under the top-level `m`. `spec_from_draft`
is the one place that reads a draft back into a `RenderSpec`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Literal, cast

from backends.local.motion import MOVES, Move
from backends.local.render import RenderSpec, Slide
from bot.errors import NothingToExport, RenderFailed

Aspect = Literal["9:16", "16:9", "1:1", "4:5"]
ASPECTS: dict[Aspect, tuple[int, int]] = {
    "9:16": (9, 16),
    "16:9": (16, 9),
    "1:1": (1, 1),
    "4:5": (4, 5),
}
DEFAULT_DURATION_S = 5.0
PER_PHOTO_S = 3.0
MAX_DURATION_S = 60.0
TITLE_S = 3.0
FADE_S = 0.6


@dataclass(frozen=True, slots=True)
class Media:
    """A file kept in the session's folder: `file` is its name there, `name` the user's."""

    file: str
    name: str
    width: int | None = None
    height: int | None = None
    duration_s: float | None = None


@dataclass(frozen=True, slots=True)
class ClipSettings:
    """What the user asked for; None means "the default for these photos"."""

    move: Move = "zoom_in"
    duration_s: float | None = None
    aspect: Aspect | None = None
    resolution: int = 1080
    fps: int = 30
    title: str | None = None
    fade_in: bool = False
    fade_out: bool = False
    speed: float = 1.0
    music: bool = True

    def to_json(self) -> dict[str, Any]:
        """A plain dict for the session file."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ClipSettings:
        """Read back `to_json`, ignoring keys it does not know."""
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return replace(cls(), **known)


def nearest_aspect(width: int, height: int) -> Aspect:
    """The standard aspect nearest the photo's, keeping its orientation."""
    r = width / height
    pool: list[Aspect] = ["16:9", "1:1"] if r > 1.1 else (["1:1"] if r >= 0.9 else ["9:16", "4:5"])
    # Ties (a 4:3 photo sits halfway between 16:9 and 1:1) keep the photo's orientation.
    return min(
        pool,
        key=lambda a: abs(math.log(r * ASPECTS[a][1] / ASPECTS[a][0])) - (a != "1:1") * 0.01,
    )


def frame_size(aspect: Aspect, resolution: int) -> tuple[int, int]:
    """Even output dimensions: `resolution` on the short side (1080p → 1080×1920)."""
    aw, ah = ASPECTS[aspect]
    short = resolution
    if aw == ah:
        return short, short
    if aw < ah:
        return short, 2 * round(short * ah / aw / 2)
    return 2 * round(short * aw / ah / 2), short


def duration_of(settings: ClipSettings, photos: int) -> float:
    """The clip's length in seconds: asked for, or 5 s (3 s a photo for a slideshow)."""
    if settings.duration_s is not None:
        return settings.duration_s
    return min(
        MAX_DURATION_S,
        max(DEFAULT_DURATION_S, PER_PHOTO_S * photos) if photos > 1 else DEFAULT_DURATION_S,
    )


def slide_moves(move: Move, n: int) -> list[Move]:
    """The move of each slide: zooms alternate in and out so a slideshow breathes."""
    if move in ("zoom_in", "zoom_out") and n > 1:
        other: Move = "zoom_out" if move == "zoom_in" else "zoom_in"
        return [move if i % 2 == 0 else other for i in range(n)]
    return [move] * n


def make_draft(
    settings: ClipSettings, photos: Sequence[Media], music: Media | None
) -> dict[str, Any]:
    """The draft JSON for these settings and files."""
    first = photos[0]
    aspect = settings.aspect or nearest_aspect(first.width or 1080, first.height or 1920)
    width, height = frame_size(aspect, settings.resolution)
    total_ms = round(duration_of(settings, len(photos)) * 1000)
    n = len(photos)
    each = total_ms // n
    moves = slide_moves(settings.move, n)
    video = [
        {
            "n": p.name,
            "s": i * each,
            "d": total_ms - i * each if i == n - 1 else each,
            "m": {"file": p.file, "move": moves[i]},
        }
        for i, p in enumerate(photos)
    ]
    tracks: list[dict[str, Any]] = [{"tt": 0, "sg": video, "m": {}}]
    if music is not None and settings.music:
        tracks.append(
            {
                "tt": 1,
                "sg": [
                    {"n": music.name, "s": 0, "d": total_ms, "v": 1.0, "m": {"file": music.file}}
                ],
                "m": {},
            }
        )
    if settings.title:
        title_ms = min(total_ms, round(TITLE_S * 1000))
        tracks.append(
            {"tt": 7, "sg": [{"n": "title", "s": 0, "d": title_ms, "x": settings.title}], "m": {}}
        )
    return {
        "t": tracks,
        "m": {
            "title": settings.title or "",
            "width": width,
            "height": height,
            "fps": settings.fps,
            "aspect": aspect,
            "resolution": settings.resolution,
            "move": settings.move,
            "speed": settings.speed,
            "fade_in_s": FADE_S if settings.fade_in else 0.0,
            "fade_out_s": FADE_S if settings.fade_out else 0.0,
            "duration_ms": total_ms,
        },
    }


def _num(m: Mapping[str, Any], key: str, default: float) -> float:
    value = m.get(key, default)
    return float(value) if isinstance(value, int | float) else default


def spec_from_draft(
    draft: Mapping[str, Any], folder: Path, *, preset: str, crf: int, max_bitrate_kbps: int
) -> RenderSpec:
    """Read a draft (ours) back into a render spec; files are looked up in `folder`."""
    tracks = draft.get("t") if isinstance(draft, Mapping) else None
    if not isinstance(tracks, list):
        raise NothingToExport("There is nothing to export yet: send a photo and say what to make.")
    slides: list[Slide] = []
    music: Path | None = None
    volume = 1.0
    title: str | None = None
    title_s = TITLE_S
    for track in tracks:
        if not isinstance(track, Mapping):
            continue
        for seg in track.get("sg") or ():
            if not isinstance(seg, Mapping):
                continue
            raw_m = seg.get("m")
            sm: Mapping[str, Any] = raw_m if isinstance(raw_m, Mapping) else {}
            if track.get("tt") == 0 and isinstance(sm.get("file"), str):
                move = sm.get("move")
                slides.append(
                    Slide(
                        folder / Path(sm["file"]).name,
                        cast(Move, move) if move in MOVES else "zoom_in",
                    )
                )
            elif track.get("tt") == 1 and isinstance(sm.get("file"), str):
                music = folder / Path(sm["file"]).name
                volume = _num(seg, "v", 1.0)
            elif track.get("tt") == 7 and isinstance(seg.get("x"), str) and seg["x"]:
                title = seg["x"]
                title_s = _num(seg, "d", TITLE_S * 1000) / 1000
    if not slides:
        raise NothingToExport("There is nothing to export yet: send a photo and say what to make.")
    raw = draft.get("m")
    m: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
    width, height = int(_num(m, "width", 1080)), int(_num(m, "height", 1920))
    if width < 16 or height < 16 or width % 2 or height % 2:
        raise RenderFailed(f"The draft has an unusable size {width}×{height}.")
    return RenderSpec(
        slides=tuple(slides),
        width=width,
        height=height,
        fps=int(_num(m, "fps", 30)),
        duration_s=_num(m, "duration_ms", DEFAULT_DURATION_S * 1000) / 1000,
        speed=_num(m, "speed", 1.0),
        title=title,
        title_s=title_s,
        fade_in_s=_num(m, "fade_in_s", 0.0),
        fade_out_s=_num(m, "fade_out_s", 0.0),
        music=music,
        music_volume=volume,
        preset=preset,
        crf=crf,
        max_bitrate_kbps=max_bitrate_kbps,
    )

"""The clip a session is making: its settings and files, laid out once (`Layout`) into
the render (`render_spec`) and into the draft that status and change summaries read
(`make_draft`). A render is made from the settings, never read back from the draft.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Literal

from backends.local.motion import Move
from backends.local.render import AnySlide, RenderSpec, Slide, VideoSlide
from bot.errors import NothingToExport

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


#: A photo, a video (plays once, then holds its last frame) or an animation (an animated
#: GIF: loops).
MediaKind = Literal["image", "video", "animation"]


@dataclass(frozen=True, slots=True)
class Media:
    """A file kept in the session's folder: `file` is its name there, `name` the user's."""

    file: str
    name: str
    width: int | None = None
    height: int | None = None
    duration_s: float | None = None
    kind: MediaKind = "image"

    @property
    def moving(self) -> bool:
        """A video or an animated GIF, not a photo."""
        return self.kind != "image"


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


def duration_of(settings: ClipSettings, items: Sequence[Media]) -> float:
    """The clip's length in seconds: asked for; or a lone video's own length; or 5 s
    (3 s an item for a slideshow)."""
    if settings.duration_s is not None:
        return settings.duration_s
    n = len(items)
    if n == 1 and items[0].kind == "video" and items[0].duration_s:
        return min(MAX_DURATION_S, max(1.0, round(items[0].duration_s, 1)))
    return min(
        MAX_DURATION_S,
        max(DEFAULT_DURATION_S, PER_PHOTO_S * n) if n > 1 else DEFAULT_DURATION_S,
    )


def slide_moves(move: Move, n: int) -> list[Move]:
    """The move of each slide: zooms alternate in and out so a slideshow breathes."""
    if move in ("zoom_in", "zoom_out") and n > 1:
        other: Move = "zoom_out" if move == "zoom_in" else "zoom_in"
        return [move if i % 2 == 0 else other for i in range(n)]
    return [move] * n


def item_moves(move: Move, items: Sequence[Media]) -> list[Move]:
    """`slide_moves` for the photos; moving items play as they are (no camera move)."""
    moves = slide_moves(move, len(items))
    return ["still" if item.moving else m for item, m in zip(items, moves, strict=True)]


@dataclass(frozen=True, slots=True)
class Layout:
    """What the settings and photos come to: the frame, the length, each photo's move."""

    aspect: Aspect
    width: int
    height: int
    total_ms: int
    moves: tuple[Move, ...]

    @classmethod
    def of(cls, settings: ClipSettings, photos: Sequence[Media]) -> Layout:
        """The layout of a clip of these photos with these settings."""
        first = photos[0]
        aspect = settings.aspect or nearest_aspect(first.width or 1080, first.height or 1920)
        width, height = frame_size(aspect, settings.resolution)
        total_ms = round(duration_of(settings, photos) * 1000)
        return cls(aspect, width, height, total_ms, tuple(item_moves(settings.move, photos)))


def make_draft(
    settings: ClipSettings, photos: Sequence[Media], music: Media | None
) -> dict[str, Any]:
    """The draft JSON of these settings and files: what status and the change summary
    read (in the shared short-key shape, see `bot.ports.backend`). Renders never read it."""
    layout = Layout.of(settings, photos)
    total_ms, n = layout.total_ms, len(photos)
    each = total_ms // n
    video = [
        {
            "n": p.name,
            "s": i * each,
            "d": total_ms - i * each if i == n - 1 else each,
            "m": {"file": p.file, "move": layout.moves[i]},
        }
        for i, p in enumerate(photos)
    ]
    tracks: list[dict[str, Any]] = [{"tt": 0, "sg": video, "m": {}}]
    if music is not None and settings.music:
        tracks.append(
            {"tt": 1, "sg": [{"n": music.name, "s": 0, "d": total_ms, "v": 1.0}], "m": {}}
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
            "width": layout.width,
            "height": layout.height,
            "fps": settings.fps,
            "aspect": layout.aspect,
            "move": settings.move,
            "duration_ms": total_ms,
        },
    }


def render_spec(
    settings: ClipSettings,
    photos: Sequence[Media],
    music: Media | None,
    folder: Path,
    *,
    preset: str,
    crf: int,
    max_bitrate_kbps: int,
) -> RenderSpec:
    """The render of these settings and files; each file is looked up in `folder`."""
    if not photos:
        raise NothingToExport("There is nothing to export yet: send a photo and say what to make.")
    layout = Layout.of(settings, photos)
    return RenderSpec(
        slides=tuple(
            _slide(folder / Path(p.file).name, p, move)
            for p, move in zip(photos, layout.moves, strict=True)
        ),
        width=layout.width,
        height=layout.height,
        fps=settings.fps,
        duration_s=layout.total_ms / 1000,
        speed=settings.speed,
        title=settings.title or None,
        title_s=min(layout.total_ms / 1000, TITLE_S),
        fade_in_s=FADE_S if settings.fade_in else 0.0,
        fade_out_s=FADE_S if settings.fade_out else 0.0,
        music=folder / Path(music.file).name if music is not None and settings.music else None,
        preset=preset,
        crf=crf,
        max_bitrate_kbps=max_bitrate_kbps,
    )


def _slide(path: Path, item: Media, move: Move) -> AnySlide:
    if item.moving:
        return VideoSlide(path, loop=item.kind == "animation")
    return Slide(path, move)

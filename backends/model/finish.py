"""The finishing step: the generated footage becomes the clip's video track, and the
local renderer adds titles, music and fades, crops to the aspect and encodes, exactly as
for a clip of its own (the footage is one of its moving segments)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from backends.local.clip import ClipSettings, Media, render_spec
from backends.local.render import RenderResult, VideoSlide, render

#: (frames done, frames in all)
Progress = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class Finish:
    """What the renderer needs besides the footage: the project's settings, photo (for
    the aspect and length rules), music, and the encoder's settings."""

    settings: ClipSettings
    photo: Media
    music: Media | None
    folder: Path
    preset: str
    crf: int
    max_bitrate_kbps: int


def render_clip(finish: Finish, footage: Path, out: Path, progress: Progress) -> RenderResult:
    """Render the clip of `finish` with `footage` as its video track to the MP4 `out`."""
    spec = render_spec(
        finish.settings,
        [finish.photo],
        finish.music,
        finish.folder,
        preset=finish.preset,
        crf=finish.crf,
        max_bitrate_kbps=finish.max_bitrate_kbps,
    )
    return render(replace(spec, slides=(VideoSlide(footage),)), out, progress)

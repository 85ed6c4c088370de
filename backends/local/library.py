"""The bundled music library: royalty-free tracks to pick from when no audio was sent.

The tracks come with the `immich-memories-music` package (MIT; 28 instrumental tracks
of about 30 s, Opus, generated with ACE-Step 1.5 from no third-party recording, so no
attribution is owed), one folder per mood: calm, energetic, happy, nostalgic, tender.
A track is named by its mood and style, numbered among siblings: "calm acoustic",
"calm acoustic 2", "happy electronic".
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

log = logging.getLogger(__name__)

Mood = Literal["calm", "energetic", "happy", "nostalgic", "tender"]
MOODS: tuple[Mood, ...] = get_args(Mood)
#: The mood of "add music" when none is named.
DEFAULT_MOOD: Mood = "calm"


@dataclass(frozen=True, slots=True)
class Track:
    """One bundled track: `key` ("calm/calm_acoustic_s411") is what a project keeps."""

    key: str
    name: str
    mood: Mood
    path: Path


@functools.lru_cache(maxsize=1)
def tracks() -> tuple[Track, ...]:
    """Every bundled track, by mood then file name (empty if the package is missing)."""
    try:
        import immich_memories_music
    except ImportError:
        log.warning("the music library (immich-memories-music) is not installed")
        return ()
    root = Path(immich_memories_music.tracks_dir())
    found: list[Track] = []
    for mood in MOODS:
        seen: dict[str, int] = {}
        for path in sorted((root / mood).glob("*.opus")):
            parts = path.stem.split("_")
            base = " ".join(parts[:2]) if len(parts) >= 2 else path.stem
            seen[base] = seen.get(base, 0) + 1
            name = base if seen[base] == 1 else f"{base} {seen[base]}"
            found.append(Track(f"{mood}/{path.stem}", name, mood, path))
    return tuple(found)


def find(key: str | None) -> Track | None:
    """The track kept under `key`, if the library has it."""
    return next((t for t in tracks() if t.key == key), None) if key else None


def pick(mood: Mood | None, current: str | None = None, *, another: bool = False) -> Track | None:
    """A track of `mood` (any mood: None). The current one is kept when it fits, unless
    `another` is asked: then the next one after it, going round (None: no library)."""
    now = find(current)
    pool: Sequence[Track] = [t for t in tracks() if mood is None or t.mood == mood]
    if not pool:
        return None
    if now is not None and now in pool:
        if not another:
            return now
        return pool[(pool.index(now) + 1) % len(pool)]
    return pool[0]

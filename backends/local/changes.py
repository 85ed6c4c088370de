"""The changes an instruction can make to a clip: typed values, folded into
`ClipSettings` by `apply` and echoed back to the user by `describe`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from backends.local.clip import Aspect, ClipSettings
from backends.local.library import Mood
from backends.local.motion import Move
from bot.words import Lang, say


@dataclass(frozen=True, slots=True)
class SetMotion:
    """Change the camera move."""

    move: Move


@dataclass(frozen=True, slots=True)
class SetDuration:
    """Change the length, in seconds."""

    seconds: float


@dataclass(frozen=True, slots=True)
class SetAspect:
    """Change the aspect ratio."""

    aspect: Aspect


@dataclass(frozen=True, slots=True)
class SetResolution:
    """Change the resolution (short side: 720 or 1080)."""

    lines: int


@dataclass(frozen=True, slots=True)
class SetFps:
    """Change the frame rate."""

    fps: int


@dataclass(frozen=True, slots=True)
class SetTitle:
    """Show a title for the first seconds (None removes it)."""

    text: str | None


@dataclass(frozen=True, slots=True)
class SetFades:
    """Fade in from black and/or out to black."""

    fade_in: bool
    fade_out: bool


@dataclass(frozen=True, slots=True)
class SetSpeed:
    """Make the camera move slower (<1) or faster (>1)."""

    factor: float


@dataclass(frozen=True, slots=True)
class SetMusic:
    """Background music on (the uploaded audio, or a track of the library) or off."""

    on: bool


@dataclass(frozen=True, slots=True)
class PickMusic:
    """A track of the bundled library: of a mood, or `another` than the current one.
    `track` is the key of the track chosen (filled in by the backend, which knows the
    project's current track)."""

    mood: Mood | None = None
    another: bool = False
    track: str | None = None


Change = (
    SetMotion
    | SetDuration
    | SetAspect
    | SetResolution
    | SetFps
    | SetTitle
    | SetFades
    | SetSpeed
    | SetMusic
    | PickMusic
)


def apply(settings: ClipSettings, changes: Sequence[Change]) -> ClipSettings:
    """The settings after `changes`, in order."""
    for c in changes:
        if isinstance(c, SetMotion):
            settings = replace(settings, move=c.move)
        elif isinstance(c, SetDuration):
            settings = replace(settings, duration_s=c.seconds)
        elif isinstance(c, SetAspect):
            settings = replace(settings, aspect=c.aspect)
        elif isinstance(c, SetResolution):
            settings = replace(settings, resolution=c.lines)
        elif isinstance(c, SetFps):
            settings = replace(settings, fps=c.fps)
        elif isinstance(c, SetTitle):
            settings = replace(settings, title=c.text)
        elif isinstance(c, SetFades):
            settings = replace(
                settings,
                fade_in=settings.fade_in or c.fade_in,
                fade_out=settings.fade_out or c.fade_out,
            )
        elif isinstance(c, SetSpeed):
            settings = replace(settings, speed=min(3.0, max(0.25, settings.speed * c.factor)))
        elif isinstance(c, PickMusic):
            settings = replace(
                settings,
                music=True,
                music_track=c.track or settings.music_track,
                music_mood=c.mood or settings.music_mood,
            )
        else:
            settings = replace(settings, music=c.on)
    return settings


def describe(change: Change, lang: Lang = "en") -> str:
    """One short phrase for a change, as echoed to the user."""
    if isinstance(change, SetMotion):
        return say(f"move_{change.move}", lang)
    if isinstance(change, SetDuration):
        return say("change_seconds", lang, seconds=f"{change.seconds:g}")
    if isinstance(change, SetAspect):
        return change.aspect
    if isinstance(change, SetResolution):
        return f"{change.lines}p"
    if isinstance(change, SetFps):
        return f"{change.fps} fps"
    if isinstance(change, SetTitle):
        if change.text is None:
            return say("change_no_title", lang)
        return say("change_title", lang, text=change.text)
    if isinstance(change, SetFades):
        if change.fade_in and change.fade_out:
            return say("change_fade_both", lang)
        return say("change_fade_in" if change.fade_in else "change_fade_out", lang)
    if isinstance(change, SetSpeed):
        return say("change_slower" if change.factor < 1 else "change_faster", lang)
    if isinstance(change, PickMusic):
        from backends.local import library

        track = library.find(change.track)
        if track is None:
            return say("change_music", lang)
        return say("change_music_track", lang, name=track.name)
    return say("change_music" if change.on else "change_no_music", lang)


def choose_music(
    changes: Sequence[Change], settings: ClipSettings, own_audio: bool
) -> tuple[list[Change], bool]:
    """The changes with a library track chosen for each music request that needs one
    ("add music" with no audio sent, "add calm music", "change the music"); and whether
    music was asked for that no track can give (no library installed)."""
    from backends.local import library

    out: list[Change] = []
    unmet = False
    for c in changes:
        if isinstance(c, SetMusic) and c.on and not own_audio and settings.music_track is None:
            c = PickMusic()
        if isinstance(c, PickMusic):
            mood = c.mood or settings.music_mood
            if mood is None and not c.another:
                mood = library.DEFAULT_MOOD
            track = library.pick(mood, settings.music_track, another=c.another)
            if track is None:
                unmet = True
                continue
            c = replace(c, track=track.key)
        settings = apply(settings, [c])
        out.append(c)
    return out, unmet

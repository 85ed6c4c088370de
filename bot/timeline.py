"""The draft (timeline) read defensively into small values: summary, exportable, diff.

Segment internals are not documented by Nemo, so every field is optional here and a
value of an unexpected type is skipped, never trusted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from bot.words import Lang, say

TrackKind = Literal["video", "audio", "text", "other"]

_KINDS: dict[int, TrackKind] = {0: "video", 1: "audio", 7: "text"}


@dataclass(frozen=True, slots=True)
class Segment:
    """One clip, sound or text on a track."""

    name: str
    start_ms: int | None = None
    duration_ms: int | None = None
    volume: float | None = None
    text: str | None = None


@dataclass(frozen=True, slots=True)
class Track:
    """One track of the timeline."""

    kind: TrackKind
    segments: tuple[Segment, ...]


@dataclass(frozen=True, slots=True)
class Timeline:
    """The parsed draft."""

    tracks: tuple[Track, ...]
    width: int | None = None
    height: int | None = None
    title: str | None = None

    @property
    def exportable(self) -> bool:
        """True when at least one track has a segment."""
        return any(track.segments for track in self.tracks)


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _int(value: Any) -> int | None:
    number = _num(value)
    return None if number is None else int(number)


def _str(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def _segment(raw: Any, index: int) -> Segment | None:
    if not isinstance(raw, Mapping):
        return None
    meta = raw.get("m") if isinstance(raw.get("m"), Mapping) else {}
    assert isinstance(meta, Mapping)
    text = _str(raw.get("x")) or _str(raw.get("text")) or _str(meta.get("text"))
    name = (
        _str(raw.get("n"))
        or _str(raw.get("name"))
        or _str(meta.get("name"))
        or _str(meta.get("title"))
        or text
        or f"clip {index + 1}"
    )
    volume = _num(raw.get("v"))
    if volume is None:
        volume = _num(raw.get("volume"))
    if volume is not None and volume > 1:
        volume /= 100  # some shapes give a percentage
    return Segment(
        name=name,
        start_ms=_int(raw.get("s")),
        duration_ms=_int(raw.get("d")),
        volume=volume,
        text=text,
    )


def parse(draft: Mapping[str, Any] | None) -> Timeline:
    """Read a draft of any shape; what is not understood is left out."""
    if not isinstance(draft, Mapping):
        return Timeline(())
    tracks: list[Track] = []
    raw_tracks = draft.get("t")
    for raw in raw_tracks if isinstance(raw_tracks, list) else []:
        if not isinstance(raw, Mapping):
            continue
        tt = _int(raw.get("tt"))
        kind: TrackKind = _KINDS.get(tt, "other") if tt is not None else "other"
        raw_segments = raw.get("sg")
        segments = [
            seg
            for i, item in enumerate(raw_segments if isinstance(raw_segments, list) else [])
            if (seg := _segment(item, i)) is not None
        ]
        tracks.append(Track(kind, tuple(segments)))
    meta = draft.get("m") if isinstance(draft.get("m"), Mapping) else {}
    assert isinstance(meta, Mapping)
    return Timeline(
        tuple(tracks),
        width=_int(meta.get("width")),
        height=_int(meta.get("height")),
        title=_str(meta.get("title")),
    )


def exportable(draft: Mapping[str, Any] | None) -> bool:
    """True when the draft has a track with at least one segment."""
    return parse(draft).exportable


def _seconds(ms: int) -> str:
    value = ms / 1000
    return str(int(value)) if value == int(value) else f"{value:.1f}"


def describe_segment(kind: TrackKind, seg: Segment) -> str:
    """`city timelapse (0-10s)`, `Lo-fi (0-10s, 35%)`, `"Urban Dreams" (0-3s)`."""
    label = f'"{seg.text}"' if kind == "text" and seg.text else seg.name
    details: list[str] = []
    if seg.duration_ms is not None:
        start = seg.start_ms or 0
        details.append(f"{_seconds(start)}-{_seconds(start + seg.duration_ms)}s")
    if kind == "audio" and seg.volume is not None:
        details.append(f"{round(seg.volume * 100)}%")
    return f"{label} ({', '.join(details)})" if details else label


def _label(kind: TrackKind, lang: Lang) -> str:
    return say(f"track_{kind}", lang)


def _describe_track(track: Track, lang: Lang) -> str:
    label = _label(track.kind, lang)
    if not track.segments:
        return say("track_empty", lang, label=label)
    items = ", ".join(describe_segment(track.kind, s) for s in track.segments)
    return say("track_line", lang, label=label, items=items)


def summary(timeline: Timeline, lang: Lang = "en") -> str:
    """The one-line summary in the API page's format, with the frame size when known:
    ``Timeline (2 tracks, 1080×1920): 1. Video: shop.jpg (0-5s) 2. Title: "Sale" (0-3s)``."""
    n = len(timeline.tracks)
    if n == 0:
        return say("timeline_empty", lang)
    what = say("timeline_tracks_one", lang) if n == 1 else say("timeline_tracks_many", lang, n=n)
    if timeline.width and timeline.height:
        what += f"{say('comma', lang)}{timeline.width}×{timeline.height}"
    items = " ".join(
        f"{i}. {_describe_track(track, lang)}" for i, track in enumerate(timeline.tracks, 1)
    )
    return say("timeline", lang, what=what, items=items)


def diff(before: Timeline, after: Timeline, lang: Lang = "en") -> list[str]:
    """What changed from `before` to `after`, as short phrases (empty: nothing)."""
    changes: list[str] = []
    for i in range(max(len(before.tracks), len(after.tracks))):
        old = before.tracks[i] if i < len(before.tracks) else None
        new = after.tracks[i] if i < len(after.tracks) else None
        if old == new:
            continue
        if old is None and new is not None:
            changes.append(say("timeline_added", lang, what=_describe_track(new, lang)))
        elif new is None and old is not None:
            changes.append(say("timeline_removed", lang, what=_describe_track(old, lang)))
        elif old is not None and new is not None:
            changes.extend(_segment_changes(old, new, lang))
    if (before.width, before.height) != (after.width, after.height) and after.width:
        changes.append(say("timeline_size", lang, size=f"{after.width}×{after.height}"))
    if before.title != after.title and after.title:
        changes.append(say("timeline_title", lang, title=after.title))
    return changes


def _segment_changes(old: Track, new: Track, lang: Lang) -> list[str]:
    out: list[str] = []
    label = _label(new.kind, lang)
    for j in range(max(len(old.segments), len(new.segments))):
        a = old.segments[j] if j < len(old.segments) else None
        b = new.segments[j] if j < len(new.segments) else None
        if a == b:
            continue
        if a is None and b is not None:
            what = say("track_line", lang, label=label, items=describe_segment(new.kind, b))
            out.append(say("timeline_added", lang, what=what))
        elif b is None and a is not None:
            what = say("track_line", lang, label=label, items=describe_segment(old.kind, a))
            out.append(say("timeline_removed", lang, what=what))
        elif a is not None and b is not None:
            was, now = describe_segment(old.kind, a), describe_segment(new.kind, b)
            if was == now:
                now = say("timeline_updated", lang, what=now)
            out.append(say("timeline_changed", lang, label=label, was=was, now=now))
    if not out and old.kind != new.kind:
        out.append(say("timeline_type_changed", lang, label=label))
    return out

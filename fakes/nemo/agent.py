"""The emulator's pretend agent: what a turn says and how it changes the draft."""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import Any

_QUOTED = re.compile(r"[\"'“‘「]([^\"'”’」]{1,80})[\"'”’」]")
_SECONDS = re.compile(r"(\d{1,3})\s*(?:-|\s)?\s*(?:s\b|sec|second)", re.IGNORECASE)
_ASPECTS = {"9:16": (1080, 1920), "16:9": (1920, 1080), "1:1": (1080, 1080), "4:5": (1080, 1350)}


@dataclass
class Plan:
    """What one turn does: its kind, words, tool use and the draft afterwards."""

    kind: str  # "text", "generation" or "edit"
    reply: str
    tool: str | None = None
    args: dict[str, Any] = field(default_factory=dict)
    draft: dict[str, Any] | None = None
    cost: int = 0


def _track(tt: int, segments: list[dict[str, Any]]) -> dict[str, Any]:
    return {"tt": tt, "sg": segments, "m": {}}


def summary(draft: dict[str, Any]) -> str:
    """A timeline summary in Nemo's words."""
    tracks = draft.get("t", [])
    names = {0: "Video", 1: "BGM", 7: "Title"}
    parts = []
    for i, track in enumerate(tracks, 1):
        for seg in track.get("sg", [])[:1]:
            label = seg.get("x") or seg.get("n") or "clip"
            start, dur = seg.get("s", 0) / 1000, seg.get("d", 0) / 1000
            parts.append(
                f"{i}. {names.get(track.get('tt'), 'Track')}: {label} ({start:g}-{dur:g}s)"
            )
    return f"Timeline ({len(tracks)} tracks): " + " ".join(parts)


def plan_turn(message: str, draft: dict[str, Any], images: list[str]) -> Plan:
    """Decide what the agent does with `message`, given the draft and uploaded images."""
    text = message.strip()
    lower = text.lower()
    title = _QUOTED.search(text)
    seconds = _SECONDS.search(text)
    aspect = next((a for a in _ASPECTS if a in text), None)
    music = any(w in lower for w in ("music", "bgm", "音乐"))
    has_draft = any(t.get("sg") for t in draft.get("t", []))
    if not has_draft and not images:
        return Plan("text", "Please upload an image or a video first, then tell me what to make.")
    if has_draft and (lower.endswith("?") or lower.startswith(("what", "show"))):
        return Plan("text", "Here is your project. " + summary(draft))
    duration_ms = int(seconds.group(1)) * 1000 if seconds else None
    if not has_draft:
        width, height = _ASPECTS.get(aspect or "16:9", (1920, 1080))
        d = duration_ms or 5000
        new: dict[str, Any] = {
            "t": [_track(0, [{"n": images[-1], "s": 0, "d": d, "m": {"motion": "zoom-in"}}])],
            "m": {
                "title": title.group(1) if title else "project",
                "width": width,
                "height": height,
                "fps": 30,
            },
        }
        if title:
            new["t"].append(
                _track(7, [{"n": "title", "x": title.group(1), "s": 0, "d": min(d, 3000)}])
            )
        if music:
            new["t"].append(_track(1, [{"n": "Lo-fi", "s": 0, "d": d, "v": 0.35}]))
        return Plan(
            "generation",
            f"Your video is ready! {summary(new)}",
            tool="generate_video",
            args={"prompt": text, "image": images[-1]},
            draft=new,
            cost=100,
        )
    new = copy.deepcopy(draft)
    changed = []
    if duration_ms:
        for track in new["t"]:
            for seg in track.get("sg", []):
                seg["d"] = duration_ms if track.get("tt") != 7 else min(duration_ms, 3000)
        changed.append(f"duration {duration_ms // 1000}s")
    if aspect:
        new["m"]["width"], new["m"]["height"] = _ASPECTS[aspect]
        changed.append(f"aspect {aspect}")
    if title:
        texts = [t for t in new["t"] if t.get("tt") == 7]
        seg = {"n": "title", "x": title.group(1), "s": 0, "d": 3000}
        if texts:
            texts[0]["sg"] = [seg]
        else:
            new["t"].append(_track(7, [seg]))
        changed.append(f'title "{title.group(1)}"')
    if music and not any(t.get("tt") == 1 for t in new["t"]):
        length = max((s.get("d", 0) for t in new["t"] for s in t.get("sg", [])), default=5000)
        new["t"].append(_track(1, [{"n": "Lo-fi", "s": 0, "d": length, "v": 0.35}]))
        changed.append("music")
    if not changed:
        # Something must change so that a silent edit shows up in the state.
        new.setdefault("m", {})["revision"] = int(new.get("m", {}).get("revision", 0)) + 1
        changed.append("style")
    return Plan(
        "edit",
        f"Done: {', '.join(changed)}. {summary(new)}",
        tool="edit_timeline",
        args={"instruction": text},
        draft=new,
        cost=50,
    )

"""A model session's project: the local renderer's clip settings, the photo and music,
the prompt and the seed, kept in `data_dir/model/<session>/state.json`.

The draft is the local renderer's (`make_draft`) with the prompt in it, so a new prompt
is a changed draft and the engine makes the clip again.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from backends.local.clip import ClipSettings, Media, make_draft
from bot.errors import SessionLost


@dataclass(slots=True)
class Project:
    """What the session's `state.json` holds."""

    seed: int
    settings: ClipSettings = field(default_factory=lambda: ClipSettings(move="still"))
    photo: Media | None = None
    music: Media | None = None
    prompt: str = ""
    draft: dict[str, Any] | None = None
    #: How many files were uploaded (stored names are numbered by it).
    uploads: int = 0
    #: A newer photo replaced the one animated, and the user was not told yet.
    replaced: bool = False

    def to_json(self) -> dict[str, Any]:
        """A plain dict for the session file."""
        return {
            "seed": self.seed,
            "settings": self.settings.to_json(),
            "photo": asdict(self.photo) if self.photo else None,
            "music": asdict(self.music) if self.music else None,
            "prompt": self.prompt,
            "draft": self.draft,
            "uploads": self.uploads,
            "replaced": self.replaced,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Project:
        """Read back `to_json`."""
        photo, music = data.get("photo"), data.get("music")
        return cls(
            seed=int(data["seed"]),
            settings=ClipSettings.from_json(data.get("settings") or {}),
            photo=Media(**photo) if isinstance(photo, dict) else None,
            music=Media(**music) if isinstance(music, dict) else None,
            prompt=str(data.get("prompt") or ""),
            draft=data.get("draft"),
            uploads=int(data.get("uploads") or 0),
            replaced=bool(data.get("replaced")),
        )

    def rebuild(self, model: str) -> None:
        """The draft after a change: the local renderer's, naming the model and prompt."""
        if self.photo is None:
            self.draft = None
            return
        draft = make_draft(self.settings, [self.photo], self.music)
        video = draft["t"][0]["sg"][0]
        if self.prompt:
            video["n"] = f"{self.photo.name} → “{self.prompt}”"
        draft["m"].update(model=model, prompt=self.prompt)
        self.draft = draft


class Projects:
    """The project folders of one backend, under `root`."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def folder(self, session_id: str) -> Path:
        """A session's folder (the id is checked: it becomes a path)."""
        if not re.fullmatch(r"[0-9a-f]{32}", session_id):
            raise SessionLost("That model project id is not valid.")
        return self.root / session_id

    def load(self, session_id: str) -> Project:
        """The saved project; `SessionLost` if it is gone or damaged."""
        path = self.folder(session_id) / "state.json"
        try:
            return Project.from_json(json.loads(path.read_text(encoding="utf-8")))
        except FileNotFoundError as exc:
            raise SessionLost("This model project no longer exists; starting over.") from exc
        except (ValueError, TypeError, KeyError) as exc:
            raise SessionLost("This model project's saved state is damaged.") from exc

    def save(self, session_id: str, project: Project) -> None:
        """Write the project whole (a crash leaves the old file or the new, never half)."""
        folder = self.folder(session_id)
        tmp = folder / "state.json.tmp"
        tmp.write_text(json.dumps(project.to_json(), ensure_ascii=False), encoding="utf-8")
        tmp.replace(folder / "state.json")

"""Where the local renderer keeps its projects: the state and every file in the store, so
that any process of the bot can render any chat's project (no shared disk), and the files
also in a cache folder on this machine (`data_dir/local/<project id>/`), fetched from
the store when a process meets a project it has not seen."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import shutil
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from backends.local.clip import ClipSettings, Media, make_draft
from bot.errors import SessionLost
from bot.ports.backend import BackendSession
from bot.ports.store import ProjectStore

log = logging.getLogger(__name__)

BACKEND = "local"


@dataclass(slots=True)
class Project:
    """The renderer's own model of a clip. `draft` is only what status and change
    summaries read; renders come from the rest."""

    settings: ClipSettings = field(default_factory=ClipSettings)
    photos: list[Media] = field(default_factory=list)
    music: Media | None = None
    draft: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        """A plain dict for the store."""
        return {
            "settings": self.settings.to_json(),
            "photos": [asdict(p) for p in self.photos],
            "music": asdict(self.music) if self.music else None,
            "draft": self.draft,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Project:
        """Read back `to_json`."""
        music = data.get("music")
        return cls(
            settings=ClipSettings.from_json(data.get("settings") or {}),
            photos=[Media(**p) for p in data.get("photos") or []],
            music=Media(**music) if isinstance(music, dict) else None,
            draft=data.get("draft"),
        )

    def rebuild(self) -> None:
        """Regenerate the draft after a change (only once one exists)."""
        if self.draft is not None and self.photos:
            self.draft = make_draft(self.settings, self.photos, self.music)

    def files(self) -> list[str]:
        """The names of every file the project uses."""
        return [m.file for m in self.photos] + ([self.music.file] if self.music else [])


class Projects:
    """Projects kept in the store, their files cached on this machine."""

    def __init__(self, store: ProjectStore, cache_root: Path) -> None:
        self._store = store
        self._root = cache_root

    def folder(self, session: BackendSession) -> Path:
        """The cache folder of a project (its files are there once `fetch` ran)."""
        if not re.fullmatch(r"[0-9a-f]{32}", session.session_id):
            raise SessionLost("That local project id is not valid.")
        return self._root / session.session_id

    async def load(self, session: BackendSession) -> Project:
        """The project, or `SessionLost` when it is gone or damaged."""
        self.folder(session)
        text = await self._store.load_project(BACKEND, session.session_id)
        if text is None:
            raise SessionLost("This local project no longer exists; starting over.")
        try:
            return Project.from_json(json.loads(text))
        except (ValueError, TypeError) as exc:
            raise SessionLost("This local project's saved state is damaged.") from exc

    async def save(self, session: BackendSession, project: Project) -> None:
        """Keep the project's state."""
        self.folder(session)
        text = json.dumps(project.to_json(), ensure_ascii=False)
        await self._store.save_project(BACKEND, session.session_id, text)

    async def add_file(self, session: BackendSession, name: str, source: Path) -> None:
        """Keep a new file of the project: in the store, and in this machine's cache."""
        folder = self.folder(session)
        await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
        data = await asyncio.to_thread(source.read_bytes)
        await self._store.save_project_file(BACKEND, session.session_id, name, data)
        await asyncio.to_thread(shutil.copyfile, source, folder / name)

    async def fetch(self, session: BackendSession, names: Iterable[str]) -> Path:
        """The cache folder, with these files in it (fetched from the store when this
        machine has not got them); a file the store lost too is left out."""
        folder = self.folder(session)
        for name in names:
            path = folder / name
            if await asyncio.to_thread(path.exists):
                continue
            data = await self._store.load_project_file(BACKEND, session.session_id, name)
            if data is None:
                log.warning("local project %s: file %s is gone", session.session_id, name)
                continue
            await asyncio.to_thread(_write, path, data)
        return folder

    async def discard(self, session: BackendSession) -> None:
        """Forget the project: its state, its files, its cache folder."""
        await self._store.delete_project(BACKEND, session.session_id)
        await asyncio.to_thread(shutil.rmtree, self.folder(session), ignore_errors=True)


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(path.name + ".part")
    part.write_bytes(data)
    part.replace(path)

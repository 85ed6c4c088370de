"""`LocalBackend`: the embedded renderer behind the `Backend` interface.

Each session is a project kept in the store (its clip settings and uploaded files: see
`backends.local.projects`), so it survives a restart and any process can render it.
Instructions are parsed by rules and change the settings; export renders the project in
a worker thread, one render at a time.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from backends.local import audio, images, moving, warmup
from backends.local import changes as ch
from backends.local import instructions as ins
from backends.local.clip import Media, make_draft, render_spec
from backends.local.projects import Project, Projects
from backends.local.render import RenderSpec, Slide, VideoSlide
from bot.config import Settings
from bot.errors import BadImage, NothingToExport, SessionLost, UnsupportedFile
from bot.media import AUDIO_SUFFIXES, IMAGE_SUFFIXES, VIDEO_SUFFIXES, suffix_of
from bot.ports.backend import (
    AgentEvent,
    BackendSession,
    Credits,
    ExportDone,
    ExportEvent,
    ExportProgress,
    ProjectState,
    TextMessage,
    UploadedFile,
)
from bot.ports.store import ProjectStore
from bot.words import Lang, say

log = logging.getLogger(__name__)

#: What the local renderer takes, for `UnsupportedFile`.
LOCAL_FORMATS = (
    "jpg", "png", "heic", "webp", "gif", "bmp", "tiff", "mp4", "mov", "webm", "mkv", "mp3", "m4a",
    "wav", "aac", "ogg", "flac",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class _Checked:
    """An uploaded file, checked: what it is and its size or length."""

    name: str
    kind: Literal["image", "video", "animation", "audio"]
    width: int | None = None
    height: int | None = None
    duration_s: float | None = None


def _safe_name(filename: str) -> str:
    base = Path(filename).name or "file"
    return re.sub(r"[^A-Za-z0-9._-]+", "_", base)[-80:] or "file"


class LocalBackend:
    """The local renderer: no account, no network, no GPU."""

    name = "local"

    def __init__(self, settings: Settings, store: ProjectStore) -> None:
        self._settings = settings
        self._projects = Projects(store, settings.data_dir / "local")
        # Two shared cores: one render at a time, others wait their turn.
        self._render_slot = asyncio.Semaphore(1)
        self._locks: dict[str, asyncio.Lock] = {}
        warmup.start()  # the compiled kernels load now, not on the first clip

    def _lock(self, session: BackendSession) -> asyncio.Lock:
        return self._locks.setdefault(session.session_id, asyncio.Lock())

    # --- the Backend protocol -------------------------------------------------------------

    async def open_session(self, language: Lang) -> BackendSession:
        """Start a new project folder."""
        session = BackendSession(uuid.uuid4().hex)
        await self._projects.save(session, Project())
        log.info("local session %s opened", session.session_id)
        return session

    async def upload(self, session: BackendSession, path: Path, filename: str) -> UploadedFile:
        """Copy a photo, a video, an animated GIF or an audio file into the project,
        checking it first."""
        suffix = suffix_of(filename) or suffix_of(path.name)
        checked = await asyncio.to_thread(self._inspect, path, filename, suffix)
        async with self._lock(session):
            project = await self._projects.load(session)
            index = len(project.photos) + (1 if project.music else 0) + 1
            stored = f"{index:03d}-{_safe_name(filename)}"
            await self._projects.add_file(session, stored, path)
            if checked.kind == "audio":
                project.music = Media(stored, checked.name, duration_s=checked.duration_s)
                # The user's own audio replaces a library track.
                project.settings = replace(project.settings, music=True, music_track=None)
            else:
                project.photos.append(
                    Media(stored, checked.name, checked.width, checked.height, checked.duration_s,
                          checked.kind)
                )  # fmt: skip
            project.rebuild()
            await self._projects.save(session, project)
        return UploadedFile(
            checked.name,
            "image" if checked.kind == "image" else "audio" if checked.kind == "audio" else "video",
            width=checked.width,
            height=checked.height,
            duration_s=checked.duration_s,
        )

    def _inspect(self, path: Path, filename: str, suffix: str) -> _Checked:
        """What the file is, checked (runs in a worker thread); raises `BadInput` or
        `UnsupportedFile`."""
        name = Path(filename).name or path.name
        if suffix in AUDIO_SUFFIXES:
            return _Checked(name, "audio", duration_s=audio.probe(path))
        limit = self._settings.max_input_seconds
        if suffix in VIDEO_SUFFIXES or (suffix == "gif" and images.animated(path)):
            found = moving.probe(path, limit)
            kind: Literal["video", "animation"] = "animation" if suffix == "gif" else "video"
            return _Checked(name, kind, found.width, found.height, found.duration_s)
        try:
            info = images.inspect(path)
        except BadImage:
            if suffix in IMAGE_SUFFIXES:
                raise
            raise UnsupportedFile(
                f"I can't use a .{suffix or '?'} file. I take photos (JPEG, PNG, HEIC, "
                "WebP, GIF), short videos (MP4, MOV, WebM, MKV) and music (MP3, M4A, WAV, OGG).",
                formats=LOCAL_FORMATS,
            ) from None
        return _Checked(name, "image", info.width, info.height)

    async def instruct(
        self, session: BackendSession, text: str, language: Lang
    ) -> AsyncIterator[AgentEvent]:
        """Apply one instruction to the clip and echo what changed; never renders."""
        async with self._lock(session):
            project = await self._projects.load(session)
            if not project.photos:
                yield TextMessage(say("local_photo_first", language))
                return
            parsed = ins.parse(text)
            changes = list(parsed.changes)
            notes: list[str] = []
            changes, unmet = ch.choose_music(changes, project.settings, project.music is not None)
            if unmet:
                notes.append(say("local_music_first", language))
            project.settings = ch.apply(project.settings, changes)
            if any(isinstance(c, ch.SetMotion) and c.move == "zoom_face" for c in changes):
                notes.extend(await self._face_notes(session, project, language))
            title = next((c.text for c in changes if isinstance(c, ch.SetTitle) and c.text), None)
            if title:
                from backends.local.overlay import missing_glyphs

                missing = await asyncio.to_thread(missing_glyphs, title)
                if missing:
                    notes.append(say("local_missing_glyphs", language, missing=missing))
            project.draft = make_draft(project.settings, project.photos, project.music)
            await self._projects.save(session, project)
        lines = [" · ".join(ch.describe(c, language) for c in changes)] if changes else []
        if parsed.unknown:
            examples = say("local_examples", language)
            lines.append(
                say("local_not_understood", language, text=parsed.unknown, examples=examples)
            )
        lines.extend(notes)
        # The engine follows this with the project's timeline (one summary for every
        # backend) and renders the clip when it changed.
        yield TextMessage("\n".join(lines), show_project=True)

    async def _face_notes(
        self, session: BackendSession, project: Project, language: Lang
    ) -> list[str]:
        """What to tell a user who asked to zoom in on the face when no photo has one."""
        from backends.local import faces

        if not faces.available():
            return [say("local_faces_off", language)]
        folder = await self._projects.fetch(session, [m.file for m in project.photos])
        for item in project.photos:
            found = (
                [] if item.moving else await asyncio.to_thread(faces.in_photo, folder / item.file)
            )
            if found:
                return []
        log.info("zoom on the face asked, no face found in session %s", session.session_id)
        return [say("local_no_face", language)]

    async def state(self, session: BackendSession) -> ProjectState:
        """The draft (empty until the first instruction after a photo)."""
        project = await self._projects.load(session)
        media = len(project.photos) + (1 if project.music else 0)
        return ProjectState(draft=project.draft or {}, user_id=None, media_count=media)

    async def credits(self) -> Credits:
        """Local rendering costs nothing."""
        return Credits(available=None, unlimited=True)

    async def export(
        self,
        session: BackendSession,
        state: ProjectState,
        dest_dir: Path,
        *,
        max_bytes: int | None = None,
        resume: str | None = None,
    ) -> AsyncIterator[ExportEvent]:
        """Render the project (its settings and files, not `state`'s draft) to an MP4 in
        `dest_dir`, reporting whole percents."""
        from backends.local.render import render

        project = await self._projects.load(session)
        if project.draft is None:
            # Photos but no instruction yet: there is no clip to render.
            raise NothingToExport("Say what to make of the photo first.")
        # Any process may render it: the files come from the store when not here yet.
        folder = await self._projects.fetch(session, project.files())
        spec = await asyncio.to_thread(self._spec, project, folder, dest_dir, max_bytes)
        out = dest_dir / f"clip-{session.session_id[:8]}-{int(time.time() * 1000)}.mp4"
        if self._render_slot.locked():
            yield ExportProgress("queued")
        async with self._render_slot:
            loop = asyncio.get_running_loop()
            percents: asyncio.Queue[int] = asyncio.Queue()
            last = -1

            def progress(done: int, total: int) -> None:
                nonlocal last
                pct = done * 100 // total
                if pct != last:
                    last = pct
                    loop.call_soon_threadsafe(percents.put_nowait, pct)

            yield ExportProgress("rendering", 0.0)
            job = asyncio.ensure_future(asyncio.to_thread(render, spec, out, progress))
            try:
                while True:
                    getter = asyncio.ensure_future(percents.get())
                    done, _ = await asyncio.wait({job, getter}, return_when=asyncio.FIRST_COMPLETED)
                    if getter in done:
                        pct = getter.result()
                        if pct > 0:
                            yield ExportProgress("rendering", float(pct))
                        continue
                    getter.cancel()
                    break
                result = job.result()
            finally:
                if not job.done():
                    # The thread cannot be stopped; keep the slot until it ends.
                    await asyncio.shield(job)
        log.info(
            "local render %s: %dx%d %.1fs %d bytes",
            session.session_id,
            result.width,
            result.height,
            result.duration_s,
            result.size_bytes,
        )
        yield ExportDone(
            path=result.path,
            url=None,
            width=result.width,
            height=result.height,
            duration_s=result.duration_s,
            size_bytes=result.size_bytes,
        )

    def _spec(
        self, project: Project, folder: Path, dest_dir: Path, max_bytes: int | None
    ) -> RenderSpec:
        music = project.music
        if music is not None and not (folder / music.file).exists():
            music = None
        spec = render_spec(
            project.settings,
            project.photos,
            music,
            folder,
            preset=self._settings.render_preset,
            crf=self._settings.render_crf,
            max_bitrate_kbps=self._settings.render_max_bitrate_kbps,
            music_lufs=self._settings.music_lufs,
            max_bytes=max_bytes,
        )
        missing = [
            s.path.name
            for s in spec.slides
            if isinstance(s, Slide | VideoSlide) and not s.path.exists()
        ]
        if missing:
            raise SessionLost(f"The photos of this project are gone ({', '.join(missing)}).")
        dest_dir.mkdir(parents=True, exist_ok=True)
        return spec

    async def project_link(self, session: BackendSession) -> str | None:
        """Local projects have no web page."""
        return None

    async def discard(self, session: BackendSession) -> None:
        """Delete the project: its state and files (in the store and in the cache)."""
        async with self._lock(session):
            await self._projects.discard(session)
        self._locks.pop(session.session_id, None)

    async def aclose(self) -> None:
        """Nothing to release: renders finish in their own threads."""

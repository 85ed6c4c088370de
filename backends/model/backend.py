"""`ModelBackend`: a diffusers image-to-video model on this machine's GPU behind the
`Backend` interface.

The conversation is the local renderer's: its rules read aspect, length, title, fades
and music from the caption, and the words they leave are the prompt. Export puts the
clip in the device's line (one generation at a time, in arrival order across chats),
generates the frames (kept as lossless footage in the project folder) and hands them to
the local renderer, which finishes the clip exactly as it finishes its own.
"""

from __future__ import annotations

import asyncio
import logging
import random
import shutil
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from backends.local import audio, images
from backends.local import changes as ch
from backends.local.clip import ASPECTS, Layout, Media
from backends.local.render import RenderResult
from backends.model import finish, footage
from backends.model.families import frame_count, generation_size
from backends.model.generate import Job, Stopped, free_memory, generate
from backends.model.line import Line
from backends.model.loader import LoadedModel
from backends.model.project import Project, Projects
from backends.model.prompt import split
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
from bot.words import Lang, say

log = logging.getLogger(__name__)

MODEL_FORMATS = (
    "jpg", "png", "heic", "webp", "gif", "bmp", "tiff", "mp3", "m4a", "wav", "aac", "ogg", "flac",
)  # fmt: skip
#: The share of the progress bar the denoising steps take; the finishing takes the rest.
STEPS_SHARE = 0.85


@dataclass(frozen=True, slots=True)
class _Plan:
    """One export, worked out before it waits in line."""

    session_id: str
    job: Job
    footage: Path
    #: The footage's frame rate: the model's, or slower to fill the clip.
    rate: Fraction
    finish: finish.Finish
    out: Path


class ModelBackend:
    """Generative image-to-video on the operator's own GPU."""

    name = "model"

    def __init__(self, settings: Settings, model: LoadedModel) -> None:
        self._settings = settings
        self._model = model
        self._projects = Projects(settings.data_dir / "model")
        self._line = Line()
        self._locks: dict[str, asyncio.Lock] = {}
        # Each clip being made: its stop flag and its worker, for shutdown.
        self._running: dict[threading.Event, asyncio.Future[RenderResult]] = {}

    @property
    def model(self) -> LoadedModel:
        """The loaded pipeline and its defaults."""
        return self._model

    def _lock(self, session: BackendSession) -> asyncio.Lock:
        return self._locks.setdefault(session.session_id, asyncio.Lock())

    # --- the project ----------------------------------------------------------------------

    async def open_session(self, language: Lang) -> BackendSession:
        """Start a new project folder, with its own seed."""
        session = BackendSession(uuid.uuid4().hex)
        self._projects.folder(session.session_id).mkdir(parents=True, exist_ok=True)
        self._projects.save(session.session_id, Project(seed=random.randrange(2**31)))
        log.info("model session %s opened", session.session_id)
        return session

    async def upload(self, session: BackendSession, path: Path, filename: str) -> UploadedFile:
        """Keep a photo (the latest is the one animated) or an audio file, checked first."""
        suffix = suffix_of(filename) or suffix_of(path.name)
        if suffix in VIDEO_SUFFIXES:
            raise UnsupportedFile(
                "The model animates photos; it does not take videos.", formats=MODEL_FORMATS
            )
        if suffix in AUDIO_SUFFIXES:
            duration: float | None = await asyncio.to_thread(audio.probe, path)
            info, kind = None, "audio"
        else:
            try:
                info = await asyncio.to_thread(images.inspect, path)
            except BadImage:
                if suffix in IMAGE_SUFFIXES:
                    raise
                raise UnsupportedFile(
                    f"A .{suffix or '?'} file is neither a photo nor music.", formats=MODEL_FORMATS
                ) from None
            duration, kind = None, "image"
        async with self._lock(session):
            project = self._projects.load(session.session_id)
            project.uploads += 1
            base = Path(filename).name or "file"
            stored = f"{project.uploads:03d}-{footage.key(name=base)[:6]}.{suffix or 'bin'}"
            folder = self._projects.folder(session.session_id)
            await asyncio.to_thread(shutil.copyfile, path, folder / stored)
            media = Media(
                stored,
                base,
                width=info.width if info else None,
                height=info.height if info else None,
                duration_s=duration,
            )
            old = project.photo if kind == "image" else project.music
            if old is not None:
                # One photo (and one music file) per project: the newer one takes its place.
                (folder / old.file).unlink(missing_ok=True)
            if kind == "image":
                project.replaced = project.photo is not None
                project.photo = media
            else:
                project.music = media
            if project.draft is not None:
                project.rebuild(self._model.family.label)
            self._projects.save(session.session_id, project)
        return UploadedFile(
            media.name,
            "image" if kind == "image" else "audio",
            width=media.width,
            height=media.height,
            duration_s=duration,
        )

    async def instruct(
        self, session: BackendSession, text: str, language: Lang
    ) -> AsyncIterator[AgentEvent]:
        """Apply the rules' changes, take the rest as the prompt, echo both; never renders."""
        family = self._model.family
        async with self._lock(session):
            project = self._projects.load(session.session_id)
            if project.photo is None:
                yield TextMessage(say("local_photo_first", language))
                return
            parts = split(text, camera_in_prompt=family.text)
            changes = list(parts.changes)
            notes: list[str] = []
            changes, unmet = ch.choose_music(changes, project.settings, project.music is not None)
            if unmet:
                notes.append(say("local_music_first", language))
            project.settings = ch.apply(project.settings, changes)
            echo = [ch.describe(c, language) for c in changes]
            if parts.prompt and family.text:
                project.prompt = parts.prompt
                echo.insert(0, say("model_prompt", language, prompt=parts.prompt))
            elif parts.prompt:
                notes.append(
                    say("model_no_words", language, model=family.label, prompt=parts.prompt)
                )
            if parts.camera and not family.text:
                notes.append(say("model_no_camera", language, model=family.label))
            if project.replaced:
                notes.append(say("model_latest_photo", language, name=project.photo.name))
                project.replaced = False
            project.rebuild(family.label)
            self._projects.save(session.session_id, project)
        lines = [" · ".join(echo)] if echo else []
        lines.extend(notes)
        yield TextMessage("\n".join(lines), show_project=True)

    async def state(self, session: BackendSession) -> ProjectState:
        """The draft (empty until the first instruction after a photo)."""
        project = self._projects.load(session.session_id)
        media = (project.photo is not None) + (project.music is not None)
        return ProjectState(draft=project.draft or {}, user_id=None, media_count=media)

    async def credits(self) -> Credits:
        """A model on your own machine costs no credits."""
        return Credits(available=None, unlimited=True)

    async def project_link(self, session: BackendSession) -> str | None:
        """Model projects have no web page."""
        return None

    async def discard(self, session: BackendSession) -> None:
        """Delete the project's folder (photo, music, footage, state)."""
        async with self._lock(session):
            folder = self._projects.folder(session.session_id)
            await asyncio.to_thread(shutil.rmtree, folder, ignore_errors=True)
        self._locks.pop(session.session_id, None)

    # --- export -----------------------------------------------------------------------------

    def _plan(self, session: BackendSession, dest_dir: Path) -> _Plan:
        project = self._projects.load(session.session_id)
        if project.draft is None or project.photo is None:
            raise NothingToExport("Say what to make of the photo first.")
        folder = self._projects.folder(session.session_id)
        photo = folder / project.photo.file
        if not photo.exists():
            raise SessionLost(f"The photo of this project is gone ({project.photo.file}).")
        m = self._model
        layout = Layout.of(project.settings, [project.photo])
        width, height = generation_size(m.family, m.short_side, ASPECTS[layout.aspect])
        seconds = layout.total_ms / 1000
        frames = frame_count(m.family, seconds, m.fps, m.frames)
        # Footage shorter than the clip (the model's most frames) plays slower to fill it,
        # rather than stopping on its last frame.
        rate = (
            Fraction(m.fps)
            if frames / m.fps >= seconds
            else Fraction(frames * 1000, layout.total_ms)
        )
        prompt = project.prompt if m.family.text else ""
        job = Job(photo, prompt, width, height, frames, project.seed)
        made_of = footage.key(job=job, model=str(m.folder), dtype=m.dtype, steps=m.steps, rate=rate)
        dest_dir.mkdir(parents=True, exist_ok=True)
        music = project.music if project.music and (folder / project.music.file).exists() else None
        return _Plan(
            session.session_id,
            job,
            footage.path_for(folder, made_of),
            rate,
            finish.Finish(
                project.settings,
                project.photo,
                music,
                folder,
                preset=self._settings.render_preset,
                crf=self._settings.render_crf,
                max_bitrate_kbps=self._settings.render_max_bitrate_kbps,
            ),
            dest_dir / f"model-{session.session_id[:8]}-{int(time.time() * 1000)}.mp4",
        )

    def _make(
        self, plan: _Plan, report: Callable[[float], None], stop: threading.Event
    ) -> RenderResult:
        """Generate (unless the footage is there already) and finish; on a worker thread."""
        share = 0.0
        if not plan.footage.exists():
            share = STEPS_SHARE
            frames = generate(
                self._model, plan.job, lambda done, total: report(share * done / total), stop
            )
            footage.write(frames, plan.rate, plan.footage)
            del frames
        if stop.is_set():
            raise Stopped("stopped before finishing")

        def finishing(done: int, total: int) -> None:
            report(share + (1.0 - share) * done / total)
            if stop.is_set():
                raise Stopped("stopped while finishing")

        return finish.render_clip(plan.finish, plan.footage, plan.out, finishing)

    async def export(
        self,
        session: BackendSession,
        state: ProjectState,
        dest_dir: Path,
        *,
        max_bytes: int | None = None,
        resume: str | None = None,
    ) -> AsyncIterator[ExportEvent]:
        """Wait for the device in line (saying how many clips are ahead), generate with
        progress per denoising step, and finish the clip as the local renderer does. A
        resumed export (after a restart) starts again: footage generated whole before the
        restart is used as it is, a generation cut off is made again."""
        plan = await asyncio.to_thread(self._plan, session, dest_dir)
        async with self._line.place() as place:
            async for ahead in place.moves():
                yield ExportProgress("queued", ahead=ahead)
            yield ExportProgress("rendering", 0.0)
            loop = asyncio.get_running_loop()
            percents: asyncio.Queue[int] = asyncio.Queue()
            last = 0

            def report(fraction: float) -> None:
                nonlocal last
                pct = int(fraction * 100)
                if pct > last:
                    last = pct
                    loop.call_soon_threadsafe(percents.put_nowait, pct)

            stop = threading.Event()
            job = asyncio.ensure_future(asyncio.to_thread(self._make, plan, report, stop))
            self._running[stop] = job
            try:
                while not job.done():
                    getter = asyncio.ensure_future(percents.get())
                    await asyncio.wait({job, getter}, return_when=asyncio.FIRST_COMPLETED)
                    if getter.done():
                        yield ExportProgress("rendering", float(getter.result()))
                    else:
                        getter.cancel()
                result = job.result()
            finally:
                if not job.done():
                    # Stopped (/new, shutdown): the worker ends after its current step and
                    # removes what it had half-written; the device is free only then.
                    stop.set()
                    await asyncio.wait({job})
                    if not job.cancelled() and not isinstance(job.exception(), Stopped):
                        log.warning("a stopped clip ended with %r", job.exception())
                self._running.pop(stop, None)
        log.info(
            "model clip %s: %dx%d %.1fs %d bytes",
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

    async def aclose(self) -> None:
        """Stop every clip between two steps, wait for the workers, free the device."""
        for stop in self._running:
            stop.set()
        if self._running:
            await asyncio.wait(set(self._running.values()))
        self._running.clear()
        await asyncio.to_thread(free_memory)

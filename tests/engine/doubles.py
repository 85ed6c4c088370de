"""In-test doubles for engine unit tests: a scripted backend and a recording channel (the
store is `storage.memory.MemoryStore`). End-to-end tests use the real store, client and
emulator."""

from __future__ import annotations

import asyncio
import itertools
from collections import deque
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.errors import NothingToExport, SessionLost, StreamDropped
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
from bot.ports.chat import Attachment, Button, MessageRef, ReplyAddress, VideoInfo
from bot.timeline import exportable
from bot.words import Lang


def video_draft(name: str, seconds: int = 5) -> dict[str, Any]:
    """A draft with one video segment."""
    return {"t": [{"tt": 0, "sg": [{"n": name, "s": 0, "d": seconds * 1000}]}]}


@dataclass
class Script:
    """What the next turn does: its events, the draft it leaves, how it ends."""

    events: Sequence[AgentEvent] = ()
    draft: dict[str, Any] | None = None
    drop: bool = False
    gate: asyncio.Event | None = None
    error: Exception | None = None


@dataclass
class ScriptedBackend:
    """A `Backend` that plays scripted turns; unscripted turns answer and add a clip."""

    name: str = "scripted"
    scripts: deque[Script] = field(default_factory=deque)
    drafts: dict[str, dict[str, Any]] = field(default_factory=dict)
    instructions: list[tuple[str, str]] = field(default_factory=list)
    uploads: list[tuple[str, str]] = field(default_factory=list)
    lost: set[str] = field(default_factory=set)
    discarded: list[str] = field(default_factory=list)
    export_limits: list[int | None] = field(default_factory=list)
    lose_next_instruct: bool = False
    fail_export: Exception | None = None
    fail_credits: Exception | None = None
    export_size: int = 2000
    export_url: str | None = "https://cdn.example/clip.mp4"
    #: after a dropped stream, the draft the state shows on the Nth read (None: never)
    draft_after_drop_reads: int | None = 1
    _reads_after_drop: int = 0
    _pending_drop_draft: dict[str, Any] | None = None
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    async def open_session(self, language: str) -> BackendSession:
        sid = f"s{next(self._ids)}"
        self.drafts[sid] = {"t": []}
        return BackendSession(sid, {"language": language})

    def _check(self, session: BackendSession) -> None:
        if session.session_id in self.lost:
            raise SessionLost("session not found", code=1002)

    async def upload(self, session: BackendSession, path: Path, filename: str) -> UploadedFile:
        self._check(session)
        assert await asyncio.to_thread(path.exists)
        self.uploads.append((session.session_id, filename))
        return UploadedFile(filename, "image")

    async def instruct(
        self, session: BackendSession, text: str, language: Lang
    ) -> AsyncIterator[AgentEvent]:
        self._check(session)
        if self.lose_next_instruct:
            self.lose_next_instruct = False
            self.lost.add(session.session_id)
            raise SessionLost("session not found", code=1002)
        self.instructions.append((session.session_id, text))
        script = (
            self.scripts.popleft()
            if self.scripts
            else Script([TextMessage(f"Here is your clip: {text}")], video_draft(text))
        )
        if script.error is not None:
            raise script.error
        for event in script.events:
            yield event
        if script.gate is not None:
            await script.gate.wait()
        if script.drop:
            self._pending_drop_draft = script.draft
            self._reads_after_drop = 0
            raise StreamDropped("connection reset")
        if script.draft is not None:
            self.drafts[session.session_id] = script.draft

    async def state(self, session: BackendSession) -> ProjectState:
        self._check(session)
        if self._pending_drop_draft is not None:
            self._reads_after_drop += 1
            if (
                self.draft_after_drop_reads is not None
                and self._reads_after_drop >= self.draft_after_drop_reads
            ):
                self.drafts[session.session_id] = self._pending_drop_draft
                self._pending_drop_draft = None
        return ProjectState(self.drafts[session.session_id], user_id="anon_1")

    async def credits(self) -> Credits:
        if self.fail_credits is not None:
            raise self.fail_credits
        return Credits(available=90, frozen=10, total=100)

    async def export(
        self,
        session: BackendSession,
        state: ProjectState,
        dest_dir: Path,
        *,
        max_bytes: int | None = None,
        resume: str | None = None,
    ) -> AsyncIterator[ExportEvent]:
        self.export_limits.append(max_bytes)
        if self.fail_export is not None:
            raise self.fail_export
        if not exportable(state.draft):
            raise NothingToExport("empty")
        for pct in (0.0, 50.0, 100.0):
            yield ExportProgress("rendering", pct)
        path = dest_dir / "clip.mp4"
        path.write_bytes(b"\0" * self.export_size)
        yield ExportDone(path, self.export_url, 1080, 1920, 5.0, self.export_size)

    async def project_link(self, session: BackendSession) -> str | None:
        return f"https://nemovideo.example/claim?s={session.session_id}"

    async def discard(self, session: BackendSession) -> None:
        self.discarded.append(session.session_id)

    async def aclose(self) -> None:
        return None


@dataclass(frozen=True)
class Sent:
    """One thing the channel was asked to do."""

    kind: str  # text, edit, video, link
    text: str
    ref: str = ""
    at: float = 0.0
    buttons: tuple[Button, ...] = ()
    path: Path | None = None


class RecordingChannel:
    """An `OutgoingChannel` that records everything."""

    def __init__(self, max_upload_bytes: int | None = None, chat_id: str = "1") -> None:
        self._max = max_upload_bytes
        self._address = ReplyAddress("test", chat_id)
        #: the delivery keys given with videos and links
        self.keys: list[str | None] = []
        self.sent: list[Sent] = []
        self.working_depth = 0
        self.working_entries = 0
        self._ids = itertools.count(1)
        self.changed = asyncio.Event()

    @property
    def max_upload_bytes(self) -> int | None:
        return self._max

    @property
    def address(self) -> ReplyAddress:
        return self._address

    def _now(self) -> float:
        return asyncio.get_running_loop().time()

    def _record(self, sent: Sent) -> MessageRef:
        self.sent.append(sent)
        self.changed.set()
        return MessageRef(sent.ref)

    async def send_text(self, text: str, buttons: Sequence[Button] = ()) -> MessageRef:
        return self._record(Sent("text", text, str(next(self._ids)), self._now(), tuple(buttons)))

    async def edit_text(self, ref: MessageRef, text: str) -> None:
        self._record(Sent("edit", text, ref.id, self._now()))

    async def send_video(
        self,
        path: Path,
        caption: str,
        info: VideoInfo,
        buttons: Sequence[Button] = (),
        *,
        key: str | None = None,
    ) -> MessageRef:
        self.keys.append(key)
        ref = str(next(self._ids))
        return self._record(Sent("video", caption, ref, self._now(), tuple(buttons), path))

    async def send_link(
        self,
        url: str,
        caption: str,
        buttons: Sequence[Button] = (),
        *,
        key: str | None = None,
    ) -> MessageRef:
        self.keys.append(key)
        ref = str(next(self._ids))
        return self._record(Sent("link", f"{url}\n{caption}", ref, self._now(), tuple(buttons)))

    @asynccontextmanager
    async def _working(self) -> AsyncIterator[None]:
        self.working_depth += 1
        self.working_entries += 1
        try:
            yield
        finally:
            self.working_depth -= 1

    def working(self) -> Any:
        return self._working()

    def texts(self, kind: str = "text") -> list[str]:
        return [s.text for s in self.sent if s.kind == kind]


#: The bytes of every test file, by reference: what `RecordingPlatform.fetch` serves.
FILES: dict[str, bytes] = {}


class RecordingPlatform:
    """The "test" `Platform`: files by reference from a dict, a channel per chat (made on
    first use, or registered by a test)."""

    name = "test"

    def __init__(self) -> None:
        self.files = FILES
        self.channels: dict[str, RecordingChannel] = {}
        self.fetched: list[str] = []

    def channel_for(self, address: ReplyAddress) -> RecordingChannel:
        return self.channels.setdefault(address.chat_id, RecordingChannel(chat_id=address.chat_id))

    async def fetch(self, attachment: Attachment, dest: Path) -> None:
        self.fetched.append(attachment.ref)
        await asyncio.to_thread(dest.write_bytes, self.files[attachment.ref])

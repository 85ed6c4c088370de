"""The one interface both backends implement: Nemo (cloud) and the local renderer.

The engine talks only to `Backend`. A backend raises only `bot.errors` exceptions.

The draft (timeline) is kept as the backend's JSON, in Nemo's short-key shape:

    {"t": [                                   # tracks
        {"tt": 0,                             # track type: 0 video, 1 audio, 7 text
         "sg": [                              # segments
            {"n": "city timelapse",           # name (what the summary shows)
             "s": 0, "d": 10000,              # start and duration, in ms
             "v": 0.35,                       # volume 0-1 (audio), optional
             "x": "Urban Dreams",             # the words (text), optional
             "m": {...}}],                    # anything else the backend keeps
         "m": {...}}],
     "m": {"title": "...", "width": 1080, "height": 1920, "fps": 30}}

Segment internals are not documented by Nemo: readers must be defensive (see
`bot.timeline`), and writers (the local renderer, the emulator) use the keys above.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from bot.words import Lang

# --- sessions and files ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BackendSession:
    """A backend's project for one chat. `extra` holds ids the backend needs later
    (Nemo: task_id, user_id); it is stored as JSON and must stay small strings."""

    session_id: str
    extra: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class UploadedFile:
    """A file the backend now holds in the session."""

    name: str
    kind: Literal["image", "audio", "video", "file"]
    url: str | None = None
    width: int | None = None
    height: int | None = None
    duration_s: float | None = None


@dataclass(frozen=True, slots=True)
class Credits:
    """The credit balance. `unlimited` is True for the local renderer."""

    available: int | None
    frozen: int | None = None
    total: int | None = None
    unlimited: bool = False


@dataclass(frozen=True, slots=True)
class ProjectState:
    """The latest state of a session's project.

    `draft` is the backend's draft JSON (shape above), passed back unchanged to export.
    `user_id` is the backend's user (Nemo: for the registration link), when known.
    """

    draft: Mapping[str, Any]
    user_id: str | None = None
    media_count: int = 0


# --- the agent's turn: a stream of events ---------------------------------------------


@dataclass(frozen=True, slots=True)
class TextDelta:
    """A partial chunk of the agent's words, as it streams."""

    text: str


@dataclass(frozen=True, slots=True)
class TextMessage:
    """The whole text of one agent message, emitted once (after its deltas, if any),
    already fit for a chat. `show_project`: the timeline summary should follow it;
    `offers_export`: the agent offered the video (the engine says it is coming, or how
    to get it)."""

    text: str
    show_project: bool = False
    offers_export: bool = False


@dataclass(frozen=True, slots=True)
class ToolCall:
    """The agent called a tool. Never shown to the user."""

    id: str | None
    name: str
    args: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ToolResult:
    """A tool returned. Never shown to the user."""

    id: str | None
    name: str
    response: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class KeepAlive:
    """The backend is still working (a heartbeat in any of its forms)."""


@dataclass(frozen=True, slots=True)
class StreamError:
    """A failure reported inside the stream (errorCode/errorMessage or {"error": ...})."""

    code: str | None
    message: str


AgentEvent = TextDelta | TextMessage | ToolCall | ToolResult | KeepAlive | StreamError


# --- export ----------------------------------------------------------------------------


#: Where an export is: handed to the renderer, waiting for it, rendering, fetching the file.
ExportStage = Literal["submitted", "queued", "rendering", "downloading"]


@dataclass(frozen=True, slots=True)
class ExportProgress:
    """An export is under way; `percent` is 0-100 when known. `ref` names the render
    on the backend once it exists (Nemo's render id), so a resumed export can follow it
    instead of starting another. `ahead`: while "queued", how many clips (of any chat)
    are before this one on the backend's device."""

    stage: ExportStage
    percent: float | None = None
    ref: str | None = None
    ahead: int | None = None


@dataclass(frozen=True, slots=True)
class ExportDone:
    """An export finished. `path` is the MP4 on disk (None if it could not be fetched);
    `url` is where it can be downloaded (None for the local renderer)."""

    path: Path | None
    url: str | None
    width: int
    height: int
    duration_s: float
    size_bytes: int | None = None


ExportEvent = ExportProgress | ExportDone


class Backend(Protocol):
    """What the engine needs of a backend. Implemented by `backends.nemo.NemoBackend`,
    `backends.local.LocalBackend` and `backends.model.ModelBackend`."""

    #: "nemo", "local" or "model"; also the key under which sessions are stored.
    name: str

    async def open_session(self, language: Lang) -> BackendSession:
        """Start a new project. `language` is "en" or "zh"."""
        ...

    async def upload(self, session: BackendSession, path: Path, filename: str) -> UploadedFile:
        """Add a file (photo, audio, video) to the session's project."""
        ...

    def instruct(
        self, session: BackendSession, text: str, language: Lang
    ) -> AsyncIterator[AgentEvent]:
        """Send one instruction and stream the agent's events until the turn ends; its
        words are for a chat in `language`.

        Raises `StreamDropped` if the stream breaks off (the turn may still be
        running: never send it again), `TurnTimeout` on the turn limits.
        """
        ...

    async def state(self, session: BackendSession) -> ProjectState:
        """Read the project's latest state."""
        ...

    async def credits(self) -> Credits:
        """The credit balance of the backend's user."""
        ...

    def export(
        self,
        session: BackendSession,
        state: ProjectState,
        dest_dir: Path,
        *,
        max_bytes: int | None = None,
        resume: str | None = None,
    ) -> AsyncIterator[ExportEvent]:
        """Render the draft to MP4: progress events, then exactly one `ExportDone`.

        `max_bytes` is the upload limit of the chat the clip goes to (None: no limit); a
        backend that controls its encoder keeps the file under it. `resume` is the `ref`
        of a render started before a restart: follow it if it can, else render anew.
        Raises `NothingToExport` when the draft has no segments, `RenderFailed` when the
        render fails.
        """
        ...

    async def project_link(self, session: BackendSession) -> str | None:
        """A link that opens the project in a browser (Nemo's claim link), if any."""
        ...

    async def discard(self, session: BackendSession) -> None:
        """The chat has left this project for a new one (`/new`): free what the backend
        keeps for it on this machine. It is never asked for again."""
        ...

    async def aclose(self) -> None:
        """Release connections and workers."""
        ...

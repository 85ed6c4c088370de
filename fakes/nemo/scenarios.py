"""The emulator's knobs: timings, the next turn's quirks, failures on demand, records."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from multidict import CIMultiDict


@dataclass
class EmulatorConfig:
    """Timings and shapes; change them on a running emulator (`emu.config.x = …`)."""

    text_s: float = 0.02
    edit_s: float = 0.08
    generation_s: float = 0.15
    keepalive_interval_s: float = 0.02
    keepalive_forms: tuple[str, ...] = ("event", "type", "empty", "comment")
    partial_chunks: int = 3
    render_pending_s: float = 0.03
    render_s: float = 0.12
    render_status_shape: str = "data"  # "data", "top" or "alternate"
    upload_shape: str = "files"  # "files" or "uploaded_files"
    upload_limit_bytes: int = 200 * 1024 * 1024
    initial_credits: int = 500
    silent_edit_ratio: float = 0.0  # share of edits that end with no text
    accept_any_token: bool = True  # unknown nmv_usr_… tokens become registered users
    keepalive_only_max_s: float = 60.0

    def update(self, values: dict[str, Any]) -> None:
        """Set the named fields (from the control endpoint)."""
        names = {f.name for f in fields(self)}
        for key, value in values.items():
            if key not in names:
                raise KeyError(key)
            setattr(self, key, tuple(value) if isinstance(value, list) else value)


@dataclass
class TurnScenario:
    """Quirks of one chat turn."""

    silent: bool = False  # no text at all; the state still changes
    drop: bool = False  # the connection drops mid-turn; the work still completes
    trailing_issue: bool = False  # "I encountered a temporary issue" after the reply
    gui_phrases: bool = False  # the reply speaks of buttons ("click Export", "点击导出")
    legacy_text: bool = False  # {"type":"text","content":…} instead of ADK events
    keepalive_only: bool = False  # nothing but keep-alives until the client gives up
    keepalive_form: str | None = None  # only this keep-alive form
    partial: bool = True  # stream the reply in partial chunks before the whole
    final: bool = True  # send the final non-partial event after the chunks
    unknown_fields: bool = True  # extra fields and unknown events the client must ignore
    error_code: str | None = None  # an errorCode/errorMessage event after the work
    bare_error: str | None = None  # a bare {"error": …} event after the work
    duration_s: float | None = None  # override the turn's length

    @classmethod
    def from_json(cls, values: dict[str, Any]) -> TurnScenario:
        """From the control endpoint's JSON."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in names})


@dataclass
class RenderScenario:
    """Quirks of the next render job."""

    fail: bool = False  # the render ends in failure
    no_output_url: bool = False  # completed, but no URL: the fallback download is needed


@dataclass
class Failure:
    """An error answered on demand instead of the next call to an endpoint."""

    code: int | None = None
    status: int | None = None
    html: bool = False
    message: str | None = None
    retry_after: str | None = None  # a Retry-After header on the error answer
    drop: bool = False  # the connection is cut before any answer (a network blink)


@dataclass(frozen=True)
class Received:
    """A request the emulator received."""

    method: str
    path: str
    headers: CIMultiDict[str]  # names in any case, as HTTP has them
    json: Any
    at: float
    #: the path and query exactly as they came on the wire
    raw_path: str = ""


@dataclass
class Turn:
    """A chat turn the emulator ran (for assertions on duplicates and timing)."""

    session_id: str
    message: str
    kind: str
    started: float
    ended: float | None = None


@dataclass
class RenderJob:
    """A render job and its progress."""

    job_id: str
    session_id: str
    draft: dict[str, Any]
    scenario: RenderScenario
    status: str = "pending"
    progress: float = 0.0
    file: str | None = None
    completed_at: float | None = None
    polls: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


ENDPOINTS = (
    "anonymous-token", "session", "claim", "chat", "upload", "credits", "state",
    "render", "render-status", "download",
)  # fmt: skip

"""The store port: what must survive a restart, and nothing else. `storage.sqlite`
implements it for good, `storage.memory` for tests and one-shot runs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from bot.ports.backend import BackendSession
from bot.ports.chat import ChatKey
from bot.words import Lang

RequestState = Literal["queued", "running", "done", "failed"]
#: A render job moves through the export stages, then ends completed or failed.
JobState = Literal["submitted", "queued", "rendering", "downloading", "completed", "failed"]


@dataclass(frozen=True, slots=True)
class ChatSettings:
    """Per-chat settings the user chose."""

    language: Lang = "en"


@dataclass(frozen=True, slots=True)
class Identity:
    """A backend identity (Nemo: the client id, kept for good, and the token)."""

    client_id: str
    token: str | None = None


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """A recorded request as the operator sees it (the status page)."""

    id: int
    chat: ChatKey
    sender_id: str
    text: str
    state: RequestState
    detail: str | None
    created_at: float
    updated_at: float


#: How a clip reached its chat: the file itself, or a share link to it.
Delivery = Literal["file", "link"]


@dataclass(frozen=True, slots=True)
class ClipRecord:
    """A clip delivered to a user: what quotas count and `/stats` measures."""

    #: "platform:user id" of who asked
    user: str
    chat: ChatKey
    #: from the request's message to the clip handed to the chat
    seconds: float
    render_s: float
    size_bytes: int | None
    delivery: Delivery
    #: when it was delivered (Unix time)
    at: float


@dataclass(frozen=True, slots=True)
class RenderJob:
    """A render the backend runs for a chat."""

    job_id: str
    chat: ChatKey
    backend: str
    state: JobState
    progress: float | None = None
    output_url: str | None = None


class Store(Protocol):
    """Everything persisted. All methods are safe to call from many tasks at once."""

    async def get_chat_settings(self, chat: ChatKey) -> ChatSettings | None:
        """The chat's settings; None for a chat that has chosen nothing yet."""
        ...

    async def set_chat_settings(self, chat: ChatKey, settings: ChatSettings) -> None:
        """Create or replace the chat's settings."""
        ...

    async def get_session(self, chat: ChatKey, backend: str) -> BackendSession | None:
        """The chat's session on that backend, if one was opened."""
        ...

    async def save_session(self, chat: ChatKey, backend: str, session: BackendSession) -> None:
        """Create or replace the chat's session on that backend."""
        ...

    async def delete_session(self, chat: ChatKey, backend: str) -> None:
        """Forget the chat's session (`/new`, or the backend lost it)."""
        ...

    async def get_identity(self, backend: str) -> Identity | None:
        """The stored identity for a backend."""
        ...

    async def save_identity(self, backend: str, identity: Identity) -> None:
        """Create or replace the identity for a backend."""
        ...

    async def add_request(self, chat: ChatKey, sender_id: str, text: str) -> int:
        """Record a request (a message that starts work); returns its id."""
        ...

    async def set_request_state(
        self, request_id: int, state: RequestState, detail: str | None = None
    ) -> None:
        """Move a request to a new state."""
        ...

    async def save_job(self, job: RenderJob) -> None:
        """Create or update a render job."""
        ...

    async def get_job(self, job_id: str) -> RenderJob | None:
        """A render job by id."""
        ...

    async def mark_update(self, platform: str, update_id: str) -> bool:
        """Record a platform update id; True the first time, False if already handled."""
        ...

    # --- a public bot: the block list, usage, the operator's views ---------------------

    async def block_user(self, user: str, by: str) -> None:
        """Block "platform:id" from using the bot (`by`: the admin who did it)."""
        ...

    async def unblock_user(self, user: str) -> bool:
        """Lift a block; False when the user was not blocked."""
        ...

    async def is_blocked(self, user: str) -> bool:
        """Whether "platform:id" is blocked."""
        ...

    async def blocked_users(self) -> list[str]:
        """Every blocked "platform:id", oldest block first."""
        ...

    async def add_clip(self, clip: ClipRecord) -> None:
        """Record a delivered clip."""
        ...

    async def clips_since(self, since: float, user: str | None = None) -> list[ClipRecord]:
        """Clips delivered at or after `since` (Unix time), of one user or of everyone."""
        ...

    async def add_credit_spend(self, user: str, credits: float, at: float) -> None:
        """Record backend credits a user's request spent."""
        ...

    async def credits_spent(self, user: str, since: float) -> float:
        """The credits a user spent at or after `since`."""
        ...

    async def request_outcomes(self, since: float) -> dict[tuple[RequestState, str | None], int]:
        """Requests made at or after `since`, counted by (state, detail)."""
        ...

    async def recent_requests(self, limit: int) -> list[RequestRecord]:
        """The latest requests, newest first."""
        ...

    async def ping(self) -> None:
        """Raise when the store cannot be reached (the health check)."""
        ...

    async def close(self) -> None:
        """Close the connection."""
        ...

"""The store port: what must survive a restart, and nothing else. `storage.sqlite`
implements it for good, `storage.memory` for tests and one-shot runs.

The heart of it is the durable request queue. A message that starts work is written
here (`add_request`) before the platform considers it delivered; a worker claims it
(`claim_requests`) with a lease it renews while it works (`renew_leases`), records how
far it got (`checkpoint_request`) and finishes it (`finish_request`). A chat's requests
run one at a time and oldest first: only the oldest unfinished request of a chat can be
claimed. A lease that runs out (its process died) makes the request claimable again, and
the next worker resumes it from its step.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from bot.ports.backend import BackendSession
from bot.ports.chat import ChatKey
from bot.words import Lang

RequestState = Literal["queued", "running", "done", "failed"]
#: How far a request got, so a resume knows what to do again and what never to:
#: start → uploading → instructing (the turn may have been sent) → exporting →
#: delivered.
Step = Literal["start", "uploading", "instructing", "exporting", "delivered"]
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


@dataclass(frozen=True, slots=True)
class NewRequest:
    """A request to queue: who asked in which chat, a one-line summary for the operator,
    and the payload (JSON-able) from which any process can run it."""

    chat: ChatKey
    sender_id: str
    text: str
    payload: Mapping[str, Any] = field(default_factory=dict)
    #: The message it came from (platform, chat, message id, item): a request with the
    #: key of one already queued is that one (a message handled again after a crash).
    key: str | None = None


@dataclass(frozen=True, slots=True)
class StoredRequest:
    """A request as the store keeps it."""

    id: int
    chat: ChatKey
    sender_id: str
    text: str
    state: RequestState
    step: Step
    payload: Mapping[str, Any]
    #: What the work so far left for a resume (the status message, the session, the
    #: project before the turn, the render's id …), JSON-able.
    checkpoint: Mapping[str, Any]
    detail: str | None
    #: Claims since the request last moved to a new step (1: its first run of it).
    attempts: int
    created_at: float
    updated_at: float


@dataclass(frozen=True, slots=True)
class Screening:
    """What the intake reads for one message, in one trip to the store: the chat's
    settings, whether the sender is blocked, the open requests of the chat and of the
    sender, and the sender's clips since a time."""

    settings: ChatSettings | None
    blocked: bool
    #: queued or running, oldest first: the chat's and the sender's (as `open_requests`)
    open_requests: Sequence[StoredRequest]
    clips_since: int


class ProjectStore(Protocol):
    """A backend's projects, kept in the store (the local renderer's: no shared disk
    needed); the part of `Store` that backend needs."""

    async def load_project(self, backend: str, project_id: str) -> str | None:
        """A project's saved state (JSON text), or None when there is no such project."""
        ...

    async def save_project(self, backend: str, project_id: str, state: str) -> None:
        """Create or replace a project's state."""
        ...

    async def save_project_file(
        self, backend: str, project_id: str, name: str, data: bytes
    ) -> None:
        """Keep a file of a project (a photo, a video, music) for any process to fetch."""
        ...

    async def load_project_file(self, backend: str, project_id: str, name: str) -> bytes | None:
        """A file of a project, or None when it is not kept."""
        ...

    async def delete_project(self, backend: str, project_id: str) -> None:
        """Forget a project and its files."""
        ...


class IdentityStore(Protocol):
    """A backend's account identity (the Nemo client's); the part of `Store` it needs."""

    async def get_identity(self, backend: str) -> Identity | None:
        """The stored identity for a backend."""
        ...

    async def save_identity(self, backend: str, identity: Identity) -> None:
        """Create or replace the identity for a backend."""
        ...


class Store(ProjectStore, IdentityStore, Protocol):
    """Everything persisted. All methods are safe to call from many tasks at once."""

    # --- chats, sessions -----------------------------------------------------------------

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

    async def stale_sessions(
        self, backend: str, before: float
    ) -> list[tuple[ChatKey, BackendSession]]:
        """Sessions of that backend last saved before `before` (for retention)."""
        ...

    # --- the request queue ---------------------------------------------------------------

    async def add_request(self, request: NewRequest) -> int:
        """Queue a request (durably: it is stored when this returns); returns its id."""
        ...

    async def get_request(self, request_id: int) -> StoredRequest | None:
        """A request by id."""
        ...

    async def unfinished_requests(self, chat: ChatKey) -> int:
        """How many of the chat's requests are queued or running."""
        ...

    async def open_requests(
        self, *, chat: ChatKey | None = None, sender: tuple[str, str] | None = None
    ) -> list[StoredRequest]:
        """Requests queued or running, oldest first: those of `chat` or of `sender`
        (platform, sender id) when either is given, else every one."""
        ...

    async def screening(
        self, chat: ChatKey, sender: tuple[str, str], user: str, since: float
    ) -> Screening:
        """In one trip: `get_chat_settings(chat)`, `is_blocked(user)`,
        `open_requests(chat=chat, sender=sender)` and how many clips `user` has had since
        `since` (the intake's reads, one after the other, were its first reply's delay
        with many chats at once)."""
        ...

    async def claim_requests(
        self, owner: str, platforms: Sequence[str], limit: int, lease_s: float
    ) -> list[StoredRequest]:
        """Claim up to `limit` requests for `owner`: for each chat of `platforms`, its
        oldest unfinished request, when it is queued or its lease ran out. Each claimed
        request is running, leased to `owner` for `lease_s` seconds."""
        ...

    async def renew_leases(
        self, owner: str, request_ids: Sequence[int], lease_s: float
    ) -> set[int]:
        """Extend the leases of these requests while `owner` holds them; returns the ids
        it still holds."""
        ...

    async def checkpoint_request(
        self, request_id: int, owner: str, step: Step, checkpoint: Mapping[str, Any]
    ) -> bool:
        """Record how far the request got; False when `owner` no longer holds it."""
        ...

    async def finish_request(
        self, request_id: int, owner: str, state: RequestState, detail: str | None = None
    ) -> bool:
        """End the request (done or failed); False when `owner` no longer holds it."""
        ...

    async def release_requests(self, owner: str) -> int:
        """Give up `owner`'s leases at once (a shutdown): the requests stay where they
        got to, for the next worker to resume. Returns how many."""
        ...

    async def recover_leases(self) -> int:
        """At a worker's start: free the leases of workers known to be dead, so their
        requests resume at once instead of when the leases run out. Returns how many."""
        ...

    async def notify_work(self) -> None:
        """Wake the workers waiting in `wait_for_work` (in every process)."""
        ...

    async def wait_for_work(self, timeout_s: float) -> None:
        """Return when `notify_work` was called (anywhere), or after `timeout_s`."""
        ...

    # --- render jobs ---------------------------------------------------------------------

    async def save_job(self, job: RenderJob) -> None:
        """Create or update a render job."""
        ...

    async def get_job(self, job_id: str) -> RenderJob | None:
        """A render job by id."""
        ...

    # --- platform updates ----------------------------------------------------------------

    async def mark_update(self, platform: str, update_id: str) -> bool:
        """Record a platform update id; True the first time, False if already handled."""
        ...

    async def receive_update(self, platform: str, update_id: str, payload: str) -> bool:
        """Keep a raw update until it is handled; False if it was received before."""
        ...

    async def update_handled(self, platform: str, update_id: str) -> None:
        """The update was answered or queued: it need not be handled again."""
        ...

    async def unhandled_updates(self, platform: str) -> list[tuple[str, str]]:
        """(update id, payload) of updates received but never handled, oldest first."""
        ...

    # --- leadership ----------------------------------------------------------------------

    async def hold_lock(self, name: str, owner: str, ttl_s: float) -> bool:
        """Take or keep the named lock for `ttl_s` seconds: True while `owner` holds it
        (it was free, expired, or already theirs). One Telegram poller at a time."""
        ...

    async def release_lock(self, name: str, owner: str) -> None:
        """Let the named lock go, if `owner` holds it."""
        ...

    # --- upkeep --------------------------------------------------------------------------

    async def prune(self, before: float) -> Mapping[str, int]:
        """Forget what ended before `before`: requests (an unfinished one untouched that
        long is dead too), render jobs, handled updates. Returns how many of each went."""
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

    async def recent_requests(self, limit: int) -> list[StoredRequest]:
        """The latest requests, newest first."""
        ...

    async def ping(self) -> None:
        """Raise when the store cannot be reached (the health check)."""
        ...

    async def close(self) -> None:
        """Close the connection."""
        ...

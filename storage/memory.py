"""`Store` kept in memory: for tests and one-shot runs (`clipbot animate`).

It behaves as the SQLite store does, but nothing survives the process.
"""

from __future__ import annotations

import itertools
import time

from bot.ports.backend import BackendSession
from bot.ports.chat import ChatKey
from bot.ports.store import (
    ChatSettings,
    ClipRecord,
    Identity,
    RenderJob,
    RequestRecord,
    RequestState,
)


class MemoryStore:
    """The in-memory `bot.ports.store.Store`."""

    def __init__(self) -> None:
        self.chats: dict[ChatKey, ChatSettings] = {}
        self.sessions: dict[tuple[ChatKey, str], BackendSession] = {}
        self.identities: dict[str, Identity] = {}
        #: id → (chat, sender id, text, state); the detail of failures apart
        self.requests: dict[int, tuple[ChatKey, str, str, RequestState]] = {}
        self.request_details: dict[int, str | None] = {}
        self.jobs: dict[str, RenderJob] = {}
        self.updates: dict[tuple[str, str], float] = {}
        #: id → (created, updated) Unix times
        self.request_times: dict[int, tuple[float, float]] = {}
        self.blocked: dict[str, str] = {}
        self.clips: list[ClipRecord] = []
        self.spends: list[tuple[str, float, float]] = []
        self.closed = False
        self._ids = itertools.count(1)

    async def get_chat_settings(self, chat: ChatKey) -> ChatSettings | None:
        """The chat's settings; None for a chat that has chosen nothing yet."""
        return self.chats.get(chat)

    async def set_chat_settings(self, chat: ChatKey, settings: ChatSettings) -> None:
        """Create or replace the chat's settings."""
        self.chats[chat] = settings

    async def get_session(self, chat: ChatKey, backend: str) -> BackendSession | None:
        """The chat's session on that backend, if one was opened."""
        return self.sessions.get((chat, backend))

    async def save_session(self, chat: ChatKey, backend: str, session: BackendSession) -> None:
        """Create or replace the chat's session on that backend."""
        self.sessions[(chat, backend)] = session

    async def delete_session(self, chat: ChatKey, backend: str) -> None:
        """Forget the chat's session."""
        self.sessions.pop((chat, backend), None)

    async def get_identity(self, backend: str) -> Identity | None:
        """The stored identity for a backend."""
        return self.identities.get(backend)

    async def save_identity(self, backend: str, identity: Identity) -> None:
        """Create or replace the identity for a backend."""
        self.identities[backend] = identity

    async def add_request(self, chat: ChatKey, sender_id: str, text: str) -> int:
        """Record a request; returns its id."""
        request_id = next(self._ids)
        self.requests[request_id] = (chat, sender_id, text, "queued")
        now = time.time()
        self.request_times[request_id] = (now, now)
        return request_id

    async def set_request_state(
        self, request_id: int, state: RequestState, detail: str | None = None
    ) -> None:
        """Move a request to a new state."""
        chat, sender_id, text, _ = self.requests[request_id]
        self.requests[request_id] = (chat, sender_id, text, state)
        self.request_details[request_id] = detail
        created, _ = self.request_times.get(request_id, (time.time(), 0.0))
        self.request_times[request_id] = (created, time.time())

    async def get_request_state(self, request_id: int) -> tuple[RequestState, str | None] | None:
        """A request's state and detail."""
        found = self.requests.get(request_id)
        return None if found is None else (found[3], self.request_details.get(request_id))

    async def save_job(self, job: RenderJob) -> None:
        """Create or update a render job."""
        old = self.jobs.get(job.job_id)
        if old is not None and job.output_url is None:
            job = RenderJob(job.job_id, job.chat, job.backend, job.state, job.progress,
                            old.output_url)  # fmt: skip
        self.jobs[job.job_id] = job

    async def get_job(self, job_id: str) -> RenderJob | None:
        """A render job by id."""
        return self.jobs.get(job_id)

    async def mark_update(self, platform: str, update_id: str) -> bool:
        """Record a platform update id; True the first time."""
        key = (platform, update_id)
        if key in self.updates:
            return False
        self.updates[key] = time.time()
        return True

    async def block_user(self, user: str, by: str) -> None:
        """Block "platform:id" from using the bot."""
        self.blocked.setdefault(user, by)

    async def unblock_user(self, user: str) -> bool:
        """Lift a block; False when the user was not blocked."""
        return self.blocked.pop(user, None) is not None

    async def is_blocked(self, user: str) -> bool:
        """Whether "platform:id" is blocked."""
        return user in self.blocked

    async def blocked_users(self) -> list[str]:
        """Every blocked "platform:id", oldest block first."""
        return list(self.blocked)

    async def add_clip(self, clip: ClipRecord) -> None:
        """Record a delivered clip."""
        self.clips.append(clip)

    async def clips_since(self, since: float, user: str | None = None) -> list[ClipRecord]:
        """Clips delivered at or after `since`, of one user or of everyone."""
        found = [c for c in self.clips if c.at >= since and user in (None, c.user)]
        return sorted(found, key=lambda c: c.at)

    async def add_credit_spend(self, user: str, credits: float, at: float) -> None:
        """Record backend credits a user's request spent."""
        self.spends.append((user, credits, at))

    async def credits_spent(self, user: str, since: float) -> float:
        """The credits a user spent at or after `since`."""
        return float(sum(n for who, n, at in self.spends if who == user and at >= since))

    async def request_outcomes(self, since: float) -> dict[tuple[RequestState, str | None], int]:
        """Requests made at or after `since`, counted by (state, detail)."""
        counts: dict[tuple[RequestState, str | None], int] = {}
        for request_id, (_, _, _, state) in self.requests.items():
            if self.request_times[request_id][0] >= since:
                key = (state, self.request_details.get(request_id))
                counts[key] = counts.get(key, 0) + 1
        return counts

    async def recent_requests(self, limit: int) -> list[RequestRecord]:
        """The latest requests, newest first."""
        found = []
        for request_id in sorted(self.requests, reverse=True)[:limit]:
            chat, sender_id, text, state = self.requests[request_id]
            created, updated = self.request_times[request_id]
            detail = self.request_details.get(request_id)
            found.append(
                RequestRecord(request_id, chat, sender_id, text, state, detail, created, updated)
            )
        return found

    async def ping(self) -> None:
        """Raise once closed, as a closed database would."""
        if self.closed:
            raise ConnectionError("the store is closed")

    async def close(self) -> None:
        """Nothing to release; a closed store fails its health check."""
        self.closed = True

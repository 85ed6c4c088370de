"""`Store` kept in memory: for tests and one-shot runs (`clipbot animate`).

It keeps the same contract as the SQLite store (the store contract tests run on both),
but nothing survives the process.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from bot.ports.backend import BackendSession
from bot.ports.chat import ChatKey
from bot.ports.store import (
    ChatSettings,
    Identity,
    NewRequest,
    RenderJob,
    RequestState,
    Screening,
    Step,
    StoredRequest,
)
from storage.memory_public import MemoryPublic
from storage.wakeup import Wakeup

_OPEN = ("queued", "running")


class MemoryStore(MemoryPublic):
    """The in-memory `bot.ports.store.Store`."""

    def __init__(self) -> None:
        self.chats: dict[ChatKey, ChatSettings] = {}
        self.sessions: dict[tuple[ChatKey, str], BackendSession] = {}
        self._saved: dict[tuple[ChatKey, str], float] = {}
        self.identities: dict[str, Identity] = {}
        self.requests: dict[int, StoredRequest] = {}
        self.jobs: dict[str, RenderJob] = {}
        self._job_times: dict[str, float] = {}
        self.updates: dict[tuple[str, str], float] = {}
        self.inbox: dict[tuple[str, str], tuple[str, float | None]] = {}
        self.locks: dict[str, tuple[str, float]] = {}
        self.projects: dict[tuple[str, str], str] = {}
        self.project_files: dict[tuple[str, str, str], bytes] = {}
        self._owners: dict[int, tuple[str | None, float]] = {}
        super().__init__()
        self.closed = False
        self._ids = itertools.count(1)
        self._keys: dict[str, int] = {}
        self._wakeup = Wakeup()

    # --- chats, sessions, identities -----------------------------------------------------

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
        self._saved[(chat, backend)] = time.time()

    async def delete_session(self, chat: ChatKey, backend: str) -> None:
        """Forget the chat's session."""
        self.sessions.pop((chat, backend), None)

    async def stale_sessions(
        self, backend: str, before: float
    ) -> list[tuple[ChatKey, BackendSession]]:
        """Sessions of that backend last saved before `before`."""
        return [
            (chat, session)
            for (chat, b), session in self.sessions.items()
            if b == backend and self._saved[(chat, b)] < before
        ]

    async def get_identity(self, backend: str) -> Identity | None:
        """The stored identity for a backend."""
        return self.identities.get(backend)

    async def save_identity(self, backend: str, identity: Identity) -> None:
        """Create or replace the identity for a backend."""
        self.identities[backend] = identity

    # --- the request queue ---------------------------------------------------------------

    async def add_request(self, request: NewRequest) -> int:
        """Queue a request; returns its id (that of the one with the same key, if any)."""
        if request.key is not None and request.key in self._keys:
            return self._keys[request.key]
        request_id = next(self._ids)
        if request.key is not None:
            self._keys[request.key] = request_id
        now = time.time()
        self.requests[request_id] = StoredRequest(
            id=request_id,
            chat=request.chat,
            sender_id=request.sender_id,
            text=request.text,
            state="queued",
            step="start",
            payload=dict(request.payload),
            checkpoint={},
            detail=None,
            attempts=0,
            created_at=now,
            updated_at=now,
        )
        self._owners[request_id] = (None, 0.0)
        await self.notify_work()
        return request_id

    async def get_request(self, request_id: int) -> StoredRequest | None:
        """A request by id."""
        return self.requests.get(request_id)

    async def unfinished_requests(self, chat: ChatKey) -> int:
        """How many of the chat's requests are queued or running."""
        return sum(1 for r in self.requests.values() if r.chat == chat and r.state in _OPEN)

    async def open_requests(
        self, *, chat: ChatKey | None = None, sender: tuple[str, str] | None = None
    ) -> list[StoredRequest]:
        """Requests queued or running, of `chat` or `sender` when given, oldest first."""

        def wanted(r: StoredRequest) -> bool:
            if chat is None and sender is None:
                return True
            return r.chat == chat or (r.chat.platform, r.sender_id) == sender

        return sorted(
            (r for r in self.requests.values() if r.state in _OPEN and wanted(r)),
            key=lambda r: r.id,
        )

    async def screening(
        self, chat: ChatKey, sender: tuple[str, str], user: str, since: float
    ) -> Screening:
        """The intake's reads for one message (see the port)."""
        return Screening(
            self.chats.get(chat),
            user in self.blocked,
            await self.open_requests(chat=chat, sender=sender),
            len(await self.clips_since(since, user)),
        )

    async def claim_requests(
        self, owner: str, platforms: Sequence[str], limit: int, lease_s: float
    ) -> list[StoredRequest]:
        """Claim the oldest unfinished request of each chat, when queued or expired."""
        now = time.time()
        heads: dict[ChatKey, StoredRequest] = {}
        for request in sorted(self.requests.values(), key=lambda r: r.id):
            if request.state in _OPEN and request.chat not in heads:
                heads[request.chat] = request
        claimed: list[StoredRequest] = []
        for request in sorted(heads.values(), key=lambda r: r.id):
            if len(claimed) >= limit:
                break
            if request.chat.platform not in platforms:
                continue
            if request.state == "running" and self._owners[request.id][1] >= now:
                continue
            updated = replace(
                request, state="running", attempts=request.attempts + 1, updated_at=now
            )
            self.requests[request.id] = updated
            self._owners[request.id] = (owner, now + lease_s)
            claimed.append(updated)
        return claimed

    async def renew_leases(
        self, owner: str, request_ids: Sequence[int], lease_s: float
    ) -> set[int]:
        """Extend the leases of these requests while `owner` holds them."""
        held = {rid for rid in request_ids if self._holds(rid, owner)}
        for rid in held:
            self._owners[rid] = (owner, time.time() + lease_s)
        return held

    def _holds(self, request_id: int, owner: str) -> bool:
        request = self.requests.get(request_id)
        return (
            request is not None
            and request.state == "running"
            and self._owners[request_id][0] == owner
        )

    async def checkpoint_request(
        self, request_id: int, owner: str, step: Step, checkpoint: Mapping[str, Any]
    ) -> bool:
        """Record how far the request got; False when `owner` no longer holds it."""
        if not self._holds(request_id, owner):
            return False
        before = self.requests[request_id]
        self.requests[request_id] = replace(
            before, step=step, checkpoint=dict(checkpoint), updated_at=time.time(),
            attempts=before.attempts if before.step == step else 1,
        )  # fmt: skip
        return True

    async def finish_request(
        self, request_id: int, owner: str, state: RequestState, detail: str | None = None
    ) -> bool:
        """End the request; False when `owner` no longer holds it."""
        if not self._holds(request_id, owner):
            return False
        self.requests[request_id] = replace(
            self.requests[request_id], state=state, detail=detail, updated_at=time.time()
        )
        self._owners[request_id] = (None, 0.0)
        await self.notify_work()
        return True

    async def release_requests(self, owner: str) -> int:
        """Give up `owner`'s leases at once."""
        mine = [rid for rid, (who, _) in self._owners.items() if who == owner]
        for rid in mine:
            self._owners[rid] = (None, 0.0)
        return sum(1 for rid in mine if self.requests[rid].state == "running")

    async def recover_leases(self) -> int:
        """Nothing: a memory store dies with its workers."""
        return 0

    async def notify_work(self) -> None:
        """Wake the workers waiting in `wait_for_work`."""
        self._wakeup.notify()

    async def wait_for_work(self, timeout_s: float) -> None:
        """Return when `notify_work` was called, or after `timeout_s`."""
        await self._wakeup.wait(timeout_s)

    # --- render jobs ---------------------------------------------------------------------

    async def save_job(self, job: RenderJob) -> None:
        """Create or update a render job (a known output URL is kept)."""
        old = self.jobs.get(job.job_id)
        if old is not None and job.output_url is None:
            job = replace(job, output_url=old.output_url)
        self.jobs[job.job_id] = job
        self._job_times[job.job_id] = time.time()

    async def get_job(self, job_id: str) -> RenderJob | None:
        """A render job by id."""
        return self.jobs.get(job_id)

    # --- platform updates ----------------------------------------------------------------

    async def mark_update(self, platform: str, update_id: str) -> bool:
        """Record a platform update id; True the first time."""
        key = (platform, update_id)
        if key in self.updates:
            return False
        self.updates[key] = time.time()
        return True

    async def receive_update(self, platform: str, update_id: str, payload: str) -> bool:
        """Keep a raw update until it is handled; False if it was received before."""
        key = (platform, update_id)
        if key in self.inbox:
            return False
        self.inbox[key] = (payload, None)
        return True

    async def update_handled(self, platform: str, update_id: str) -> None:
        """The update need not be handled again."""
        if (platform, update_id) in self.inbox:
            self.inbox[(platform, update_id)] = ("", time.time())

    async def unhandled_updates(self, platform: str) -> list[tuple[str, str]]:
        """(update id, payload) of updates received but never handled, oldest first."""
        return [(u, p) for (pl, u), (p, at) in self.inbox.items() if pl == platform and at is None]

    # --- a backend's projects ------------------------------------------------------------

    async def load_project(self, backend: str, project_id: str) -> str | None:
        """A project's saved state, or None."""
        return self.projects.get((backend, project_id))

    async def save_project(self, backend: str, project_id: str, state: str) -> None:
        """Create or replace a project's state."""
        self.projects[(backend, project_id)] = state

    async def save_project_file(
        self, backend: str, project_id: str, name: str, data: bytes
    ) -> None:
        """Keep a file of a project."""
        self.project_files[(backend, project_id, name)] = data

    async def load_project_file(self, backend: str, project_id: str, name: str) -> bytes | None:
        """A file of a project, or None."""
        return self.project_files.get((backend, project_id, name))

    async def delete_project(self, backend: str, project_id: str) -> None:
        """Forget a project and its files."""
        self.projects.pop((backend, project_id), None)
        for key in [k for k in self.project_files if k[:2] == (backend, project_id)]:
            del self.project_files[key]

    # --- leadership ----------------------------------------------------------------------

    async def hold_lock(self, name: str, owner: str, ttl_s: float) -> bool:
        """Take or keep the named lock while free, expired or already `owner`'s."""
        now = time.time()
        holder = self.locks.get(name)
        if holder is not None and holder[0] != owner and holder[1] >= now:
            return False
        self.locks[name] = (owner, now + ttl_s)
        return True

    async def release_lock(self, name: str, owner: str) -> None:
        """Let the named lock go, if `owner` holds it."""
        if self.locks.get(name, ("", 0.0))[0] == owner:
            del self.locks[name]

    # --- upkeep --------------------------------------------------------------------------

    async def prune(self, before: float) -> Mapping[str, int]:
        """Forget finished requests, jobs and handled updates older than `before`."""
        old = [rid for rid, r in self.requests.items() if r.updated_at < before]
        for rid in old:
            del self.requests[rid]
            self._owners.pop(rid, None)
        jobs = [k for k, at in self._job_times.items() if at < before]
        for job_id in jobs:
            del self.jobs[job_id], self._job_times[job_id]
        updates = [k for k, at in self.updates.items() if at < before]
        for update in updates:
            del self.updates[update]
        inbox = [k for k, (_, at) in self.inbox.items() if at is not None and at < before]
        for entry in inbox:
            del self.inbox[entry]
        return {"requests": len(old), "jobs": len(jobs), "updates": len(updates),
                "inbox": len(inbox)}  # fmt: skip

    async def ping(self) -> None:
        """Raise once closed, as a closed database would."""
        if self.closed:
            raise ConnectionError("the store is closed")

    async def close(self) -> None:
        """Nothing to release; a closed store fails its health check."""
        self.closed = True

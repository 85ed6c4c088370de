"""The store's queries, written once for SQLite and PostgreSQL (`storage.sqlite`,
`storage.postgres` give the connection, the schema, the claim and the wake-ups); those
of a public bot are in `storage.sql_public`.

SQL here uses `?` placeholders; the PostgreSQL store numbers them (`$1`, `$2`, …).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from typing import Any

from bot.ports.backend import BackendSession
from bot.ports.chat import ChatKey
from bot.ports.store import (
    ChatSettings,
    Identity,
    JobState,
    NewRequest,
    RenderJob,
    RequestState,
    Screening,
    Step,
    StoredRequest,
)
from bot.words import as_lang
from storage.rows import OPEN, REQUEST_COLUMNS, marks, request_from_row
from storage.sql_public import PublicQueries


def _session(session_id: str, extra_json: str) -> BackendSession:
    extra = json.loads(extra_json)
    return BackendSession(session_id=session_id, extra={str(k): str(v) for k, v in extra.items()})


def _open_requests(
    chat: ChatKey | None, sender: tuple[str, str] | None
) -> tuple[str, tuple[object, ...]]:
    sql = f"SELECT {REQUEST_COLUMNS} FROM requests WHERE {OPEN}"
    params: tuple[object, ...] = ()
    if chat is not None or sender is not None:
        platform, sender_id = sender or ("", "")
        sql += " AND (chat = ? OR (platform = ? AND sender_id = ?))"
        params = (str(chat) if chat else "", platform, sender_id)
    return sql + " ORDER BY id", params


class SqlStore(PublicQueries):
    """Every query of `bot.ports.store.Store` but the dialects' own."""

    #: How the inbox orders updates received in the same instant.
    inbox_order = "received_at"

    # --- chats, sessions, identities -----------------------------------------------------

    async def get_chat_settings(self, chat: ChatKey) -> ChatSettings | None:
        """The chat's settings; None for a chat that has chosen nothing yet."""
        row = await self._one("SELECT language FROM chats WHERE chat = ?", (str(chat),))
        return None if row is None else ChatSettings(language=as_lang(row[0]))

    async def set_chat_settings(self, chat: ChatKey, settings: ChatSettings) -> None:
        """Create or replace the chat's settings."""
        await self._run(
            "INSERT INTO chats (chat, language, updated_at) VALUES (?, ?, ?) "
            "ON CONFLICT (chat) DO UPDATE SET language = excluded.language, "
            "updated_at = excluded.updated_at",
            (str(chat), settings.language, time.time()),
        )

    async def get_session(self, chat: ChatKey, backend: str) -> BackendSession | None:
        """The chat's session on that backend, if one was opened."""
        row = await self._one(
            "SELECT session_id, extra FROM sessions WHERE chat = ? AND backend = ?",
            (str(chat), backend),
        )
        return None if row is None else _session(row[0], row[1])

    async def save_session(self, chat: ChatKey, backend: str, session: BackendSession) -> None:
        """Create or replace the chat's session on that backend."""
        await self._run(
            "INSERT INTO sessions (chat, backend, session_id, extra, created_at) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (chat, backend) DO UPDATE SET "
            "session_id = excluded.session_id, extra = excluded.extra, "
            "created_at = excluded.created_at",
            (str(chat), backend, session.session_id, json.dumps(dict(session.extra)), time.time()),
        )

    async def delete_session(self, chat: ChatKey, backend: str) -> None:
        """Forget the chat's session (`/new`, or the backend lost it)."""
        await self._run("DELETE FROM sessions WHERE chat = ? AND backend = ?", (str(chat), backend))

    async def stale_sessions(
        self, backend: str, before: float
    ) -> list[tuple[ChatKey, BackendSession]]:
        """Sessions of that backend last saved before `before` (for retention)."""
        rows = await self._run(
            "SELECT chat, session_id, extra FROM sessions WHERE backend = ? AND created_at < ?",
            (backend, before),
        )
        return [(ChatKey.parse(r[0]), _session(r[1], r[2])) for r in rows.rows]

    async def get_identity(self, backend: str) -> Identity | None:
        """The stored identity for a backend (shared by every process of the database)."""
        row = await self._one(
            "SELECT client_id, token FROM identities WHERE backend = ?", (backend,)
        )
        return None if row is None else Identity(client_id=row[0], token=row[1])

    async def save_identity(self, backend: str, identity: Identity) -> None:
        """Create or replace the identity for a backend."""
        await self._run(
            "INSERT INTO identities (backend, client_id, token, updated_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (backend) DO UPDATE SET client_id = excluded.client_id, "
            "token = excluded.token, updated_at = excluded.updated_at",
            (backend, identity.client_id, identity.token, time.time()),
        )

    # --- the request queue ---------------------------------------------------------------

    async def add_request(self, request: NewRequest) -> int:
        """Queue a request (durably: it is stored when this returns); returns its id —
        that of the request already queued with the same key, if there is one."""
        now = time.time()
        row = await self._one(
            "INSERT INTO requests (chat, platform, sender_id, text, payload, state, step, "
            "created_at, updated_at, dedupe_key) "
            "VALUES (?, ?, ?, ?, ?, 'queued', 'start', ?, ?, ?) "
            "ON CONFLICT (dedupe_key) WHERE dedupe_key IS NOT NULL DO NOTHING RETURNING id",
            (str(request.chat), request.chat.platform, request.sender_id, request.text,
             json.dumps(dict(request.payload), ensure_ascii=False), now, now, request.key),
        )  # fmt: skip
        if row is None:
            row = await self._one("SELECT id FROM requests WHERE dedupe_key = ?", (request.key,))
            return int(row[0])
        await self.notify_work()
        return int(row[0])

    async def get_request(self, request_id: int) -> StoredRequest | None:
        """A request by id."""
        row = await self._one(f"SELECT {REQUEST_COLUMNS} FROM requests WHERE id = ?", (request_id,))
        return None if row is None else request_from_row(row)

    async def unfinished_requests(self, chat: ChatKey) -> int:
        """How many of the chat's requests are queued or running."""
        row = await self._one(
            f"SELECT count(*) FROM requests WHERE chat = ? AND {OPEN}", (str(chat),)
        )
        return int(row[0]) if row else 0

    async def open_requests(
        self, *, chat: ChatKey | None = None, sender: tuple[str, str] | None = None
    ) -> list[StoredRequest]:
        """Requests queued or running, of `chat` or `sender` when given, oldest first."""
        rows = (await self._run(*_open_requests(chat, sender))).rows
        return [request_from_row(row) for row in rows]

    async def screening(
        self, chat: ChatKey, sender: tuple[str, str], user: str, since: float
    ) -> Screening:
        """The intake's reads for one message, sent together (see the port)."""
        head, opened = await self._many(
            [
                (
                    "SELECT (SELECT language FROM chats WHERE chat = ?), "
                    "EXISTS (SELECT 1 FROM blocked_users WHERE user_key = ?), "
                    "(SELECT count(*) FROM clips WHERE user_key = ? AND created_at >= ?)",
                    (str(chat), user, user, since),
                ),
                _open_requests(chat, sender),
            ]
        )
        language, blocked, clips = head.rows[0]
        return Screening(
            None if language is None else ChatSettings(language=as_lang(language)),
            bool(blocked),
            [request_from_row(row) for row in opened.rows],
            int(clips),
        )

    async def renew_leases(
        self, owner: str, request_ids: Sequence[int], lease_s: float
    ) -> set[int]:
        """Extend the leases of these requests while `owner` holds them."""
        if not request_ids:
            return set()
        result = await self._run(
            "UPDATE requests SET lease_until = ? WHERE owner = ? AND state = 'running' "
            f"AND id IN ({marks(len(request_ids))}) RETURNING id",
            (time.time() + lease_s, owner, *request_ids),
        )
        return {int(row[0]) for row in result.rows}

    async def checkpoint_request(
        self, request_id: int, owner: str, step: Step, checkpoint: Mapping[str, Any]
    ) -> bool:
        """Record how far the request got; False when `owner` no longer holds it."""
        return await self._changed(
            # A step further: the claims start counting again (a request that keeps
            # killing its process is one that never gets past its step).
            "UPDATE requests SET attempts = CASE WHEN step = ? THEN attempts ELSE 1 END, "
            "step = ?, checkpoint = ?, updated_at = ? "
            "WHERE id = ? AND owner = ? AND state = 'running'",
            (step, step, json.dumps(dict(checkpoint), ensure_ascii=False), time.time(),
             request_id, owner),
        )  # fmt: skip

    async def finish_request(
        self, request_id: int, owner: str, state: RequestState, detail: str | None = None
    ) -> bool:
        """End the request (done or failed); False when `owner` no longer holds it."""
        done = await self._changed(
            "UPDATE requests SET state = ?, detail = ?, owner = NULL, lease_until = 0, "
            "updated_at = ? WHERE id = ? AND owner = ? AND state = 'running'",
            (state, detail, time.time(), request_id, owner),
        )
        await self.notify_work()  # the chat's next request may run now
        return done

    async def release_requests(self, owner: str) -> int:
        """Give up `owner`'s leases at once; the requests stay where they got to."""
        result = await self._run(
            "UPDATE requests SET owner = NULL, lease_until = 0 "
            "WHERE owner = ? AND state = 'running'",
            (owner,),
        )
        await self.notify_work()
        return result.changed

    # --- render jobs ---------------------------------------------------------------------

    async def save_job(self, job: RenderJob) -> None:
        """Create or update a render job (a known output URL is kept)."""
        now = time.time()
        await self._run(
            "INSERT INTO jobs (job_id, chat, backend, state, progress, output_url, created_at, "
            "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (job_id) DO UPDATE SET "
            "state = excluded.state, progress = excluded.progress, "
            "output_url = COALESCE(excluded.output_url, jobs.output_url), "
            "updated_at = excluded.updated_at",
            (job.job_id, str(job.chat), job.backend, job.state, job.progress, job.output_url,
             now, now),
        )  # fmt: skip

    async def get_job(self, job_id: str) -> RenderJob | None:
        """A render job by id."""
        row = await self._one(
            "SELECT job_id, chat, backend, state, progress, output_url FROM jobs WHERE job_id = ?",
            (job_id,),
        )
        if row is None:
            return None
        state: JobState = row[3]
        return RenderJob(row[0], ChatKey.parse(row[1]), row[2], state, row[4], row[5])

    # --- platform updates ----------------------------------------------------------------

    async def mark_update(self, platform: str, update_id: str) -> bool:
        """Record a platform update id; True the first time, False if already handled."""
        return await self._changed(
            "INSERT INTO handled_updates (platform, update_id, handled_at) VALUES (?, ?, ?) "
            "ON CONFLICT DO NOTHING",
            (platform, update_id, time.time()),
        )

    async def receive_update(self, platform: str, update_id: str, payload: str) -> bool:
        """Keep a raw update until it is handled; False if it was received before."""
        return await self._changed(
            "INSERT INTO inbox (platform, update_id, payload, received_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT DO NOTHING",
            (platform, update_id, payload, time.time()),
        )

    async def update_handled(self, platform: str, update_id: str) -> None:
        """The update was answered or queued: it need not be handled again."""
        await self._run(
            "UPDATE inbox SET handled_at = ?, payload = '' WHERE platform = ? AND update_id = ?",
            (time.time(), platform, update_id),
        )

    async def unhandled_updates(self, platform: str) -> list[tuple[str, str]]:
        """(update id, payload) of updates received but never handled, oldest first."""
        result = await self._run(
            "SELECT update_id, payload FROM inbox WHERE platform = ? AND handled_at IS NULL "
            f"ORDER BY {self.inbox_order}",
            (platform,),
        )
        return [(str(row[0]), str(row[1])) for row in result.rows]

    # --- a backend's projects ------------------------------------------------------------

    async def load_project(self, backend: str, project_id: str) -> str | None:
        """A project's saved state, or None."""
        row = await self._one(
            "SELECT state FROM projects WHERE backend = ? AND project_id = ?",
            (backend, project_id),
        )
        return None if row is None else str(row[0])

    async def save_project(self, backend: str, project_id: str, state: str) -> None:
        """Create or replace a project's state."""
        await self._run(
            "INSERT INTO projects (backend, project_id, state, updated_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (backend, project_id) DO UPDATE SET state = excluded.state, "
            "updated_at = excluded.updated_at",
            (backend, project_id, state, time.time()),
        )

    async def save_project_file(
        self, backend: str, project_id: str, name: str, data: bytes
    ) -> None:
        """Keep a file of a project, for any process to fetch."""
        await self._run(
            "INSERT INTO project_files (backend, project_id, name, data) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (backend, project_id, name) DO UPDATE SET data = excluded.data",
            (backend, project_id, name, data),
        )

    async def load_project_file(self, backend: str, project_id: str, name: str) -> bytes | None:
        """A file of a project, or None."""
        row = await self._one(
            "SELECT data FROM project_files WHERE backend = ? AND project_id = ? AND name = ?",
            (backend, project_id, name),
        )
        return None if row is None else bytes(row[0])

    async def delete_project(self, backend: str, project_id: str) -> None:
        """Forget a project and its files."""
        for table in ("project_files", "projects"):
            await self._run(
                f"DELETE FROM {table} WHERE backend = ? AND project_id = ?", (backend, project_id)
            )

    # --- leadership ----------------------------------------------------------------------

    async def hold_lock(self, name: str, owner: str, ttl_s: float) -> bool:
        """Take or keep the named lock while free, expired or already `owner`'s."""
        now = time.time()
        result = await self._run(
            "INSERT INTO locks (name, owner, until) VALUES (?, ?, ?) "
            "ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, until = excluded.until "
            "WHERE locks.owner = excluded.owner OR locks.until < ? RETURNING owner",
            (name, owner, now + ttl_s, now),
        )
        return bool(result.rows)

    async def release_lock(self, name: str, owner: str) -> None:
        """Let the named lock go, if `owner` holds it."""
        await self._run("DELETE FROM locks WHERE name = ? AND owner = ?", (name, owner))

    # --- upkeep --------------------------------------------------------------------------

    async def prune(self, before: float) -> Mapping[str, int]:
        """Forget what ended before `before`: requests (an unfinished one untouched that
        long is dead: its platform is gone), render jobs, handled updates."""
        counts: dict[str, int] = {}
        for name, sql in (
            ("requests", "DELETE FROM requests WHERE updated_at < ?"),
            ("jobs", "DELETE FROM jobs WHERE updated_at < ?"),
            ("updates", "DELETE FROM handled_updates WHERE handled_at < ?"),
            ("inbox", "DELETE FROM inbox WHERE handled_at IS NOT NULL AND handled_at < ?"),
        ):
            counts[name] = (await self._run(sql, (before,))).changed
        return counts

"""`Store` on SQLite through aiosqlite: one connection for the app's life, WAL,
migrations counted by `PRAGMA user_version`, bound parameters and upserts.

SQLite is the one-process default: a claim is one `UPDATE … RETURNING` statement, and
workers are woken in-process. Several processes share a queue through PostgreSQL.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiosqlite

from bot.ports.backend import BackendSession
from bot.ports.chat import ChatKey
from bot.ports.store import (
    ChatSettings,
    Identity,
    JobState,
    NewRequest,
    RenderJob,
    RequestState,
    Step,
    StoredRequest,
)
from bot.words import as_lang
from storage.wakeup import Wakeup

#: Each entry moves the schema one version up; never edit one that has shipped.
MIGRATIONS: Sequence[str] = (
    """
    CREATE TABLE chats (
        chat TEXT PRIMARY KEY,
        language TEXT NOT NULL,
        updated_at REAL NOT NULL
    );
    CREATE TABLE sessions (
        chat TEXT NOT NULL,
        backend TEXT NOT NULL,
        session_id TEXT NOT NULL,
        extra TEXT NOT NULL,
        created_at REAL NOT NULL,
        PRIMARY KEY (chat, backend)
    );
    CREATE TABLE identities (
        backend TEXT PRIMARY KEY,
        client_id TEXT NOT NULL,
        token TEXT,
        updated_at REAL NOT NULL
    );
    CREATE TABLE requests (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        chat TEXT NOT NULL,
        sender_id TEXT NOT NULL,
        text TEXT NOT NULL,
        state TEXT NOT NULL,
        detail TEXT,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL
    );
    CREATE INDEX requests_by_chat ON requests (chat, id);
    CREATE TABLE jobs (
        job_id TEXT PRIMARY KEY,
        chat TEXT NOT NULL,
        backend TEXT NOT NULL,
        state TEXT NOT NULL,
        progress REAL,
        output_url TEXT,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL
    );
    CREATE TABLE handled_updates (
        platform TEXT NOT NULL,
        update_id TEXT NOT NULL,
        handled_at REAL NOT NULL,
        PRIMARY KEY (platform, update_id)
    );
    CREATE INDEX handled_updates_by_age ON handled_updates (handled_at);
    """,
    # 2: the durable request queue (payload, step, checkpoint, lease) and the inbox of
    # raw platform updates. Requests left open by a version that kept no payload cannot
    # be resumed: they are closed as failed.
    """
    ALTER TABLE requests ADD COLUMN platform TEXT NOT NULL DEFAULT '';
    ALTER TABLE requests ADD COLUMN payload TEXT NOT NULL DEFAULT '{}';
    ALTER TABLE requests ADD COLUMN step TEXT NOT NULL DEFAULT 'start';
    ALTER TABLE requests ADD COLUMN checkpoint TEXT NOT NULL DEFAULT '{}';
    ALTER TABLE requests ADD COLUMN owner TEXT;
    ALTER TABLE requests ADD COLUMN lease_until REAL NOT NULL DEFAULT 0;
    ALTER TABLE requests ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
    UPDATE requests SET platform = substr(chat, 1, instr(chat, ':') - 1);
    UPDATE requests SET state = 'failed', detail = 'left open by an older version'
        WHERE state IN ('queued', 'running');
    CREATE INDEX requests_open ON requests (chat, id) WHERE state IN ('queued', 'running');
    CREATE INDEX requests_by_age ON requests (updated_at);
    CREATE INDEX jobs_by_age ON jobs (updated_at);
    CREATE TABLE inbox (
        platform TEXT NOT NULL,
        update_id TEXT NOT NULL,
        payload TEXT NOT NULL,
        received_at REAL NOT NULL,
        handled_at REAL,
        PRIMARY KEY (platform, update_id)
    );
    """,
    # 3: named locks with an expiry (one Telegram poller among several processes).
    """
    CREATE TABLE locks (
        name TEXT PRIMARY KEY,
        owner TEXT NOT NULL,
        until REAL NOT NULL
    );
    """,
)

_REQUEST_COLUMNS = (
    "id, chat, sender_id, text, state, step, payload, checkpoint, detail, attempts, "
    "created_at, updated_at"
)


def request_from_row(row: Sequence[Any]) -> StoredRequest:
    """A `StoredRequest` from a row of `_REQUEST_COLUMNS`."""
    state: RequestState = row[4]
    step: Step = row[5]
    return StoredRequest(
        id=int(row[0]),
        chat=ChatKey.parse(row[1]),
        sender_id=row[2],
        text=row[3],
        state=state,
        step=step,
        payload=json.loads(row[6]),
        checkpoint=json.loads(row[7]),
        detail=row[8],
        attempts=int(row[9]),
        created_at=float(row[10]),
        updated_at=float(row[11]),
    )


class SqliteStore:
    """The production `bot.ports.store.Store`. Open with `await SqliteStore.open(path)`."""

    def __init__(self, db: aiosqlite.Connection, path: Path) -> None:
        self._db = db
        self._path = path
        self._worker_lock: int | None = None
        self._lock = asyncio.Lock()
        self._wakeup = Wakeup()

    @classmethod
    async def open(cls, path: Path | str) -> SqliteStore:
        """Open (creating if needed) the database and bring its schema up to date."""
        path = Path(path)
        if str(path) != ":memory:":
            path.parent.mkdir(parents=True, exist_ok=True)
        db = await aiosqlite.connect(path)
        try:
            if str(path) != ":memory:":
                # It holds the backend token: readable by this user only.
                os.chmod(path, 0o600)
            await db.execute("PRAGMA journal_mode=WAL")
            await db.execute("PRAGMA synchronous=NORMAL")
            await db.execute("PRAGMA busy_timeout=5000")
            await _migrate(db)
        except BaseException:
            await db.close()
            raise
        return cls(db, path)

    async def close(self) -> None:
        """Close the connection (and give up the worker lock)."""
        await self._db.close()
        if self._worker_lock is not None:
            os.close(self._worker_lock)
            self._worker_lock = None

    async def schema_version(self) -> int:
        """The schema version (`PRAGMA user_version`)."""
        return await _user_version(self._db)

    # --- chats ---------------------------------------------------------------------------

    async def get_chat_settings(self, chat: ChatKey) -> ChatSettings | None:
        """The chat's settings; None for a chat that has chosen nothing yet."""
        row = await self._one("SELECT language FROM chats WHERE chat = ?", (str(chat),))
        return None if row is None else ChatSettings(language=as_lang(row[0]))

    async def set_chat_settings(self, chat: ChatKey, settings: ChatSettings) -> None:
        """Create or replace the chat's settings."""
        await self._write(
            "INSERT INTO chats (chat, language, updated_at) VALUES (?, ?, ?) "
            "ON CONFLICT (chat) DO UPDATE SET language = excluded.language, "
            "updated_at = excluded.updated_at",
            (str(chat), settings.language, time.time()),
        )

    # --- sessions ------------------------------------------------------------------------

    async def get_session(self, chat: ChatKey, backend: str) -> BackendSession | None:
        """The chat's session on that backend, if one was opened."""
        row = await self._one(
            "SELECT session_id, extra FROM sessions WHERE chat = ? AND backend = ?",
            (str(chat), backend),
        )
        return None if row is None else _session(row[0], row[1])

    async def save_session(self, chat: ChatKey, backend: str, session: BackendSession) -> None:
        """Create or replace the chat's session on that backend."""
        await self._write(
            "INSERT INTO sessions (chat, backend, session_id, extra, created_at) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (chat, backend) DO UPDATE SET "
            "session_id = excluded.session_id, extra = excluded.extra, "
            "created_at = excluded.created_at",
            (str(chat), backend, session.session_id, json.dumps(dict(session.extra)), time.time()),
        )

    async def delete_session(self, chat: ChatKey, backend: str) -> None:
        """Forget the chat's session (`/new`, or the backend lost it)."""
        await self._write(
            "DELETE FROM sessions WHERE chat = ? AND backend = ?", (str(chat), backend)
        )

    async def stale_sessions(
        self, backend: str, before: float
    ) -> list[tuple[ChatKey, BackendSession]]:
        """Sessions of that backend last saved before `before` (for retention)."""
        rows = await self._run(
            "SELECT chat, session_id, extra FROM sessions WHERE backend = ? AND created_at < ?",
            (backend, before),
        )
        return [(ChatKey.parse(row[0]), _session(row[1], row[2])) for row in rows.rows]

    # --- identities ----------------------------------------------------------------------

    async def get_identity(self, backend: str) -> Identity | None:
        """The stored identity for a backend."""
        row = await self._one(
            "SELECT client_id, token FROM identities WHERE backend = ?", (backend,)
        )
        return None if row is None else Identity(client_id=row[0], token=row[1])

    async def save_identity(self, backend: str, identity: Identity) -> None:
        """Create or replace the identity for a backend."""
        await self._write(
            "INSERT INTO identities (backend, client_id, token, updated_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (backend) DO UPDATE SET client_id = excluded.client_id, "
            "token = excluded.token, updated_at = excluded.updated_at",
            (backend, identity.client_id, identity.token, time.time()),
        )

    # --- the request queue ---------------------------------------------------------------

    async def add_request(self, request: NewRequest) -> int:
        """Queue a request (durably: it is stored when this returns); returns its id."""
        now = time.time()
        result = await self._run(
            "INSERT INTO requests (chat, platform, sender_id, text, payload, state, step, "
            "created_at, updated_at) VALUES (?, ?, ?, ?, ?, 'queued', 'start', ?, ?)",
            (str(request.chat), request.chat.platform, request.sender_id, request.text,
             json.dumps(dict(request.payload), ensure_ascii=False), now, now),
        )  # fmt: skip
        assert result.lastrowid is not None
        await self.notify_work()
        return result.lastrowid

    async def get_request(self, request_id: int) -> StoredRequest | None:
        """A request by id."""
        row = await self._one(
            f"SELECT {_REQUEST_COLUMNS} FROM requests WHERE id = ?", (request_id,)
        )
        return None if row is None else request_from_row(row)

    async def unfinished_requests(self, chat: ChatKey) -> int:
        """How many of the chat's requests are queued or running."""
        row = await self._one(
            "SELECT count(*) FROM requests WHERE chat = ? AND state IN ('queued', 'running')",
            (str(chat),),
        )
        return int(row[0]) if row else 0

    async def claim_requests(
        self, owner: str, platforms: Sequence[str], limit: int, lease_s: float
    ) -> list[StoredRequest]:
        """Claim the oldest unfinished request of each chat, when queued or expired."""
        if not platforms or limit <= 0:
            return []
        now = time.time()
        marks = ", ".join("?" for _ in platforms)
        sql = (
            "UPDATE requests SET state = 'running', owner = ?, lease_until = ?, "
            "attempts = attempts + 1, updated_at = ? WHERE id IN ("
            " SELECT r.id FROM requests r"
            f" WHERE r.state IN ('queued', 'running') AND r.platform IN ({marks})"
            "  AND (r.state = 'queued' OR r.lease_until < ?)"
            "  AND NOT EXISTS (SELECT 1 FROM requests o WHERE o.chat = r.chat"
            "   AND o.state IN ('queued', 'running') AND o.id < r.id)"
            " ORDER BY r.id LIMIT ?)"
            f" RETURNING {_REQUEST_COLUMNS}"
        )
        rows = (await self._run(sql, (owner, now + lease_s, now, *platforms, now, limit))).rows
        return sorted((request_from_row(row) for row in rows), key=lambda r: r.id)

    async def renew_leases(
        self, owner: str, request_ids: Sequence[int], lease_s: float
    ) -> set[int]:
        """Extend the leases of these requests while `owner` holds them."""
        if not request_ids:
            return set()
        marks = ", ".join("?" for _ in request_ids)
        result = await self._run(
            "UPDATE requests SET lease_until = ? WHERE owner = ? AND state = 'running' "
            f"AND id IN ({marks}) RETURNING id",
            (time.time() + lease_s, owner, *request_ids),
        )
        return {int(row[0]) for row in result.rows}

    async def checkpoint_request(
        self, request_id: int, owner: str, step: Step, checkpoint: Mapping[str, Any]
    ) -> bool:
        """Record how far the request got; False when `owner` no longer holds it."""
        return await self._owned(
            "UPDATE requests SET step = ?, checkpoint = ?, updated_at = ? "
            "WHERE id = ? AND owner = ? AND state = 'running'",
            (step, json.dumps(dict(checkpoint), ensure_ascii=False), time.time(), request_id,
             owner),
        )  # fmt: skip

    async def finish_request(
        self, request_id: int, owner: str, state: RequestState, detail: str | None = None
    ) -> bool:
        """End the request (done or failed); False when `owner` no longer holds it."""
        done = await self._owned(
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
        return result.rowcount

    async def recover_leases(self) -> int:
        """The first worker process of a data dir (it holds a lock file while it lives)
        knows that whoever held leases before it is dead: it frees them all."""
        if self._worker_lock is None:
            self._worker_lock = _take_lock(self._path.with_name(self._path.name + ".workers"))
            if self._worker_lock is None:
                return 0  # another process works this database: its leases are live
        result = await self._run(
            "UPDATE requests SET owner = NULL, lease_until = 0 WHERE state = 'running'"
        )
        return result.rowcount

    async def notify_work(self) -> None:
        """Wake the workers waiting in `wait_for_work` (one process: in memory)."""
        self._wakeup.notify()

    async def wait_for_work(self, timeout_s: float) -> None:
        """Return when `notify_work` was called, or after `timeout_s`."""
        await self._wakeup.wait(timeout_s)

    # --- render jobs ---------------------------------------------------------------------

    async def save_job(self, job: RenderJob) -> None:
        """Create or update a render job."""
        now = time.time()
        await self._write(
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
        return await self._owned(
            "INSERT INTO handled_updates (platform, update_id, handled_at) VALUES (?, ?, ?) "
            "ON CONFLICT DO NOTHING",
            (platform, update_id, time.time()),
        )

    async def receive_update(self, platform: str, update_id: str, payload: str) -> bool:
        """Keep a raw update until it is handled; False if it was received before."""
        return await self._owned(
            "INSERT INTO inbox (platform, update_id, payload, received_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT DO NOTHING",
            (platform, update_id, payload, time.time()),
        )

    async def update_handled(self, platform: str, update_id: str) -> None:
        """The update was answered or queued: it need not be handled again."""
        await self._write(
            "UPDATE inbox SET handled_at = ?, payload = '' WHERE platform = ? AND update_id = ?",
            (time.time(), platform, update_id),
        )

    async def unhandled_updates(self, platform: str) -> list[tuple[str, str]]:
        """(update id, payload) of updates received but never handled, oldest first."""
        result = await self._run(
            "SELECT update_id, payload FROM inbox WHERE platform = ? AND handled_at IS NULL "
            "ORDER BY received_at, rowid",
            (platform,),
        )
        return [(str(row[0]), str(row[1])) for row in result.rows]

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
        await self._write("DELETE FROM locks WHERE name = ? AND owner = ?", (name, owner))

    # --- upkeep --------------------------------------------------------------------------

    async def prune(self, before: float) -> Mapping[str, int]:
        """Forget finished requests, jobs and handled updates older than `before`."""
        counts: dict[str, int] = {}
        for name, sql in (
            # An unfinished request untouched that long is dead (its platform is gone).
            ("requests", "DELETE FROM requests WHERE updated_at < ?"),
            ("jobs", "DELETE FROM jobs WHERE updated_at < ?"),
            ("updates", "DELETE FROM handled_updates WHERE handled_at < ?"),
            ("inbox", "DELETE FROM inbox WHERE handled_at IS NOT NULL AND handled_at < ?"),
        ):  # fmt: skip
            counts[name] = (await self._run(sql, (before,))).rowcount
        return counts

    # --- plumbing ------------------------------------------------------------------------

    async def _run(self, sql: str, params: Sequence[object] = ()) -> _Result:
        """One statement, its rows read, committed: never interleaved with another
        task's statement on the one connection."""
        async with self._lock:
            async with self._db.execute(sql, params) as cur:
                rows = list(await cur.fetchall())
                result = _Result(rows, cur.rowcount, cur.lastrowid)
            await self._db.commit()
        return result

    async def _one(self, sql: str, params: Sequence[object]) -> Any:
        rows = (await self._run(sql, params)).rows
        return rows[0] if rows else None

    async def _write(self, sql: str, params: Sequence[object]) -> None:
        await self._run(sql, params)

    async def _owned(self, sql: str, params: Sequence[object]) -> bool:
        return (await self._run(sql, params)).rowcount == 1


@dataclass(frozen=True, slots=True)
class _Result:
    rows: list[Any]
    rowcount: int
    lastrowid: int | None


def _take_lock(path: Path) -> int | None:
    """An exclusive lock on `path` held while the descriptor stays open; None if another
    process holds it (an in-memory database has no file to lock: always ours)."""
    if str(path).startswith(":memory:"):
        return os.open(os.devnull, os.O_RDONLY)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def _session(session_id: str, extra_json: str) -> BackendSession:
    extra = json.loads(extra_json)
    return BackendSession(session_id=session_id, extra={str(k): str(v) for k, v in extra.items()})


async def _user_version(db: aiosqlite.Connection) -> int:
    async with db.execute("PRAGMA user_version") as cur:
        row = await cur.fetchone()
    return int(row[0]) if row else 0


async def _migrate(db: aiosqlite.Connection) -> None:
    version = await _user_version(db)
    if version > len(MIGRATIONS):
        raise RuntimeError(
            f"database schema {version} is newer than this Clipbot knows ({len(MIGRATIONS)})"
        )
    for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
        # executescript commits first; the version bump is inside the same script so a
        # crash never leaves a half-applied migration counted as done.
        await db.executescript(f"BEGIN;\n{script}\nPRAGMA user_version = {number};\nCOMMIT;")

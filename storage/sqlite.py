"""`Store` on SQLite through aiosqlite: one connection for the app's life, WAL,
migrations counted by `PRAGMA user_version`; the queries are `storage.sql`'s.

SQLite is the one-process default: a claim is one `UPDATE … RETURNING` statement, and
workers are woken in-process. Several processes share a queue through PostgreSQL.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aiosqlite

from bot.ports.store import StoredRequest
from storage.sql import OPEN, REQUEST_COLUMNS, Result, SqlStore, marks, request_from_row
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
    # 4: a public bot — the block list, delivered clips, credits spent per user.
    """
    CREATE TABLE blocked_users (
        user_key TEXT PRIMARY KEY,
        blocked_by TEXT NOT NULL,
        created_at REAL NOT NULL
    );
    CREATE TABLE clips (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        user_key TEXT NOT NULL,
        chat TEXT NOT NULL,
        seconds REAL NOT NULL,
        render_s REAL NOT NULL,
        size_bytes INTEGER,
        delivery TEXT NOT NULL,
        created_at REAL NOT NULL
    );
    CREATE INDEX clips_by_user ON clips (user_key, created_at);
    CREATE INDEX clips_by_time ON clips (created_at);
    CREATE TABLE credit_spend (
        user_key TEXT NOT NULL,
        credits REAL NOT NULL,
        created_at REAL NOT NULL
    );
    CREATE INDEX credit_spend_by_user ON credit_spend (user_key, created_at);
    CREATE INDEX requests_by_time ON requests (created_at);
    """,
)


class SqliteStore(SqlStore):
    """The one-process `bot.ports.store.Store`. Open with `await SqliteStore.open(path)`."""

    inbox_order = "received_at, rowid"

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

    async def _run(self, sql: str, params: Sequence[object] = ()) -> Result:
        """One statement, its rows read, committed: never interleaved with another
        task's statement on the one connection."""
        async with self._lock:
            async with self._db.execute(sql, params) as cur:
                rows: list[Sequence[Any]] = list(await cur.fetchall())
                result = Result(rows, cur.rowcount)
            await self._db.commit()
        return result

    # --- the dialect's own: the claim, the dead workers' leases, the wake-ups ------------

    async def claim_requests(
        self, owner: str, platforms: Sequence[str], limit: int, lease_s: float
    ) -> list[StoredRequest]:
        """Claim the oldest unfinished request of each chat, when queued or expired: one
        statement, so no other claim can come between the pick and the update."""
        if not platforms or limit <= 0:
            return []
        now = time.time()
        sql = (
            "UPDATE requests SET state = 'running', owner = ?, lease_until = ?, "
            "attempts = attempts + 1, updated_at = ? WHERE id IN ("
            " SELECT r.id FROM requests r"
            f" WHERE r.{OPEN} AND r.platform IN ({marks(len(platforms))})"
            "  AND (r.state = 'queued' OR r.lease_until < ?)"
            "  AND NOT EXISTS (SELECT 1 FROM requests o WHERE o.chat = r.chat"
            f"   AND o.{OPEN} AND o.id < r.id)"
            " ORDER BY r.id LIMIT ?)"
            f" RETURNING {REQUEST_COLUMNS}"
        )
        rows = (await self._run(sql, (owner, now + lease_s, now, *platforms, now, limit))).rows
        return sorted((request_from_row(row) for row in rows), key=lambda r: r.id)

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
        return result.changed

    async def notify_work(self) -> None:
        """Wake the workers waiting in `wait_for_work` (one process: in memory)."""
        self._wakeup.notify()

    async def wait_for_work(self, timeout_s: float) -> None:
        """Return when `notify_work` was called, or after `timeout_s`."""
        await self._wakeup.wait(timeout_s)


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

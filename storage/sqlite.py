"""`Store` on SQLite: one connection for the app's life on a thread of its own, WAL,
migrations counted by `PRAGMA user_version`; the queries are `storage.sql`'s.

Statements that arrive while the thread is busy go together: one trip to the thread,
one commit, each statement's own result (a burst of 1000 chats costs a few trips, not
4000 — aiosqlite takes one per call, each waiting for the event loop to let go of the
GIL). A batch in which a statement fails is rolled back and run again one statement,
one commit at a time, so every statement keeps its own outcome.

SQLite is the one-process default: a claim is one `UPDATE … RETURNING` statement, and
workers are woken in-process. Several processes share a queue through PostgreSQL.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import sqlite3
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from bot.ports.store import StoredRequest
from storage.rows import OPEN, REQUEST_COLUMNS, Result, marks, request_from_row
from storage.sql import SqlStore
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
    # 5: the local renderer's projects and their files, in the database: any process
    # can render any chat's project (no shared disk).
    """
    CREATE TABLE projects (
        backend TEXT NOT NULL,
        project_id TEXT NOT NULL,
        state TEXT NOT NULL,
        updated_at REAL NOT NULL,
        PRIMARY KEY (backend, project_id)
    );
    CREATE TABLE project_files (
        backend TEXT NOT NULL,
        project_id TEXT NOT NULL,
        name TEXT NOT NULL,
        data BLOB NOT NULL,
        PRIMARY KEY (backend, project_id, name)
    );
    """,
    # 6: a request's key (the message it came from): a message handled again after a
    # crash (kept, not yet marked handled) finds its request instead of making another.
    """
    ALTER TABLE requests ADD COLUMN dedupe_key TEXT;
    CREATE UNIQUE INDEX requests_by_key ON requests (dedupe_key) WHERE dedupe_key IS NOT NULL;
    """,
)


class SqliteStore(SqlStore):
    """The one-process `bot.ports.store.Store`. Open with `await SqliteStore.open(path)`."""

    inbox_order = "received_at, rowid"

    def __init__(self, db: sqlite3.Connection, thread: ThreadPoolExecutor, path: Path) -> None:
        self._db = db
        self._thread = thread
        self._path = path
        self._worker_lock: int | None = None
        self._waiting: list[_Statement] = []
        self._flusher: asyncio.Task[None] | None = None
        self._closed = False
        self._wakeup = Wakeup()

    @classmethod
    async def open(cls, path: Path | str) -> SqliteStore:
        """Open (creating if needed) the database and bring its schema up to date."""
        path = Path(path)
        thread = ThreadPoolExecutor(1, thread_name_prefix="clipbot-sqlite")
        try:
            db = await _on(thread, _connect, path)
        except BaseException:
            thread.shutdown(wait=False)
            raise
        return cls(db, thread, path)

    async def close(self) -> None:
        """Close the connection (and give up the worker lock); again: nothing."""
        if self._closed:
            return
        self._closed = True
        if self._flusher is not None:
            await asyncio.gather(self._flusher, return_exceptions=True)
        await _on(self._thread, self._db.close)
        self._thread.shutdown(wait=True)
        if self._worker_lock is not None:
            os.close(self._worker_lock)
            self._worker_lock = None

    async def schema_version(self) -> int:
        """The schema version (`PRAGMA user_version`)."""
        return await _on(self._thread, _user_version, self._db)

    async def _run(self, sql: str, params: Sequence[object] = ()) -> Result:
        """One statement, its rows read, committed, in the order the calls came."""
        return (await self._many(((sql, params),)))[0]

    async def _many(self, statements: Sequence[tuple[str, Sequence[object]]]) -> list[Result]:
        """Statements in the same batch, in order: one trip to the thread for all."""
        if self._closed:
            raise ConnectionError("the SQLite store is closed")
        loop = asyncio.get_running_loop()
        waiting = [
            _Statement(sql, tuple(params), loop.create_future()) for sql, params in statements
        ]
        self._waiting.extend(waiting)
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush(), name="clipbot-sqlite")
        try:
            return [await statement.done for statement in waiting]
        except BaseException:
            for statement in waiting:  # those not sent yet never run; none goes unread
                if not statement.done.cancel() and not statement.done.cancelled():
                    statement.done.exception()
            raise

    async def _flush(self) -> None:
        while self._waiting:
            # A caller cancelled before its statement left: it never runs (as when it
            # was cancelled waiting for a lock).
            batch = [st for st in self._waiting if not st.done.done()]
            self._waiting = []
            if not batch:
                continue
            try:
                outcomes: list[Result | BaseException] = await _on(
                    self._thread, _execute, self._db, [(st.sql, st.params) for st in batch]
                )
            except BaseException as exc:  # the thread itself failed: no caller hangs
                outcomes = [exc] * len(batch)
                if isinstance(exc, asyncio.CancelledError):
                    for statement in [*batch, *self._waiting]:
                        statement.done.cancel()
                    self._waiting = []
                    raise
            for statement, outcome in zip(batch, outcomes, strict=True):
                if statement.done.done():
                    continue
                if isinstance(outcome, BaseException):
                    statement.done.set_exception(outcome)
                else:
                    statement.done.set_result(outcome)

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


_T = TypeVar("_T")


class _Statement:
    __slots__ = ("done", "params", "sql")

    def __init__(self, sql: str, params: tuple[object, ...], done: asyncio.Future[Result]):
        self.sql, self.params, self.done = sql, params, done


async def _on(thread: ThreadPoolExecutor, fn: Callable[..., _T], *args: Any) -> _T:
    return await asyncio.get_running_loop().run_in_executor(thread, fn, *args)


def _connect(path: Path) -> sqlite3.Connection:
    if str(path) != ":memory:":
        path.parent.mkdir(parents=True, exist_ok=True)
    # Used from the store's one thread only; autocommit off: a batch is one transaction.
    db = sqlite3.connect(path, check_same_thread=False, isolation_level="DEFERRED")
    try:
        if str(path) != ":memory:":
            # It holds the backend token: readable by this user only.
            os.chmod(path, 0o600)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("PRAGMA busy_timeout=5000")
        _migrate(db)
    except BaseException:
        db.close()
        raise
    return db


def _execute(
    db: sqlite3.Connection, statements: list[tuple[str, tuple[object, ...]]]
) -> list[Result | BaseException]:
    """Run the statements in one transaction; when one fails, again one at a time."""
    if len(statements) > 1:
        try:
            results = [_statement(db, sql, params) for sql, params in statements]
            db.commit()
            return list(results)
        except sqlite3.Error:
            db.rollback()
    outcomes: list[Result | BaseException] = []
    for sql, params in statements:
        try:
            outcomes.append(_statement(db, sql, params))
            db.commit()
        except sqlite3.Error as exc:
            db.rollback()
            outcomes.append(exc)
    return outcomes


def _statement(db: sqlite3.Connection, sql: str, params: tuple[object, ...]) -> Result:
    cur = db.execute(sql, params)
    try:
        return Result(list(cur.fetchall()), cur.rowcount)
    finally:
        cur.close()


def _user_version(db: sqlite3.Connection) -> int:
    row = db.execute("PRAGMA user_version").fetchone()
    return int(row[0]) if row else 0


def _migrate(db: sqlite3.Connection) -> None:
    version = _user_version(db)
    if version > len(MIGRATIONS):
        raise RuntimeError(
            f"database schema {version} is newer than this Clipbot knows ({len(MIGRATIONS)})"
        )
    for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
        # executescript commits first; the version bump is inside the same script so a
        # crash never leaves a half-applied migration counted as done.
        db.executescript(f"BEGIN;\n{script}\nPRAGMA user_version = {number};\nCOMMIT;")

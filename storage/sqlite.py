"""`Store` on SQLite through aiosqlite: one connection for the app's life, WAL,
migrations counted by `PRAGMA user_version`, bound parameters and upserts."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from pathlib import Path

import aiosqlite

from bot.ports.backend import BackendSession
from bot.ports.chat import ChatKey
from bot.ports.store import ChatSettings, Identity, JobState, RenderJob, RequestState
from bot.words import as_lang
from storage.sqlite_public import PublicBotTables

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
    # 2: a public bot — the block list, delivered clips, credits spent per user.
    """
    CREATE TABLE blocked_users (
        user TEXT PRIMARY KEY,
        blocked_by TEXT NOT NULL,
        created_at REAL NOT NULL
    );
    CREATE TABLE clips (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        user TEXT NOT NULL,
        chat TEXT NOT NULL,
        seconds REAL NOT NULL,
        render_s REAL NOT NULL,
        size_bytes INTEGER,
        delivery TEXT NOT NULL,
        created_at REAL NOT NULL
    );
    CREATE INDEX clips_by_user ON clips (user, created_at);
    CREATE INDEX clips_by_time ON clips (created_at);
    CREATE TABLE credit_spend (
        user TEXT NOT NULL,
        credits REAL NOT NULL,
        created_at REAL NOT NULL
    );
    CREATE INDEX credit_spend_by_user ON credit_spend (user, created_at);
    CREATE INDEX requests_by_time ON requests (created_at);
    """,
)

#: Update ids older than this are forgotten: platforms never redeliver that late.
UPDATE_MEMORY_S = 7 * 24 * 3600


class SqliteStore(PublicBotTables):
    """The production `bot.ports.store.Store`. Open with `await SqliteStore.open(path)`."""

    def __init__(self, db: aiosqlite.Connection) -> None:
        self._db = db
        self._marks_since_prune = 0

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
        return cls(db)

    async def close(self) -> None:
        """Close the connection."""
        await self._db.close()

    async def schema_version(self) -> int:
        """The schema version (`PRAGMA user_version`)."""
        return await _user_version(self._db)

    # --- chats ---------------------------------------------------------------------------

    async def get_chat_settings(self, chat: ChatKey) -> ChatSettings | None:
        """The chat's settings; None for a chat that has chosen nothing yet."""
        async with self._db.execute(
            "SELECT language FROM chats WHERE chat = ?", (str(chat),)
        ) as cur:
            row = await cur.fetchone()
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
        async with self._db.execute(
            "SELECT session_id, extra FROM sessions WHERE chat = ? AND backend = ?",
            (str(chat), backend),
        ) as cur:
            row = await cur.fetchone()
        if row is None:
            return None
        extra = json.loads(row[1])
        return BackendSession(session_id=row[0], extra={str(k): str(v) for k, v in extra.items()})

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

    # --- identities ----------------------------------------------------------------------

    async def get_identity(self, backend: str) -> Identity | None:
        """The stored identity for a backend."""
        async with self._db.execute(
            "SELECT client_id, token FROM identities WHERE backend = ?", (backend,)
        ) as cur:
            row = await cur.fetchone()
        return None if row is None else Identity(client_id=row[0], token=row[1])

    async def save_identity(self, backend: str, identity: Identity) -> None:
        """Create or replace the identity for a backend."""
        await self._write(
            "INSERT INTO identities (backend, client_id, token, updated_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (backend) DO UPDATE SET client_id = excluded.client_id, "
            "token = excluded.token, updated_at = excluded.updated_at",
            (backend, identity.client_id, identity.token, time.time()),
        )

    # --- requests and jobs ---------------------------------------------------------------

    async def add_request(self, chat: ChatKey, sender_id: str, text: str) -> int:
        """Record a request (a message that starts work); returns its id."""
        now = time.time()
        async with self._db.execute(
            "INSERT INTO requests (chat, sender_id, text, state, created_at, updated_at) "
            "VALUES (?, ?, ?, 'queued', ?, ?)",
            (str(chat), sender_id, text, now, now),
        ) as cur:
            request_id = cur.lastrowid
        await self._db.commit()
        assert request_id is not None
        return request_id

    async def set_request_state(
        self, request_id: int, state: RequestState, detail: str | None = None
    ) -> None:
        """Move a request to a new state."""
        await self._write(
            "UPDATE requests SET state = ?, detail = ?, updated_at = ? WHERE id = ?",
            (state, detail, time.time(), request_id),
        )

    async def get_request_state(self, request_id: int) -> tuple[RequestState, str | None] | None:
        """A request's state and detail (for tests and the operator)."""
        async with self._db.execute(
            "SELECT state, detail FROM requests WHERE id = ?", (request_id,)
        ) as cur:
            row = await cur.fetchone()
        return None if row is None else (row[0], row[1])

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
        async with self._db.execute(
            "SELECT job_id, chat, backend, state, progress, output_url FROM jobs WHERE job_id = ?",
            (job_id,),
        ) as cur:
            row = await cur.fetchone()
        if row is None:
            return None
        state: JobState = row[3]
        return RenderJob(row[0], ChatKey.parse(row[1]), row[2], state, row[4], row[5])

    # --- platform updates ----------------------------------------------------------------

    async def mark_update(self, platform: str, update_id: str) -> bool:
        """Record a platform update id; True the first time, False if already handled."""
        now = time.time()
        async with self._db.execute(
            "INSERT INTO handled_updates (platform, update_id, handled_at) VALUES (?, ?, ?) "
            "ON CONFLICT DO NOTHING",
            (platform, update_id, now),
        ) as cur:
            fresh = cur.rowcount == 1
        self._marks_since_prune += 1
        if self._marks_since_prune >= 1000:
            self._marks_since_prune = 0
            await self._db.execute(
                "DELETE FROM handled_updates WHERE handled_at < ?", (now - UPDATE_MEMORY_S,)
            )
        await self._db.commit()
        return fresh

    async def _write(self, sql: str, params: Sequence[object]) -> None:
        await self._db.execute(sql, params)
        await self._db.commit()


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

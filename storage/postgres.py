"""`Store` on PostgreSQL through asyncpg: one pool per process, many processes per
database (`CLIPBOT_DATABASE_URL=postgresql://…`).

The request queue is shared: a claim picks the oldest unfinished request of each chat
with `FOR UPDATE SKIP LOCKED`, so concurrent workers never take the same request and
never two of one chat; workers sleep on `LISTEN clipbot_work` and are woken by
`NOTIFY` when a request is queued or finished, in any process.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

import asyncpg

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

log = logging.getLogger(__name__)

CHANNEL = "clipbot_work"
#: Held while migrating, so processes starting together migrate once.
_MIGRATION_LOCK = 7_202_611

#: Each entry moves the schema one version up; never edit one that has shipped.
MIGRATIONS: Sequence[str] = (
    """
    CREATE TABLE chats (
        chat TEXT PRIMARY KEY,
        language TEXT NOT NULL,
        updated_at DOUBLE PRECISION NOT NULL
    );
    CREATE TABLE sessions (
        chat TEXT NOT NULL,
        backend TEXT NOT NULL,
        session_id TEXT NOT NULL,
        extra TEXT NOT NULL,
        created_at DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (chat, backend)
    );
    CREATE TABLE identities (
        backend TEXT PRIMARY KEY,
        client_id TEXT NOT NULL,
        token TEXT,
        updated_at DOUBLE PRECISION NOT NULL
    );
    CREATE TABLE requests (
        id BIGSERIAL PRIMARY KEY,
        chat TEXT NOT NULL,
        platform TEXT NOT NULL,
        sender_id TEXT NOT NULL,
        text TEXT NOT NULL,
        payload TEXT NOT NULL,
        state TEXT NOT NULL,
        step TEXT NOT NULL DEFAULT 'start',
        checkpoint TEXT NOT NULL DEFAULT '{}',
        detail TEXT,
        owner TEXT,
        lease_until DOUBLE PRECISION NOT NULL DEFAULT 0,
        attempts INTEGER NOT NULL DEFAULT 0,
        created_at DOUBLE PRECISION NOT NULL,
        updated_at DOUBLE PRECISION NOT NULL
    );
    CREATE INDEX requests_open ON requests (chat, id) WHERE state IN ('queued', 'running');
    CREATE INDEX requests_by_age ON requests (updated_at);
    CREATE TABLE jobs (
        job_id TEXT PRIMARY KEY,
        chat TEXT NOT NULL,
        backend TEXT NOT NULL,
        state TEXT NOT NULL,
        progress DOUBLE PRECISION,
        output_url TEXT,
        created_at DOUBLE PRECISION NOT NULL,
        updated_at DOUBLE PRECISION NOT NULL
    );
    CREATE INDEX jobs_by_age ON jobs (updated_at);
    CREATE TABLE handled_updates (
        platform TEXT NOT NULL,
        update_id TEXT NOT NULL,
        handled_at DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (platform, update_id)
    );
    CREATE INDEX handled_updates_by_age ON handled_updates (handled_at);
    CREATE TABLE inbox (
        platform TEXT NOT NULL,
        update_id TEXT NOT NULL,
        payload TEXT NOT NULL,
        received_at DOUBLE PRECISION NOT NULL,
        seq BIGSERIAL,
        handled_at DOUBLE PRECISION,
        PRIMARY KEY (platform, update_id)
    );
    CREATE TABLE locks (
        name TEXT PRIMARY KEY,
        owner TEXT NOT NULL,
        until DOUBLE PRECISION NOT NULL
    );
    """,
)

_REQUEST_COLUMNS = (
    "id, chat, sender_id, text, state, step, payload, checkpoint, detail, attempts, "
    "created_at, updated_at"
)


def _request(row: Mapping[str, Any]) -> StoredRequest:
    state: RequestState = row["state"]
    step: Step = row["step"]
    return StoredRequest(
        id=int(row["id"]),
        chat=ChatKey.parse(row["chat"]),
        sender_id=row["sender_id"],
        text=row["text"],
        state=state,
        step=step,
        payload=json.loads(row["payload"]),
        checkpoint=json.loads(row["checkpoint"]),
        detail=row["detail"],
        attempts=int(row["attempts"]),
        created_at=float(row["created_at"]),
        updated_at=float(row["updated_at"]),
    )


def _session(session_id: str, extra_json: str) -> BackendSession:
    extra = json.loads(extra_json)
    return BackendSession(session_id=session_id, extra={str(k): str(v) for k, v in extra.items()})


def _changed(status: str) -> int:
    """The row count of a command status such as ``UPDATE 1`` or ``INSERT 0 1``."""
    return int(status.rsplit(" ", 1)[-1])


class PostgresStore:
    """`bot.ports.store.Store` on PostgreSQL. Open with `await PostgresStore.open(url)`."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._wakeup = Wakeup()
        self._listener: asyncpg.Connection | None = None

    @classmethod
    async def open(cls, url: str, *, max_connections: int = 10) -> PostgresStore:
        """Connect, bring the schema up to date, and listen for new work."""
        pool = await asyncpg.create_pool(url, min_size=1, max_size=max_connections)
        try:
            async with pool.acquire() as conn:
                await _migrate(conn)
            store = cls(pool)
            await store._listen(url)
        except BaseException:
            await pool.close()
            raise
        return store

    async def _listen(self, url: str) -> None:
        self._listener = await asyncpg.connect(url)
        await self._listener.add_listener(CHANNEL, self._woken)

    def _woken(self, *_: object) -> None:
        self._wakeup.notify()

    async def close(self) -> None:
        """Stop listening and close the pool."""
        if self._listener is not None:
            with contextlib.suppress(Exception):
                await self._listener.close()
            self._listener = None
        await self._pool.close()

    async def schema_version(self) -> int:
        """The schema version."""
        async with self._pool.acquire() as conn:
            return await _version(conn)

    async def ping(self) -> None:
        """A round trip to the server (raises when it cannot be reached)."""
        await self._pool.fetchval("SELECT 1")

    # --- chats, sessions, identities -----------------------------------------------------

    async def get_chat_settings(self, chat: ChatKey) -> ChatSettings | None:
        """The chat's settings; None for a chat that has chosen nothing yet."""
        language = await self._pool.fetchval(
            "SELECT language FROM chats WHERE chat = $1", str(chat)
        )
        return None if language is None else ChatSettings(language=as_lang(language))

    async def set_chat_settings(self, chat: ChatKey, settings: ChatSettings) -> None:
        """Create or replace the chat's settings."""
        await self._pool.execute(
            "INSERT INTO chats (chat, language, updated_at) VALUES ($1, $2, $3) "
            "ON CONFLICT (chat) DO UPDATE SET language = excluded.language, "
            "updated_at = excluded.updated_at",
            str(chat), settings.language, time.time(),
        )  # fmt: skip

    async def get_session(self, chat: ChatKey, backend: str) -> BackendSession | None:
        """The chat's session on that backend, if one was opened."""
        row = await self._pool.fetchrow(
            "SELECT session_id, extra FROM sessions WHERE chat = $1 AND backend = $2",
            str(chat), backend,
        )  # fmt: skip
        return None if row is None else _session(row["session_id"], row["extra"])

    async def save_session(self, chat: ChatKey, backend: str, session: BackendSession) -> None:
        """Create or replace the chat's session on that backend."""
        await self._pool.execute(
            "INSERT INTO sessions (chat, backend, session_id, extra, created_at) "
            "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (chat, backend) DO UPDATE SET "
            "session_id = excluded.session_id, extra = excluded.extra, "
            "created_at = excluded.created_at",
            str(chat), backend, session.session_id, json.dumps(dict(session.extra)), time.time(),
        )  # fmt: skip

    async def delete_session(self, chat: ChatKey, backend: str) -> None:
        """Forget the chat's session."""
        await self._pool.execute(
            "DELETE FROM sessions WHERE chat = $1 AND backend = $2", str(chat), backend
        )

    async def stale_sessions(
        self, backend: str, before: float
    ) -> list[tuple[ChatKey, BackendSession]]:
        """Sessions of that backend last saved before `before`."""
        rows = await self._pool.fetch(
            "SELECT chat, session_id, extra FROM sessions WHERE backend = $1 AND created_at < $2",
            backend, before,
        )  # fmt: skip
        return [(ChatKey.parse(r["chat"]), _session(r["session_id"], r["extra"])) for r in rows]

    async def get_identity(self, backend: str) -> Identity | None:
        """The stored identity for a backend (shared by every process)."""
        row = await self._pool.fetchrow(
            "SELECT client_id, token FROM identities WHERE backend = $1", backend
        )
        return None if row is None else Identity(row["client_id"], row["token"])

    async def save_identity(self, backend: str, identity: Identity) -> None:
        """Create or replace the identity for a backend."""
        await self._pool.execute(
            "INSERT INTO identities (backend, client_id, token, updated_at) "
            "VALUES ($1, $2, $3, $4) ON CONFLICT (backend) DO UPDATE SET "
            "client_id = excluded.client_id, token = excluded.token, "
            "updated_at = excluded.updated_at",
            backend, identity.client_id, identity.token, time.time(),
        )  # fmt: skip

    # --- the request queue ---------------------------------------------------------------

    async def add_request(self, request: NewRequest) -> int:
        """Queue a request (durably), and wake the workers of every process."""
        now = time.time()
        async with self._pool.acquire() as conn, conn.transaction():
            request_id = await conn.fetchval(
                "INSERT INTO requests (chat, platform, sender_id, text, payload, state, "
                "created_at, updated_at) VALUES ($1, $2, $3, $4, $5, 'queued', $6, $6) "
                "RETURNING id",
                str(request.chat), request.chat.platform, request.sender_id, request.text,
                json.dumps(dict(request.payload), ensure_ascii=False), now,
            )  # fmt: skip
            await conn.execute("SELECT pg_notify($1, '')", CHANNEL)
        return int(request_id)

    async def get_request(self, request_id: int) -> StoredRequest | None:
        """A request by id."""
        row = await self._pool.fetchrow(
            f"SELECT {_REQUEST_COLUMNS} FROM requests WHERE id = $1", request_id
        )
        return None if row is None else _request(row)

    async def unfinished_requests(self, chat: ChatKey) -> int:
        """How many of the chat's requests are queued or running."""
        count = await self._pool.fetchval(
            "SELECT count(*) FROM requests WHERE chat = $1 AND state IN ('queued', 'running')",
            str(chat),
        )
        return int(count)

    async def claim_requests(
        self, owner: str, platforms: Sequence[str], limit: int, lease_s: float
    ) -> list[StoredRequest]:
        """Claim the oldest unfinished request of each chat, when queued or expired;
        `SKIP LOCKED` keeps concurrent claimers off each other's rows."""
        if not platforms or limit <= 0:
            return []
        now = time.time()
        rows = await self._pool.fetch(
            "WITH picked AS ("
            " SELECT r.id FROM requests r"
            " WHERE r.state IN ('queued', 'running') AND r.platform = ANY($2::text[])"
            "  AND (r.state = 'queued' OR r.lease_until < $3)"
            "  AND NOT EXISTS (SELECT 1 FROM requests o WHERE o.chat = r.chat"
            "   AND o.state IN ('queued', 'running') AND o.id < r.id)"
            " ORDER BY r.id LIMIT $4 FOR UPDATE SKIP LOCKED)"
            " UPDATE requests SET state = 'running', owner = $1, lease_until = $5,"
            " attempts = requests.attempts + 1, updated_at = $3"
            " FROM picked WHERE requests.id = picked.id"
            f" RETURNING {', '.join('requests.' + c for c in _REQUEST_COLUMNS.split(', '))}",
            owner, list(platforms), now, limit, now + lease_s,
        )  # fmt: skip
        return sorted((_request(row) for row in rows), key=lambda r: r.id)

    async def renew_leases(
        self, owner: str, request_ids: Sequence[int], lease_s: float
    ) -> set[int]:
        """Extend the leases of these requests while `owner` holds them."""
        if not request_ids:
            return set()
        rows = await self._pool.fetch(
            "UPDATE requests SET lease_until = $1 WHERE owner = $2 AND state = 'running' "
            "AND id = ANY($3::bigint[]) RETURNING id",
            time.time() + lease_s, owner, list(request_ids),
        )  # fmt: skip
        return {int(row["id"]) for row in rows}

    async def checkpoint_request(
        self, request_id: int, owner: str, step: Step, checkpoint: Mapping[str, Any]
    ) -> bool:
        """Record how far the request got; False when `owner` no longer holds it."""
        status = await self._pool.execute(
            "UPDATE requests SET step = $1, checkpoint = $2, updated_at = $3 "
            "WHERE id = $4 AND owner = $5 AND state = 'running'",
            step, json.dumps(dict(checkpoint), ensure_ascii=False), time.time(), request_id,
            owner,
        )  # fmt: skip
        return _changed(status) == 1

    async def finish_request(
        self, request_id: int, owner: str, state: RequestState, detail: str | None = None
    ) -> bool:
        """End the request; the chat's next may run now (the workers are woken)."""
        async with self._pool.acquire() as conn, conn.transaction():
            status = await conn.execute(
                "UPDATE requests SET state = $1, detail = $2, owner = NULL, lease_until = 0, "
                "updated_at = $3 WHERE id = $4 AND owner = $5 AND state = 'running'",
                state, detail, time.time(), request_id, owner,
            )  # fmt: skip
            await conn.execute("SELECT pg_notify($1, '')", CHANNEL)
        return _changed(status) == 1

    async def release_requests(self, owner: str) -> int:
        """Give up `owner`'s leases at once; the requests stay where they got to."""
        async with self._pool.acquire() as conn, conn.transaction():
            status = await conn.execute(
                "UPDATE requests SET owner = NULL, lease_until = 0 "
                "WHERE owner = $1 AND state = 'running'",
                owner,
            )
            await conn.execute("SELECT pg_notify($1, '')", CHANNEL)
        return _changed(status)

    async def recover_leases(self) -> int:
        """Nothing: other processes may be alive; a dead one's leases run out."""
        return 0

    async def notify_work(self) -> None:
        """Wake the workers of every process (`NOTIFY`)."""
        await self._pool.execute("SELECT pg_notify($1, '')", CHANNEL)

    async def wait_for_work(self, timeout_s: float) -> None:
        """Return at the next `NOTIFY` (from any process), or after `timeout_s`."""
        await self._wakeup.wait(timeout_s)

    # --- render jobs ---------------------------------------------------------------------

    async def save_job(self, job: RenderJob) -> None:
        """Create or update a render job (a known output URL is kept)."""
        now = time.time()
        await self._pool.execute(
            "INSERT INTO jobs (job_id, chat, backend, state, progress, output_url, created_at, "
            "updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7) ON CONFLICT (job_id) DO UPDATE "
            "SET state = excluded.state, progress = excluded.progress, "
            "output_url = COALESCE(excluded.output_url, jobs.output_url), "
            "updated_at = excluded.updated_at",
            job.job_id, str(job.chat), job.backend, job.state, job.progress, job.output_url, now,
        )  # fmt: skip

    async def get_job(self, job_id: str) -> RenderJob | None:
        """A render job by id."""
        row = await self._pool.fetchrow(
            "SELECT job_id, chat, backend, state, progress, output_url FROM jobs WHERE job_id = $1",
            job_id,
        )
        if row is None:
            return None
        state: JobState = row["state"]
        return RenderJob(
            row["job_id"], ChatKey.parse(row["chat"]), row["backend"], state, row["progress"],
            row["output_url"],
        )  # fmt: skip

    # --- platform updates ----------------------------------------------------------------

    async def mark_update(self, platform: str, update_id: str) -> bool:
        """Record a platform update id; True the first time."""
        status = await self._pool.execute(
            "INSERT INTO handled_updates (platform, update_id, handled_at) VALUES ($1, $2, $3) "
            "ON CONFLICT DO NOTHING",
            platform, update_id, time.time(),
        )  # fmt: skip
        return _changed(status) == 1

    async def receive_update(self, platform: str, update_id: str, payload: str) -> bool:
        """Keep a raw update until it is handled; False if it was received before."""
        status = await self._pool.execute(
            "INSERT INTO inbox (platform, update_id, payload, received_at) "
            "VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
            platform, update_id, payload, time.time(),
        )  # fmt: skip
        return _changed(status) == 1

    async def update_handled(self, platform: str, update_id: str) -> None:
        """The update was answered or queued."""
        await self._pool.execute(
            "UPDATE inbox SET handled_at = $1, payload = '' "
            "WHERE platform = $2 AND update_id = $3",
            time.time(), platform, update_id,
        )  # fmt: skip

    async def unhandled_updates(self, platform: str) -> list[tuple[str, str]]:
        """(update id, payload) of updates received but never handled, oldest first."""
        rows = await self._pool.fetch(
            "SELECT update_id, payload FROM inbox WHERE platform = $1 AND handled_at IS NULL "
            "ORDER BY received_at, seq",
            platform,
        )
        return [(row["update_id"], row["payload"]) for row in rows]

    # --- leadership ----------------------------------------------------------------------

    async def hold_lock(self, name: str, owner: str, ttl_s: float) -> bool:
        """Take or keep the named lock while free, expired or already `owner`'s."""
        now = time.time()
        held = await self._pool.fetchval(
            "INSERT INTO locks (name, owner, until) VALUES ($1, $2, $3) "
            "ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, until = excluded.until "
            "WHERE locks.owner = excluded.owner OR locks.until < $4 RETURNING owner",
            name, owner, now + ttl_s, now,
        )  # fmt: skip
        return held is not None

    async def release_lock(self, name: str, owner: str) -> None:
        """Let the named lock go, if `owner` holds it."""
        await self._pool.execute("DELETE FROM locks WHERE name = $1 AND owner = $2", name, owner)

    # --- upkeep --------------------------------------------------------------------------

    async def prune(self, before: float) -> Mapping[str, int]:
        """Forget requests, jobs and handled updates older than `before`."""
        counts: dict[str, int] = {}
        async with self._pool.acquire() as conn:
            for name, sql in (
                ("requests", "DELETE FROM requests WHERE updated_at < $1"),
                ("jobs", "DELETE FROM jobs WHERE updated_at < $1"),
                ("updates", "DELETE FROM handled_updates WHERE handled_at < $1"),
                ("inbox", "DELETE FROM inbox WHERE handled_at IS NOT NULL AND handled_at < $1"),
            ):
                counts[name] = _changed(await conn.execute(sql, before))
        return counts


async def _version(conn: asyncpg.Connection) -> int:
    await conn.execute("CREATE TABLE IF NOT EXISTS clipbot_schema (version INTEGER NOT NULL)")
    version = await conn.fetchval("SELECT max(version) FROM clipbot_schema")
    return int(version or 0)


async def _migrate(conn: asyncpg.Connection) -> None:
    async with conn.transaction():
        # Processes starting together wait here: one migrates, the others find it done.
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _MIGRATION_LOCK)
        version = await _version(conn)
        if version > len(MIGRATIONS):
            raise RuntimeError(
                f"database schema {version} is newer than this Clipbot knows ({len(MIGRATIONS)})"
            )
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            await conn.execute(script)
            await conn.execute("INSERT INTO clipbot_schema (version) VALUES ($1)", number)
            log.info("PostgreSQL schema migrated to version %d", number)


async def wait_for_server(url: str, timeout_s: float = 10.0) -> None:
    """Wait until PostgreSQL answers (a server just started)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            conn = await asyncpg.connect(url, timeout=2)
        except (OSError, asyncpg.PostgresError):
            if time.monotonic() >= deadline:
                raise
            await asyncio.sleep(0.2)
            continue
        await conn.close()
        return

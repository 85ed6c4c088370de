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
import logging
import re
import time
from collections.abc import Sequence

import asyncpg

from bot.ports.store import StoredRequest
from storage.rows import OPEN, REQUEST_COLUMNS, Result, request_from_row
from storage.sql import SqlStore
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
    CREATE TABLE blocked_users (
        user_key TEXT PRIMARY KEY,
        blocked_by TEXT NOT NULL,
        created_at DOUBLE PRECISION NOT NULL
    );
    CREATE TABLE clips (
        id BIGSERIAL PRIMARY KEY,
        user_key TEXT NOT NULL,
        chat TEXT NOT NULL,
        seconds DOUBLE PRECISION NOT NULL,
        render_s DOUBLE PRECISION NOT NULL,
        size_bytes BIGINT,
        delivery TEXT NOT NULL,
        created_at DOUBLE PRECISION NOT NULL
    );
    CREATE INDEX clips_by_user ON clips (user_key, created_at);
    CREATE INDEX clips_by_time ON clips (created_at);
    CREATE TABLE credit_spend (
        user_key TEXT NOT NULL,
        credits DOUBLE PRECISION NOT NULL,
        created_at DOUBLE PRECISION NOT NULL
    );
    CREATE INDEX credit_spend_by_user ON credit_spend (user_key, created_at);
    CREATE INDEX requests_by_time ON requests (created_at);
    CREATE TABLE projects (
        backend TEXT NOT NULL,
        project_id TEXT NOT NULL,
        state TEXT NOT NULL,
        updated_at DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (backend, project_id)
    );
    CREATE TABLE project_files (
        backend TEXT NOT NULL,
        project_id TEXT NOT NULL,
        name TEXT NOT NULL,
        data BYTEA NOT NULL,
        PRIMARY KEY (backend, project_id, name)
    );
    """,
    # The queue's rows churn: re-analyse and vacuum it sooner than the defaults (20%).
    """
    ALTER TABLE requests SET (autovacuum_analyze_threshold = 200,
        autovacuum_analyze_scale_factor = 0.02, autovacuum_vacuum_scale_factor = 0.05);
    """,
    # A request's key (the message it came from): a message handled again after a
    # crash (kept, not yet marked handled) finds its request instead of making another.
    """
    ALTER TABLE requests ADD COLUMN dedupe_key TEXT;
    CREATE UNIQUE INDEX requests_by_key ON requests (dedupe_key) WHERE dedupe_key IS NOT NULL;
    """,
)

_PLACEHOLDER = re.compile(r"\?")


def _numbered(sql: str) -> str:
    """`?` placeholders as PostgreSQL's `$1`, `$2`, … (no `?` appears in our SQL else)."""
    count = 0

    def number(_: re.Match[str]) -> str:
        nonlocal count
        count += 1
        return f"${count}"

    return _PLACEHOLDER.sub(number, sql)


def _changed(status: str) -> int:
    """The row count of a command status such as ``UPDATE 1`` or ``INSERT 0 1``."""
    last = status.rsplit(" ", 1)[-1]
    return int(last) if last.isdigit() else 0


class PostgresStore(SqlStore):
    """`bot.ports.store.Store` on PostgreSQL. Open with `await PostgresStore.open(url)`."""

    inbox_order = "received_at, seq"

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._wakeup = Wakeup()
        self._listener: asyncpg.Connection | None = None
        self._sql: dict[str, str] = {}

    @classmethod
    async def open(cls, url: str, *, max_connections: int = 10) -> PostgresStore:
        """Connect, bring the schema up to date, and listen for new work."""
        pool = await asyncpg.create_pool(url, min_size=1, max_size=max_connections)
        try:
            async with pool.acquire() as conn:
                await _migrate(conn)
            store = cls(pool)
            store._listener = await asyncpg.connect(url)
            await store._listener.add_listener(CHANNEL, store._woken)
        except BaseException:
            await pool.close()
            raise
        return store

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

    async def _run(self, sql: str, params: Sequence[object] = ()) -> Result:
        """One statement on a pooled connection (autocommit), its rows read."""
        text = self._sql.get(sql)
        if text is None:
            text = self._sql[sql] = _numbered(sql)
        async with self._pool.acquire() as conn:
            if " RETURNING " in text or text.lstrip().upper().startswith("SELECT"):
                rows = await conn.fetch(text, *params)
                return Result([tuple(row.values()) for row in rows], len(rows))
            status = await conn.execute(text, *params)
        return Result([], _changed(status))

    async def _many(self, statements: Sequence[tuple[str, Sequence[object]]]) -> list[Result]:
        """Several statements at once, each on a pooled connection."""
        return list(await asyncio.gather(*(self._run(sql, params) for sql, params in statements)))

    # --- the dialect's own: the claim, the wake-ups ---------------------------------------

    async def claim_requests(
        self, owner: str, platforms: Sequence[str], limit: int, lease_s: float
    ) -> list[StoredRequest]:
        """Claim the oldest unfinished request of each chat, when queued or expired;
        `SKIP LOCKED` keeps concurrent claimers (other processes) off each other's rows."""
        if not platforms or limit <= 0:
            return []
        now = time.time()
        returning = ", ".join("requests." + c for c in REQUEST_COLUMNS.split(", "))
        rows = await self._pool.fetch(
            "WITH picked AS ("
            " SELECT r.id FROM requests r"
            f" WHERE r.{OPEN} AND r.platform = ANY($2::text[])"
            "  AND (r.state = 'queued' OR r.lease_until < $3)"
            # The chat's first open request: one index probe per row, however stale
            # the table's statistics (NOT EXISTS planned from none took 58 ms at 1000).
            f"  AND r.id = (SELECT min(o.id) FROM requests o WHERE o.chat = r.chat AND o.{OPEN})"
            " ORDER BY r.id LIMIT $4 FOR UPDATE SKIP LOCKED)"
            " UPDATE requests SET state = 'running', owner = $1, lease_until = $5,"
            " attempts = requests.attempts + 1, updated_at = $3"
            f" FROM picked WHERE requests.id = picked.id RETURNING {returning}",
            owner, list(platforms), now, limit, now + lease_s,
        )  # fmt: skip
        return sorted((request_from_row(tuple(r.values())) for r in rows), key=lambda r: r.id)

    async def recover_leases(self) -> int:
        """Nothing: other processes may be alive; a dead one's leases run out."""
        return 0

    async def notify_work(self) -> None:
        """Wake the workers of every process (`NOTIFY`)."""
        await self._pool.execute("SELECT pg_notify($1, '')", CHANNEL)

    async def wait_for_work(self, timeout_s: float) -> None:
        """Return at the next `NOTIFY` (from any process), or after `timeout_s`."""
        await self._wakeup.wait(timeout_s)


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

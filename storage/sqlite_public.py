"""The tables of a public bot in the SQLite store (the block list, delivered clips, credits
spent per user) and its operator's views of the requests: a part of `SqliteStore`, kept
apart from the core tables. Their schema is migration 2 in `storage.sqlite`."""

from __future__ import annotations

import time
from collections.abc import Sequence

import aiosqlite

from bot.ports.chat import ChatKey
from bot.ports.store import ClipRecord, RequestRecord, RequestState


class PublicBotTables:
    """The public-bot half of `SqliteStore` (which owns the connection)."""

    _db: aiosqlite.Connection

    async def block_user(self, user: str, by: str) -> None:
        """Block "platform:id" from using the bot (`by`: the admin who did it)."""
        await self._commit(
            "INSERT INTO blocked_users (user, blocked_by, created_at) VALUES (?, ?, ?) "
            "ON CONFLICT (user) DO NOTHING",
            (user, by, time.time()),
        )

    async def unblock_user(self, user: str) -> bool:
        """Lift a block; False when the user was not blocked."""
        async with self._db.execute("DELETE FROM blocked_users WHERE user = ?", (user,)) as cur:
            removed = cur.rowcount > 0
        await self._db.commit()
        return removed

    async def is_blocked(self, user: str) -> bool:
        """Whether "platform:id" is blocked."""
        async with self._db.execute("SELECT 1 FROM blocked_users WHERE user = ?", (user,)) as cur:
            return await cur.fetchone() is not None

    async def blocked_users(self) -> list[str]:
        """Every blocked "platform:id", oldest block first."""
        async with self._db.execute(
            "SELECT user FROM blocked_users ORDER BY created_at, user"
        ) as cur:
            return [str(row[0]) for row in await cur.fetchall()]

    async def add_clip(self, clip: ClipRecord) -> None:
        """Record a delivered clip."""
        await self._commit(
            "INSERT INTO clips (user, chat, seconds, render_s, size_bytes, delivery, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (clip.user, str(clip.chat), clip.seconds, clip.render_s, clip.size_bytes,
             clip.delivery, clip.at),
        )  # fmt: skip

    async def clips_since(self, since: float, user: str | None = None) -> list[ClipRecord]:
        """Clips delivered at or after `since` (Unix time), of one user or of everyone."""
        sql = (
            "SELECT user, chat, seconds, render_s, size_bytes, delivery, created_at FROM clips "
            "WHERE created_at >= ?"
        )
        params: tuple[object, ...] = (since,)
        if user is not None:
            sql, params = sql + " AND user = ?", (since, user)
        async with self._db.execute(sql + " ORDER BY created_at", params) as cur:
            rows = await cur.fetchall()
        return [ClipRecord(r[0], ChatKey.parse(r[1]), r[2], r[3], r[4], r[5], r[6]) for r in rows]

    async def add_credit_spend(self, user: str, credits: float, at: float) -> None:
        """Record backend credits a user's request spent."""
        await self._commit(
            "INSERT INTO credit_spend (user, credits, created_at) VALUES (?, ?, ?)",
            (user, credits, at),
        )

    async def credits_spent(self, user: str, since: float) -> float:
        """The credits a user spent at or after `since`."""
        async with self._db.execute(
            "SELECT COALESCE(SUM(credits), 0) FROM credit_spend WHERE user = ? AND created_at >= ?",
            (user, since),
        ) as cur:
            row = await cur.fetchone()
        return float(row[0]) if row else 0.0

    async def request_outcomes(self, since: float) -> dict[tuple[RequestState, str | None], int]:
        """Requests made at or after `since`, counted by (state, detail)."""
        async with self._db.execute(
            "SELECT state, detail, COUNT(*) FROM requests WHERE created_at >= ? "
            "GROUP BY state, detail",
            (since,),
        ) as cur:
            return {(row[0], row[1]): int(row[2]) for row in await cur.fetchall()}

    async def recent_requests(self, limit: int) -> list[RequestRecord]:
        """The latest requests, newest first."""
        async with self._db.execute(
            "SELECT id, chat, sender_id, text, state, detail, created_at, updated_at "
            "FROM requests ORDER BY id DESC LIMIT ?",
            (limit,),
        ) as cur:
            rows = await cur.fetchall()
        return [
            RequestRecord(r[0], ChatKey.parse(r[1]), r[2], r[3], r[4], r[5], r[6], r[7])
            for r in rows
        ]

    async def ping(self) -> None:
        """Raise when the store cannot be reached (the health check)."""
        async with self._db.execute("SELECT 1") as cur:
            await cur.fetchone()

    async def _commit(self, sql: str, params: Sequence[object]) -> None:
        await self._db.execute(sql, params)
        await self._db.commit()

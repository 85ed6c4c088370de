"""The queries of a public bot (`bot.gate`): the block list, clips and credits per
user, and the operator's views — for SQLite and PostgreSQL alike."""

from __future__ import annotations

import time

from bot.ports.chat import ChatKey
from bot.ports.store import ClipRecord, RequestState, StoredRequest
from storage.rows import REQUEST_COLUMNS, SqlBase, request_from_row


class PublicQueries(SqlBase):
    """Access, usage and the operator's views."""

    async def block_user(self, user: str, by: str) -> None:
        """Block "platform:id" from using the bot (`by`: the admin who did it)."""
        await self._run(
            "INSERT INTO blocked_users (user_key, blocked_by, created_at) VALUES (?, ?, ?) "
            "ON CONFLICT (user_key) DO NOTHING",
            (user, by, time.time()),
        )

    async def unblock_user(self, user: str) -> bool:
        """Lift a block; False when the user was not blocked."""
        return await self._changed("DELETE FROM blocked_users WHERE user_key = ?", (user,))

    async def is_blocked(self, user: str) -> bool:
        """Whether "platform:id" is blocked."""
        return (
            await self._one("SELECT 1 FROM blocked_users WHERE user_key = ?", (user,)) is not None
        )

    async def blocked_users(self) -> list[str]:
        """Every blocked "platform:id", oldest block first."""
        result = await self._run("SELECT user_key FROM blocked_users ORDER BY created_at, user_key")
        return [str(row[0]) for row in result.rows]

    async def add_clip(self, clip: ClipRecord) -> None:
        """Record a delivered clip."""
        await self._run(
            "INSERT INTO clips (user_key, chat, seconds, render_s, size_bytes, delivery, "
            "created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (clip.user, str(clip.chat), clip.seconds, clip.render_s, clip.size_bytes,
             clip.delivery, clip.at),
        )  # fmt: skip

    async def clips_since(self, since: float, user: str | None = None) -> list[ClipRecord]:
        """Clips delivered at or after `since` (Unix time), of one user or of everyone."""
        sql = (
            "SELECT user_key, chat, seconds, render_s, size_bytes, delivery, created_at "
            "FROM clips WHERE created_at >= ?"
        )
        params: tuple[object, ...] = (since,)
        if user is not None:
            sql, params = sql + " AND user_key = ?", (since, user)
        rows = (await self._run(sql + " ORDER BY created_at", params)).rows
        return [
            ClipRecord(r[0], ChatKey.parse(r[1]), float(r[2]), float(r[3]), r[4], r[5], float(r[6]))
            for r in rows
        ]

    async def add_credit_spend(self, user: str, credits: float, at: float) -> None:
        """Record backend credits a user's request spent."""
        await self._run(
            "INSERT INTO credit_spend (user_key, credits, created_at) VALUES (?, ?, ?)",
            (user, credits, at),
        )

    async def credits_spent(self, user: str, since: float) -> float:
        """The credits a user spent at or after `since`."""
        row = await self._one(
            "SELECT COALESCE(SUM(credits), 0) FROM credit_spend "
            "WHERE user_key = ? AND created_at >= ?",
            (user, since),
        )
        return float(row[0]) if row else 0.0

    async def request_outcomes(self, since: float) -> dict[tuple[RequestState, str | None], int]:
        """Requests made at or after `since`, counted by (state, detail)."""
        result = await self._run(
            "SELECT state, detail, COUNT(*) FROM requests WHERE created_at >= ? "
            "GROUP BY state, detail",
            (since,),
        )
        return {(row[0], row[1]): int(row[2]) for row in result.rows}

    async def recent_requests(self, limit: int) -> list[StoredRequest]:
        """The latest requests, newest first."""
        result = await self._run(
            f"SELECT {REQUEST_COLUMNS} FROM requests ORDER BY id DESC LIMIT ?", (limit,)
        )
        return [request_from_row(row) for row in result.rows]

    async def ping(self) -> None:
        """Raise when the store cannot be reached (the health check)."""
        await self._run("SELECT 1")

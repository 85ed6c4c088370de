"""The in-memory store's tables of a public bot: the block list, usage, the operator's
views (as `storage.sql_public` is for the SQL stores)."""

from __future__ import annotations

from bot.ports.store import ClipRecord, RequestState, StoredRequest


class MemoryPublic:
    """Access, usage and the operator's views, in memory."""

    requests: dict[int, StoredRequest]

    def __init__(self) -> None:
        self.blocked: dict[str, str] = {}
        self.clips: list[ClipRecord] = []
        self.spends: list[tuple[str, float, float]] = []

    async def block_user(self, user: str, by: str) -> None:
        """Block "platform:id" from using the bot."""
        self.blocked.setdefault(user, by)

    async def unblock_user(self, user: str) -> bool:
        """Lift a block; False when the user was not blocked."""
        return self.blocked.pop(user, None) is not None

    async def is_blocked(self, user: str) -> bool:
        """Whether "platform:id" is blocked."""
        return user in self.blocked

    async def blocked_users(self) -> list[str]:
        """Every blocked "platform:id", oldest block first."""
        return list(self.blocked)

    async def add_clip(self, clip: ClipRecord) -> None:
        """Record a delivered clip."""
        self.clips.append(clip)

    async def clips_since(self, since: float, user: str | None = None) -> list[ClipRecord]:
        """Clips delivered at or after `since`, of one user or of everyone."""
        found = [c for c in self.clips if c.at >= since and user in (None, c.user)]
        return sorted(found, key=lambda c: c.at)

    async def add_credit_spend(self, user: str, credits: float, at: float) -> None:
        """Record backend credits a user's request spent."""
        self.spends.append((user, credits, at))

    async def credits_spent(self, user: str, since: float) -> float:
        """The credits a user spent at or after `since`."""
        return float(sum(n for who, n, at in self.spends if who == user and at >= since))

    async def request_outcomes(self, since: float) -> dict[tuple[RequestState, str | None], int]:
        """Requests made at or after `since`, counted by (state, detail)."""
        counts: dict[tuple[RequestState, str | None], int] = {}
        for r in self.requests.values():
            if r.created_at >= since:
                counts[(r.state, r.detail)] = counts.get((r.state, r.detail), 0) + 1
        return counts

    async def recent_requests(self, limit: int) -> list[StoredRequest]:
        """The latest requests, newest first."""
        return sorted(self.requests.values(), key=lambda r: r.id, reverse=True)[:limit]

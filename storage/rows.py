"""What the SQL stores share below their queries: a statement's result, the request
columns and how a row becomes a `StoredRequest`, and the base with `_run` that each
dialect (`storage.sqlite`, `storage.postgres`) implements.

SQL here uses `?` placeholders; the PostgreSQL store numbers them (`$1`, `$2`, …).
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot.ports.chat import ChatKey
from bot.ports.store import (
    RequestState,
    Step,
    StoredRequest,
)

REQUEST_COLUMNS = (
    "id, chat, sender_id, text, state, step, payload, checkpoint, detail, attempts, "
    "created_at, updated_at"
)
OPEN = "state IN ('queued', 'running')"


@dataclass(frozen=True, slots=True)
class Result:
    """What one statement gave: its rows, and how many rows it changed."""

    rows: list[Sequence[Any]]
    changed: int


def request_from_row(row: Sequence[Any]) -> StoredRequest:
    """A `StoredRequest` from a row of `REQUEST_COLUMNS`."""
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


def marks(n: int) -> str:
    """`?, ?, ?` for a list of `n` values."""
    return ", ".join("?" for _ in range(n))


class SqlBase(ABC):
    """One statement at a time, committed (the dialects give `_run`)."""

    @abstractmethod
    async def _run(self, sql: str, params: Sequence[object] = ()) -> Result:
        """One statement, committed, its rows read."""

    @abstractmethod
    async def notify_work(self) -> None:
        """Wake the workers (see the dialects)."""

    async def _many(self, statements: Sequence[tuple[str, Sequence[object]]]) -> list[Result]:
        """Several statements whose order does not matter (a dialect may send them in
        one trip)."""
        return [await self._run(sql, params) for sql, params in statements]

    async def _one(self, sql: str, params: Sequence[object]) -> Any:
        rows = (await self._run(sql, params)).rows
        return rows[0] if rows else None

    async def _changed(self, sql: str, params: Sequence[object]) -> bool:
        return (await self._run(sql, params)).changed == 1

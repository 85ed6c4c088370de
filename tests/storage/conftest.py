"""Every store implementation, for the contract tests: the same behaviour from each."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.ports.store import Store
from storage.memory import MemoryStore
from storage.sqlite import SqliteStore

KINDS = ["memory", "sqlite"]


@pytest.fixture(params=KINDS)
async def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    """Each store in turn (the contract tests run against every one)."""
    if request.param == "memory":
        memory = MemoryStore()
        yield memory
        await memory.close()
        return
    sqlite = await SqliteStore.open(tmp_path / "db.sqlite3")
    yield sqlite
    await sqlite.close()

"""Every store implementation, for the contract tests: the same behaviour from each."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.ports.store import Store
from storage.memory import MemoryStore
from storage.sqlite import SqliteStore
from tests.pg import fresh_database

KINDS = ["memory", "sqlite", "postgres"]


@pytest.fixture(params=KINDS)
async def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    """Each store in turn (the contract tests run against every one)."""
    if request.param == "memory":
        memory = MemoryStore()
        yield memory
        await memory.close()
        return
    if request.param == "sqlite":
        sqlite = await SqliteStore.open(tmp_path / "db.sqlite3")
        yield sqlite
        await sqlite.close()
        return
    from storage.postgres import PostgresStore

    async with fresh_database() as url:
        postgres = await PostgresStore.open(url)
        try:
            yield postgres
        finally:
            await postgres.close()

"""The SQLite store keeps what must survive a restart."""

from __future__ import annotations

import os
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import aiosqlite
import pytest

from bot.ports.backend import BackendSession
from bot.ports.chat import ChatKey
from bot.ports.store import ChatSettings, Identity, NewRequest, Store
from storage.sqlite import MIGRATIONS, SqliteStore

CHAT = ChatKey("telegram", "-100123")
OTHER = ChatKey("discord", "42")


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    s = await SqliteStore.open(tmp_path / "db.sqlite3")
    yield s
    await s.close()


async def test_implements_the_store_protocol(store: SqliteStore) -> None:
    as_protocol: Store = store  # mypy checks the structural match
    assert await as_protocol.get_session(CHAT, "local") is None


async def test_schema_is_migrated_and_private(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "db.sqlite3"
    s = await SqliteStore.open(path)
    assert await s.schema_version() == len(MIGRATIONS)
    await s.close()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    async with aiosqlite.connect(path) as db, db.execute("PRAGMA journal_mode") as cur:
        assert (await cur.fetchone()) == ("wal",)


async def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    async with aiosqlite.connect(path) as db:
        await db.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
        await db.commit()
    with pytest.raises(RuntimeError, match="newer"):
        await SqliteStore.open(path)


async def test_everything_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    first = await SqliteStore.open(path)
    await first.save_session(CHAT, "nemo", BackendSession("s1", {"task_id": "t"}))
    await first.save_identity("nemo", Identity("c1d2", "nmv_usr_test"))
    await first.set_chat_settings(CHAT, ChatSettings(language="zh"))
    assert await first.mark_update("telegram", "1001")
    request_id = await first.add_request(NewRequest(CHAT, "u1", "zoom in", {"lang": "zh"}))
    await first.claim_requests("w", ["telegram"], 1, 30)
    await first.checkpoint_request(request_id, "w", "instructing", {"before": {"x": "夏"}})
    await first.close()

    second = await SqliteStore.open(path)
    try:
        assert await second.get_session(CHAT, "nemo") == BackendSession("s1", {"task_id": "t"})
        assert await second.get_identity("nemo") == Identity("c1d2", "nmv_usr_test")
        assert await second.get_chat_settings(CHAT) == ChatSettings(language="zh")
        assert not await second.mark_update("telegram", "1001")
        stored = await second.get_request(request_id)
        assert stored is not None
        assert (stored.state, stored.step, stored.payload, stored.checkpoint) == (
            "running",
            "instructing",
            {"lang": "zh"},
            {"before": {"x": "夏"}},
        )
    finally:
        await second.close()


async def test_requests_left_open_by_the_first_schema_are_closed(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    async with aiosqlite.connect(path) as db:
        await db.executescript(f"BEGIN;{MIGRATIONS[0]}PRAGMA user_version = 1;COMMIT;")
        await db.execute(
            "INSERT INTO requests (chat, sender_id, text, state, created_at, updated_at) "
            "VALUES ('telegram:1', 'u', 'old', 'running', 0, 0)"
        )
        await db.commit()
    store = await SqliteStore.open(path)
    try:
        # It has no payload to resume from: failed, not claimable, not blocking the chat.
        old = await store.get_request(1)
        assert old is not None
        assert (old.state, old.chat) == ("failed", ChatKey("telegram", "1"))
        new = await store.add_request(NewRequest(ChatKey("telegram", "1"), "u", "new"))
        assert [r.id for r in await store.claim_requests("w", ["telegram"], 5, 30)] == [new]
    finally:
        await store.close()


async def test_the_first_worker_process_frees_the_leases_of_the_dead(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    dead = await SqliteStore.open(path)
    request_id = await dead.add_request(NewRequest(CHAT, "u", "clip"))
    await dead.claim_requests("dead-worker", ["telegram"], 1, 3600)
    await dead.close()  # killed: its lease would hold for an hour
    first, second = await SqliteStore.open(path), await SqliteStore.open(path)
    try:
        assert await first.recover_leases() == 1
        # Another process on the same data dir while the first lives frees nothing.
        assert await second.recover_leases() == 0
        [resumed] = await first.claim_requests("w", ["telegram"], 1, 30)
        assert (resumed.id, resumed.attempts) == (request_id, 2)
    finally:
        await first.close()
        await second.close()

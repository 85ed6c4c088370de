"""The SQLite store keeps what must survive a restart."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import stat
from collections.abc import AsyncIterator
from pathlib import Path

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
    with contextlib.closing(sqlite3.connect(path)) as db:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)


async def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
        db.commit()
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
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.executescript(f"BEGIN;{MIGRATIONS[0]}PRAGMA user_version = 1;COMMIT;")
        db.execute(
            "INSERT INTO requests (chat, sender_id, text, state, created_at, updated_at) "
            "VALUES ('telegram:1', 'u', 'old', 'running', 0, 0)"
        )
        db.commit()
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


async def test_a_burst_goes_in_a_few_trips_and_a_bad_statement_fails_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio

    import storage.sqlite as module

    trips: list[int] = []
    execute = module._execute

    def counted(db: sqlite3.Connection, statements: list[tuple[str, tuple[object, ...]]]) -> object:
        trips.append(len(statements))
        return execute(db, statements)

    monkeypatch.setattr(module, "_execute", counted)
    store = await SqliteStore.open(tmp_path / "db.sqlite3")
    try:
        chats = [ChatKey("telegram", str(i)) for i in range(300)]
        adds = [store.add_request(NewRequest(chat, "u", f"r{i}")) for i, chat in enumerate(chats)]
        bad = store._run("INSERT INTO requests (id) VALUES ('not a number', 2)")
        outcomes = await asyncio.gather(*adds[:150], bad, *adds[150:], return_exceptions=True)
        assert isinstance(outcomes[150], sqlite3.Error)
        ids = [o for o in outcomes if not isinstance(o, BaseException)]
        assert ids == list(range(1, 301))  # run in the order asked, every one kept
        assert len(trips) <= 10, trips  # not one trip per statement
        for chat in chats[:3]:
            assert await store.unfinished_requests(chat) == 1
    finally:
        await store.close()
    reopened = await SqliteStore.open(tmp_path / "db.sqlite3")
    try:
        assert len(await reopened.open_requests()) == 300  # committed
    finally:
        await reopened.close()

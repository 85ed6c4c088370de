"""The SQLite store keeps what must survive a restart."""

from __future__ import annotations

import asyncio
import os
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import aiosqlite
import pytest

from bot.ports.backend import BackendSession
from bot.ports.chat import ChatKey
from bot.ports.store import ChatSettings, Identity, RenderJob, Store
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


async def test_chat_settings_none_then_upsert(store: SqliteStore) -> None:
    assert await store.get_chat_settings(CHAT) is None
    await store.set_chat_settings(CHAT, ChatSettings(language="en"))
    assert await store.get_chat_settings(CHAT) == ChatSettings(language="en")
    await store.set_chat_settings(CHAT, ChatSettings(language="zh"))
    await store.set_chat_settings(CHAT, ChatSettings(language="zh"))
    assert await store.get_chat_settings(CHAT) == ChatSettings(language="zh")
    assert await store.get_chat_settings(OTHER) is None


async def test_sessions_per_chat_and_backend(store: SqliteStore) -> None:
    session = BackendSession("123456789012", {"task_id": "t1", "user_id": "anon_x"})
    await store.save_session(CHAT, "nemo", session)
    assert await store.get_session(CHAT, "nemo") == session
    assert await store.get_session(CHAT, "local") is None
    assert await store.get_session(OTHER, "nemo") is None
    replaced = BackendSession("999")
    await store.save_session(CHAT, "nemo", replaced)
    assert await store.get_session(CHAT, "nemo") == replaced
    await store.delete_session(CHAT, "nemo")
    assert await store.get_session(CHAT, "nemo") is None


async def test_everything_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    first = await SqliteStore.open(path)
    await first.save_session(CHAT, "nemo", BackendSession("s1", {"task_id": "t"}))
    await first.save_identity("nemo", Identity("c1d2", "nmv_usr_test"))
    await first.set_chat_settings(CHAT, ChatSettings(language="zh"))
    assert await first.mark_update("telegram", "1001")
    request_id = await first.add_request(CHAT, "u1", "zoom in")
    await first.set_request_state(request_id, "done")
    await first.close()

    second = await SqliteStore.open(path)
    try:
        assert await second.get_session(CHAT, "nemo") == BackendSession("s1", {"task_id": "t"})
        assert await second.get_identity("nemo") == Identity("c1d2", "nmv_usr_test")
        assert await second.get_chat_settings(CHAT) == ChatSettings(language="zh")
        assert not await second.mark_update("telegram", "1001")
        assert await second.get_request_state(request_id) == ("done", None)
    finally:
        await second.close()


async def test_identity_upsert(store: SqliteStore) -> None:
    assert await store.get_identity("nemo") is None
    await store.save_identity("nemo", Identity("client", None))
    await store.save_identity("nemo", Identity("client", "nmv_usr_new"))
    assert await store.get_identity("nemo") == Identity("client", "nmv_usr_new")


async def test_requests_move_through_states(store: SqliteStore) -> None:
    text = "title 'Robert'); DROP TABLE requests;--"
    first = await store.add_request(CHAT, "u1", text)
    second = await store.add_request(CHAT, "u2", "slower")
    assert second > first
    assert await store.get_request_state(first) == ("queued", None)
    await store.set_request_state(first, "failed", "NoCredits")
    assert await store.get_request_state(first) == ("failed", "NoCredits")
    assert await store.get_request_state(second) == ("queued", None)


async def test_jobs_keep_their_url_once_known(store: SqliteStore) -> None:
    job = RenderJob("render_1", CHAT, "nemo", "submitted")
    await store.save_job(job)
    await store.save_job(RenderJob("render_1", CHAT, "nemo", "completed", 100.0, "http://x/v.mp4"))
    await store.save_job(RenderJob("render_1", CHAT, "nemo", "completed", 100.0, None))
    assert await store.get_job("render_1") == RenderJob(
        "render_1", CHAT, "nemo", "completed", 100.0, "http://x/v.mp4"
    )
    assert await store.get_job("render_2") is None


async def test_mark_update_once_even_when_racing(store: SqliteStore) -> None:
    results = await asyncio.gather(*(store.mark_update("discord", "7") for _ in range(20)))
    assert sorted(results) == [False] * 19 + [True]
    assert await store.mark_update("telegram", "7")  # another platform's id space

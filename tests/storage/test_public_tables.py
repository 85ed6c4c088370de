"""The store's public-bot part — block list, delivered clips, credits spent, the operator's
views of the requests, the health ping — alike in every store."""

from __future__ import annotations

import contextlib
import sqlite3
import time
from pathlib import Path

import pytest

from bot.ports.chat import ChatKey
from bot.ports.store import ClipRecord, NewRequest, Store
from storage.memory import MemoryStore
from storage.sqlite import MIGRATIONS, SqliteStore

CHAT = ChatKey("telegram", "-100123")


def clip(user: str, at: float, seconds: float = 10.0) -> ClipRecord:
    return ClipRecord(user, CHAT, seconds, 4.0, 123_456, "file", at)


async def test_a_block_is_kept_until_lifted(any_store: Store) -> None:
    assert not await any_store.is_blocked("telegram:8")
    await any_store.block_user("telegram:8", by="telegram:1")
    await any_store.block_user("discord:9", by="telegram:1")
    await any_store.block_user("telegram:8", by="telegram:2")  # twice is once
    assert await any_store.is_blocked("telegram:8")
    assert not await any_store.is_blocked("discord:8")  # the platform is part of who
    assert await any_store.blocked_users() == ["telegram:8", "discord:9"]
    assert await any_store.unblock_user("telegram:8") is True
    assert await any_store.unblock_user("telegram:8") is False
    assert not await any_store.is_blocked("telegram:8")


async def test_clips_are_counted_per_user_since_a_time(any_store: Store) -> None:
    now = time.time()
    await any_store.add_clip(clip("telegram:8", now - 3600))
    await any_store.add_clip(clip("telegram:8", now - 10, seconds=7.5))
    await any_store.add_clip(clip("discord:9", now - 5))
    assert len(await any_store.clips_since(now - 7200, "telegram:8")) == 2
    [recent] = await any_store.clips_since(now - 60, "telegram:8")
    assert recent == clip("telegram:8", now - 10, seconds=7.5)
    assert [c.user for c in await any_store.clips_since(now - 60)] == ["telegram:8", "discord:9"]


async def test_credits_spent_add_up_per_user_since_a_time(any_store: Store) -> None:
    now = time.time()
    await any_store.add_credit_spend("telegram:8", 40.0, now - 90_000)  # yesterday
    await any_store.add_credit_spend("telegram:8", 25.5, now - 10)
    await any_store.add_credit_spend("telegram:8", 50.0, now - 5)
    await any_store.add_credit_spend("discord:9", 100.0, now - 5)
    assert await any_store.credits_spent("telegram:8", now - 3600) == 75.5
    assert await any_store.credits_spent("nobody:0", now - 3600) == 0.0


async def test_request_outcomes_and_recent_requests(any_store: Store) -> None:
    since = time.time() - 1
    first = await any_store.add_request(NewRequest(CHAT, "8", "make a clip"))
    second = await any_store.add_request(NewRequest(CHAT, "8", "slower"))
    third = await any_store.add_request(NewRequest(CHAT, "9", "[1 file(s)]"))
    for request_id, state, detail in (
        (first, "done", None),
        (second, "failed", "RenderFailed"),
        (third, "failed", "RenderFailed"),
    ):
        [claimed] = await any_store.claim_requests("w", ["telegram"], 1, 30)
        assert claimed.id == request_id
        await any_store.finish_request(request_id, "w", state, detail)  # type: ignore[arg-type]
    assert await any_store.request_outcomes(since) == {
        ("done", None): 1,
        ("failed", "RenderFailed"): 2,
    }
    assert await any_store.request_outcomes(time.time() + 60) == {}
    newest, middle = await any_store.recent_requests(2)
    assert (newest.id, newest.sender_id, newest.state) == (third, "9", "failed")
    assert (middle.text, middle.detail, middle.chat) == ("slower", "RenderFailed", CHAT)
    assert middle.created_at <= middle.updated_at


async def test_ping_fails_once_closed(tmp_path: Path) -> None:
    for store in (await SqliteStore.open(tmp_path / "db.sqlite3"), MemoryStore()):
        await store.ping()
        await store.close()
        with pytest.raises((ValueError, ConnectionError)):
            await store.ping()


async def test_a_database_of_the_first_schema_is_brought_up_to_date(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.executescript(f"BEGIN;\n{MIGRATIONS[0]}\nPRAGMA user_version = 1;\nCOMMIT;")
        db.execute(
            "INSERT INTO requests (chat, sender_id, text, state, created_at, updated_at) "
            "VALUES ('telegram:1', '1', 'old', 'done', 1, 1)"
        )
        db.commit()
    store = await SqliteStore.open(path)
    try:
        assert await store.schema_version() == len(MIGRATIONS) >= 2
        await store.block_user("telegram:8", by="telegram:1")
        assert await store.is_blocked("telegram:8")
        [old] = await store.recent_requests(5)
        assert old.text == "old"
    finally:
        await store.close()

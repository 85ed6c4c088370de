"""The gate inside the engine: access, quotas, admin commands and the usage they count,
with the real engine, the memory store and a scripted backend."""

from __future__ import annotations

import asyncio
import calendar
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

import pytest

from bot.config import Settings
from bot.engine import Engine
from bot.gate.admin import target_of
from bot.gate.credits import CreditMeter
from bot.gate.quota import day_start, until_reset
from bot.ports.backend import Credits
from bot.ports.chat import Attachment, ChatKey, IncomingMessage, Sender
from bot.routing import route
from storage.memory import MemoryStore
from tests.engine.conftest import msg, photo
from tests.engine.doubles import (
    RecordingChannel,
    RecordingPlatform,
    Script,
    ScriptedBackend,
    video_draft,
)


def said(channel: RecordingChannel) -> str:
    return "\n".join(channel.texts())


def by(
    sender: str,
    text: str = "",
    *attachments: Attachment,
    chat: str = "1",
    replied_to: Sender | None = None,
) -> IncomingMessage:
    """A message from sender id `sender` on the "test" platform."""
    base = msg(text, *attachments, chat=chat)
    return replace(base, sender=Sender(sender, sender.title()), replied_to=replied_to)


@asynccontextmanager
async def engine_with(
    settings: Settings, backend: ScriptedBackend, store: MemoryStore, **changes: Any
) -> AsyncIterator[Engine]:
    engine = Engine(
        settings.model_copy(update=changes), backend, store, {"test": RecordingPlatform()}
    )
    try:
        yield engine
    finally:
        await engine.aclose()


async def until(check: Callable[[], bool]) -> None:
    for _ in range(500):
        if check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("never happened")


# --- access -------------------------------------------------------------------------------


async def test_an_unlisted_user_is_told_once_and_nothing_runs(
    settings: Settings, backend: ScriptedBackend, store: MemoryStore
) -> None:
    channel = RecordingChannel()
    async with engine_with(settings, backend, store, allowed_users=("test:ann",)) as engine:
        for text in ("make a clip", "/help", "make a clip please"):
            await engine.handle(by("bob", text), channel)
        await engine.idle()
        await engine.handle(by("ann", "make a clip"), RecordingChannel())
        await engine.idle()
    [refusal] = channel.texts()
    assert "only to the people its operator has let in" in refusal
    assert backend.instructions == [("s1", "make a clip")]  # Ann's alone
    assert len(store.requests) == 1


async def test_a_listed_chat_lets_everyone_in_it_use_the_bot(
    settings: Settings, backend: ScriptedBackend, store: MemoryStore
) -> None:
    async with engine_with(settings, backend, store, allowed_chats=("test:team",)) as engine:
        await engine.handle(by("bob", "in the team chat", chat="team"), RecordingChannel())
        await engine.handle(by("bob", "alone", chat="bob"), RecordingChannel())
        await engine.idle()
    assert [t for _, t in backend.instructions] == ["in the team chat"]


async def test_admins_block_and_unblock_by_reply_and_by_id(
    settings: Settings, backend: ScriptedBackend, store: MemoryStore
) -> None:
    admin, bob = RecordingChannel(), RecordingChannel()
    async with engine_with(settings, backend, store, admins=("test:root",)) as engine:
        await engine.handle(by("root", "/block", replied_to=Sender("bob", "Bob")), admin)
        await engine.handle(by("bob", "make a clip"), bob)
        await engine.handle(by("bob", "make a clip"), bob)
        await engine.handle(by("root", "/unblock test:bob"), admin)
        await engine.handle(by("bob", "now?"), bob)
        await engine.idle()
        await engine.handle(by("root", "/block root"), admin)
    assert admin.texts()[0] == (
        "🚫 Blocked Bob (test:bob): they will be told once, and nothing will run for them."
    )
    assert admin.texts()[1] == "✅ Unblocked test:bob."
    assert admin.texts()[2] == "test:root is an admin and cannot be blocked."
    assert sum("operator has let in" in t for t in bob.texts()) == 1
    assert [t for _, t in backend.instructions] == ["now?"]


async def test_admin_commands_do_not_exist_for_others(
    settings: Settings, backend: ScriptedBackend, store: MemoryStore
) -> None:
    channel = RecordingChannel()
    async with engine_with(settings, backend, store, admins=("test:root",)) as engine:
        for text in ("/stats", "/block 42", "/unblock 42"):
            await engine.handle(by("bob", text), channel)
    assert channel.sent == []
    assert await store.blocked_users() == []


@pytest.mark.parametrize(
    ("text", "replied", "expected"),
    [
        ("/block 123", None, ("test:123", "test:123")),
        ("/block discord:456 spam", None, ("discord:456", "discord:456")),
        ("/block <@!789>", None, ("test:789", "test:789")),
        ("/block", Sender("8", "Bob"), ("test:8", "Bob (test:8)")),
        ("/block", None, None),
        ("/block ../../etc", None, None),
    ],
)
def test_whom_block_names(text: str, replied: Sender | None, expected: Any) -> None:
    message = by("root", text, replied_to=replied)
    assert target_of(message, route(text)) == expected


# --- quotas ---------------------------------------------------------------------------------


async def test_the_daily_clip_quota_counts_clips_and_requests_in_the_making(
    settings: Settings, backend: ScriptedBackend, store: MemoryStore
) -> None:
    gate = asyncio.Event()
    channel, other = RecordingChannel(), RecordingChannel()
    async with engine_with(settings, backend, store, quota_clips_per_day=2) as engine:
        await engine.handle(by("ann", "first", chat="a"), channel)
        await engine.idle()  # one clip made
        backend.scripts.append(Script([], video_draft("slow"), gate=gate))
        await engine.handle(by("ann", "second", chat="b"), channel)  # in the making
        await until(lambda: len(backend.instructions) == 2)
        await engine.handle(by("ann", "third", chat="c"), channel)
        await engine.handle(by("ann", "/status", chat="c"), channel)  # answered as ever
        await engine.handle(by("bob", "bob's", chat="d"), other)  # his own quota
        gate.set()
        await engine.idle()
    refusal = next(t for t in channel.texts() if "limit" in t)
    assert refusal.startswith("You have reached today's limit of clips per person (2;")
    assert "resets at 00:00 UTC, in " in refusal
    assert [t for _, t in backend.instructions] == ["first", "second", "bob's"]
    assert len(store.clips) == 3
    assert {c.user for c in store.clips} == {"test:ann", "test:bob"}


async def test_refusals_are_said_in_chinese_too(
    settings: Settings, backend: ScriptedBackend, store: MemoryStore
) -> None:
    channel = RecordingChannel()
    async with engine_with(settings, backend, store, quota_clips_per_day=1) as engine:
        await engine.handle(by("ann", "做一个视频"), channel)
        await engine.idle()
        await engine.handle(by("ann", "再做一个视频"), channel)
    assert "你已达到今天每人的视频上限（1 个" in channel.texts()[-1]
    assert "UTC 00:00 重置" in channel.texts()[-1]


async def test_a_chat_queue_holds_at_most_the_allowed_waiting_requests(
    settings: Settings, backend: ScriptedBackend, store: MemoryStore
) -> None:
    gate = asyncio.Event()
    backend.scripts.append(Script([], video_draft("x"), gate=gate))
    channel = RecordingChannel()
    async with engine_with(settings, backend, store, max_queued_per_chat=2) as engine:
        for text in ("one", "two", "three", "four"):
            await engine.handle(by("ann", text), channel)
        await until(lambda: bool(backend.instructions))
        assert [p.running for p in await engine.pending()] == [True, False, False]
        gate.set()
        await engine.idle()
    assert [t for _, t in backend.instructions] == ["one", "two", "three"]
    assert any("already has 2 requests waiting" in t for t in channel.texts())


async def test_admins_and_the_terminal_are_exempt(
    settings: Settings, backend: ScriptedBackend, store: MemoryStore
) -> None:
    channel = RecordingChannel()
    limits = {"quota_clips_per_day": 1, "admins": ("test:root",)}
    async with engine_with(settings, backend, store, **limits) as engine:
        for text in ("one", "two"):
            await engine.handle(by("root", text), channel)
            await engine.idle()
        terminal = IncomingMessage(ChatKey("terminal", "local"), Sender("local", "you"), "x")
        for text in ("three", "four"):
            await engine.handle(
                IncomingMessage(terminal.chat, terminal.sender, text), RecordingChannel()
            )
            await engine.idle()
        await engine.handle(by("root", "/quota"), channel)
    assert [t for _, t in backend.instructions] == ["one", "two", "three", "four"]
    assert "You are an admin: no limit applies to you." in channel.texts()[-1]


async def test_quota_shows_a_users_own_usage(
    settings: Settings, backend: ScriptedBackend, store: MemoryStore
) -> None:
    channel = RecordingChannel()
    async with engine_with(settings, backend, store, quota_clips_per_day=5) as engine:
        await engine.handle(by("ann", "a clip", photo()), channel)
        await engine.idle()
        await engine.handle(by("ann", "/quota"), channel)
        await engine.handle(by("bob", "/quota"), channel)
    ann, bob = channel.texts()[-2:]
    assert "• clips: 1 of 5" in ann
    assert "• waiting in this chat: 0 of 3" in ann
    assert "• clips: 0 of 5" in bob


def test_the_reset_is_the_next_utc_midnight() -> None:
    midnight = calendar.timegm((2026, 1, 1, 0, 0, 0))
    noon = midnight + 12 * 3600
    assert day_start(noon) == day_start(midnight + 1) == midnight
    assert until_reset(noon, "en") == "12 h 0 min"
    assert until_reset(noon + 11 * 3600 + 59 * 60 + 30, "zh") == "1 分钟"


# --- stats ----------------------------------------------------------------------------------


async def test_stats_counts_todays_requests_clips_and_failures(
    settings: Settings, backend: ScriptedBackend, store: MemoryStore
) -> None:
    channel = RecordingChannel()
    async with engine_with(settings, backend, store, admins=("test:root",)) as engine:
        await engine.handle(by("ann", "a clip", chat="a"), RecordingChannel())
        await engine.idle()
        backend.scripts.append(Script(error=RuntimeError("boom")))
        await engine.handle(by("ann", "a broken one", chat="a"), RecordingChannel())
        await engine.idle()
        await engine.handle(by("root", "/stats"), channel)
    [stats] = channel.texts()
    assert stats.startswith("📊 Today (since 00:00 UTC)")
    assert "Requests: 1 done, 1 failed, 0 running, 0 waiting" in stats
    assert "Clips made: 1; time to the clip: median " in stats
    assert "Failures: RuntimeError 1" in stats
    assert "Queue now: 0 running, 0 waiting" in stats
    assert "Credits left: 90" in stats
    assert store.clips[0].at - store.clips[0].seconds > time.time() - 60


# --- credits ------------------------------------------------------------------------------


class Balance(ScriptedBackend):
    """A scripted backend whose credit balance the test moves."""

    def __init__(self) -> None:
        super().__init__()
        self.available = 1000
        self.reads = 0
        self.latency_s = 0.0

    async def credits(self) -> Credits:
        self.reads += 1
        await asyncio.sleep(self.latency_s)
        return Credits(available=self.available)


async def test_credits_spent_meanwhile_are_shared_by_the_requests_that_ran(
    store: MemoryStore,
) -> None:
    backend = Balance()
    meter = CreditMeter(backend, store)
    ann = meter.metered("test:ann")
    await ann.__aenter__()
    await meter.settled()
    backend.available = 900  # Ann's alone
    bob = meter.metered("test:bob")
    await bob.__aenter__()
    await meter.settled()
    backend.available = 700  # both at once
    await ann.__aexit__(None, None, None)
    backend.available = 650  # Bob's alone
    await bob.__aexit__(None, None, None)
    await meter.aclose()
    since = day_start(time.time())
    assert await store.credits_spent("test:ann", since) == 200
    assert await store.credits_spent("test:bob", since) == 150
    assert await meter.available() == 650


async def test_a_users_share_of_the_credits_is_refused_before_any_work(
    settings: Settings, store: MemoryStore
) -> None:
    backend = Balance()
    backend.available = 650
    now = time.time()
    await store.add_credit_spend("test:ann", 200, now)
    await store.add_credit_spend("test:bob", 150, now)
    ann, bob = RecordingChannel(), RecordingChannel()
    async with engine_with(settings, backend, store, quota_credit_share=20) as engine:
        # The first request after a start meets no reading yet; it brings the first ones.
        await engine.handle(by("carol", "a first clip", chat="c"), RecordingChannel())
        await engine.idle()
        # 20 % of what there was for each: Ann 200 ≥ 170 is refused, Bob 150 < 160 is not.
        await engine.handle(by("ann", "more", chat="a"), ann)
        await engine.handle(by("bob", "more", chat="b"), bob)
        await engine.idle()
        await engine.handle(by("ann", "/quota", chat="a"), ann)
    assert ann.texts()[0].startswith("You have used your share of today's credits (200 of 170).")
    assert "It resets at 00:00 UTC, in " in ann.texts()[0]
    assert "• credits: 200 of your 170" in ann.texts()[1]
    assert [t for _, t in backend.instructions] == ["a first clip", "more"]  # Bob's more


async def test_requests_that_start_and_end_together_share_their_readings(
    settings: Settings, store: MemoryStore
) -> None:
    backend = Balance()
    backend.latency_s = 0.02  # a reading takes a round trip
    async with engine_with(settings, backend, store, quota_credit_share=50) as engine:
        for i in range(20):
            await engine.handle(by(f"u{i}", "a clip", chat=str(i)), RecordingChannel())
        await engine.idle()
    assert len(backend.instructions) == 20
    assert backend.reads < 10  # not the 40 that one before and one after each would take


async def test_no_credit_is_read_when_the_backend_counts_none(
    settings: Settings, store: MemoryStore
) -> None:
    class Free(Balance):
        async def credits(self) -> Credits:
            self.reads += 1
            return Credits(available=None, unlimited=True)

    backend = Free()
    async with engine_with(settings, backend, store) as engine:
        for text in ("one", "two", "three"):
            await engine.handle(by("ann", text), RecordingChannel())
            await engine.idle()
    assert backend.reads == 1  # once to learn it, then never again
    assert store.spends == []

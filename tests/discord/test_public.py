"""A public bot on Discord, end to end: real discord.py ↔ the fake Discord, the real
engine, SQLite store and local renderer; `clipbot run` with its side server for the links."""

from __future__ import annotations

import asyncio
import io
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import av
import httpx
import pytest

from adapters.discord.runner import DiscordAdapter, configure_endpoints
from backends.local.backend import LocalBackend
from bot import metrics
from bot.app.serve import serve
from bot.config import Settings
from bot.engine import Engine
from bot.ports.chat import IncomingMessage, OutgoingChannel
from fakes.discord.server import (
    BOT_USER,
    DM_CHANNEL_ID,
    OTHER_USER,
    OTHER_USER_ID,
    TEXT_CHANNEL_ID,
    USER_ID,
    FakeDiscord,
)
from storage.sqlite import SqliteStore
from tests.discord.test_end_to_end import mp4_of, photo_bytes

ALICE = f"discord:{USER_ID}"  # the admin in these tests
TINY = "zoom in, square, 1 second, 720p"
MENTION = f"<@{BOT_USER['id']}>"


class Counted:
    """The engine's handler, counting the messages it has taken (discord.py hands each
    event to its own task: their order is not the order they were sent in)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.handled = 0
        self._changed = asyncio.Event()

    async def __call__(self, message: IncomingMessage, channel: OutgoingChannel) -> None:
        try:
            await self.engine.handle(message, channel)
        finally:
            self.handled += 1
            self._changed.set()

    async def until(self, count: int, within: float = 30.0) -> None:
        """Wait until `count` messages in all have been taken."""
        async with asyncio.timeout(within):
            while self.handled < count:
                self._changed.clear()
                await self._changed.wait()


@asynccontextmanager
async def bot(settings: Settings, db: Path, **changes: Any) -> AsyncIterator[Counted]:
    """One process of the bot: its store on `db`, the engine, the local renderer, the
    Discord adapter."""
    fast = settings.model_copy(update={"status_edit_interval_s": 0.2, **changes})
    store = await SqliteStore.open(db)
    backend: Any = LocalBackend(fast)
    engine = Engine(fast, backend, store)
    handler = Counted(engine)
    adapter = DiscordAdapter(fast, handler, store, guild_ready_timeout_s=0.05)
    engine.add_platform(adapter)
    await adapter.start()
    try:
        yield handler
    finally:
        await engine.idle()
        await adapter.stop()
        await engine.aclose()
        await backend.aclose()
        await store.close()


def texts(fake: FakeDiscord, channel_id: int) -> list[str]:
    return [m.text for m in fake.in_channel(channel_id)]


async def test_a_user_over_the_daily_quota_is_refused(
    fake: FakeDiscord, settings: Settings, tmp_path: Path
) -> None:
    async with bot(settings, tmp_path / "db.sqlite3", quota_clips_per_day=1):
        photo = fake.add_file("beach.jpg", photo_bytes(), "image/jpeg")
        await fake.send_message(TINY, guild=False, attachments=[photo])
        await fake.wait_until(lambda: mp4_of(fake.in_channel(DM_CHANNEL_ID)) is not None, 90)
        again = fake.add_file("beach.jpg", photo_bytes(), "image/jpeg")
        await fake.send_message("one more, 9:16", guild=False, attachments=[again])
        await fake.wait_until(
            lambda: any("limit" in t for t in texts(fake, DM_CHANNEL_ID)), within=30
        )
    [refusal] = [t for t in texts(fake, DM_CHANNEL_ID) if "limit" in t]
    assert refusal.startswith("You have reached today's limit of clips per person (1;")
    assert "resets at 00:00 UTC, in " in refusal
    assert sum(1 for m in fake.in_channel(DM_CHANNEL_ID) if m.files) == 1


async def test_an_unlisted_user_is_refused_once(
    fake: FakeDiscord, settings: Settings, tmp_path: Path
) -> None:
    async with bot(settings, tmp_path / "db.sqlite3", allowed_users=(ALICE,)) as handler:
        for words in ("make a clip", "please?", "help"):
            await fake.send_message(words, guild=False, author=OTHER_USER)
        await fake.send_message("help", guild=False)  # Alice, who is listed
        await handler.until(4)
    said = texts(fake, DM_CHANNEL_ID)
    assert sum("operator has let in" in t for t in said) == 1
    assert len(said) == 2  # the one refusal, and Alice's help


async def test_an_admins_stats_show_the_counts_and_a_non_admin_gets_nothing(
    fake: FakeDiscord, settings: Settings, tmp_path: Path
) -> None:
    async with bot(settings, tmp_path / "db.sqlite3", admins=(ALICE,)) as handler:
        await fake.send_message("make a clip", guild=False, author=OTHER_USER)
        await handler.until(1)
        await handler.engine.idle()
        await fake.send_message("/stats", guild=False, author=OTHER_USER)
        await fake.send_message("/stats", guild=False)
        await handler.until(3)
    stats = [t for t in texts(fake, DM_CHANNEL_ID) if "📊" in t]
    assert len(stats) == 1  # Bob's /stats got nothing
    assert "Requests: 1 done, 0 failed, 0 running, 0 waiting" in stats[0]
    assert "Queue now: 0 running, 0 waiting" in stats[0]


async def test_a_block_by_reply_holds_across_a_restart(
    fake: FakeDiscord, settings: Settings, tmp_path: Path
) -> None:
    db = tmp_path / "db.sqlite3"
    async with bot(settings, db, admins=(ALICE,)):
        spam = await fake.send_message("buy my stuff", guild=True, author=OTHER_USER)
        await fake.send_message(f"{MENTION} /block", guild=True, mentions=[BOT_USER], reply_to=spam)
        await fake.wait_until(
            lambda: any("Blocked" in t for t in texts(fake, TEXT_CHANNEL_ID)), within=30
        )
    # A new process on the same database.
    async with bot(settings, db, admins=(ALICE,)) as handler:
        for words in ("make a clip", "and another"):
            await fake.send_message(
                f"{MENTION} {words}", guild=True, author=OTHER_USER, mentions=[BOT_USER]
            )
        await handler.until(2)
        await fake.send_message(f"{MENTION} /unblock {OTHER_USER_ID}", guild=True,
                                mentions=[BOT_USER])  # fmt: skip
        await handler.until(3)
    said = texts(fake, TEXT_CHANNEL_ID)
    assert said[0] == (
        f"🚫 Blocked Bob (discord:{OTHER_USER_ID}): they will be told once, and nothing "
        "will run for them."
    )
    assert sum("operator has let in" in t for t in said) == 1
    assert said[-1] == f"✅ Unblocked discord:{OTHER_USER_ID}."


async def test_rate_limit_waits_are_counted(
    fake: FakeDiscord, settings: Settings, tmp_path: Path
) -> None:
    def waits() -> float:
        text = metrics.exposition()[0].decode()
        line = next(
            (x for x in text.splitlines()
             if x.startswith('clipbot_rate_limit_waits_total{platform="discord"}')),
            "x 0",
        )  # fmt: skip
        return float(line.split()[-1])

    before = waits()
    fake.rate_limit_next(retry_after=0.3)
    async with bot(settings, tmp_path / "db.sqlite3"):
        await fake.send_message("help", guild=False)
        await fake.wait_until(lambda: bool(texts(fake, DM_CHANNEL_ID)), within=30)
    assert fake.rate_limited  # the first answer was a 429, waited out
    assert "Send me a photo" in texts(fake, DM_CHANNEL_ID)[0]
    assert waits() == before + 1


@pytest.mark.slow
async def test_a_local_clip_over_the_servers_limit_comes_as_a_share_link(
    fake: FakeDiscord, settings: Settings, tmp_path: Path
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    base = f"http://127.0.0.1:{port}"
    served = settings.model_copy(
        update={
            "status_edit_interval_s": 0.2,
            "http_port": port,
            "http_host": "127.0.0.1",
            "public_url": base,
            "link_ttl_hours": 0.5,
        }
    )
    fake.filesize_limit = 1024  # a long slideshow on a 10 MiB server, in small
    stop = asyncio.Event()
    running = asyncio.create_task(serve(served, stop=stop))
    try:
        await fake.wait_until(lambda: bool(fake.identifies and fake.command_syncs), within=30)
        photo = fake.add_file("beach.jpg", photo_bytes(), "image/jpeg")
        await fake.slash_command(
            "animate",
            [{"name": "image", "type": 11, "value": photo["id"]},
             {"name": "prompt", "type": 3, "value": TINY}],
            attachments=[photo],
        )  # fmt: skip
        await fake.wait_until(
            lambda: any(f"{base}/clips/" in m.text for m in fake.followups()), within=90
        )
        [said] = [m.text for m in fake.followups() if f"{base}/clips/" in m.text]
        [url] = [w for w in said.split() if w.startswith(f"{base}/clips/")]
        async with httpx.AsyncClient() as http:
            whole = await http.get(url)
            middle = await http.get(url, headers={"Range": "bytes=100-199"})
    finally:
        stop.set()
        assert await asyncio.wait_for(running, 30) == 0
        configure_endpoints(None, None)
    assert "The link works for 0.5 h." in said
    assert mp4_of(fake.followups()) is None
    with av.open(io.BytesIO(whole.content)) as clip:
        assert clip.streams.video[0].codec_context.name == "h264"
    assert (middle.status_code, middle.content) == (206, whole.content[100:200])

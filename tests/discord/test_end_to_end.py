"""End to end: the fake Discord, the real discord.py, the engine and a real backend."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from typing import Any

import av
import pytest
from PIL import Image

from adapters.discord.runner import DiscordAdapter
from backends.local.backend import LocalBackend
from bot.config import Settings
from bot.engine import Engine
from fakes.discord.server import (
    BOT_USER,
    DM_CHANNEL_ID,
    TEXT_CHANNEL_ID,
    FakeDiscord,
    SentMessage,
)
from storage.sqlite import SqliteStore

pytestmark = pytest.mark.slow


def photo_bytes() -> bytes:
    """A small but real photo-like JPEG (a gradient with a square)."""
    image = Image.new("RGB", (320, 240))
    for x in range(320):
        for y in range(0, 240, 4):
            image.putpixel((x, y), (x % 256, y, 128))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def probe_codec(data: bytes) -> str:
    """The codec of the first video stream of an MP4 in memory."""
    with av.open(io.BytesIO(data)) as container:
        return str(container.streams.video[0].codec_context.name)


def mp4_of(messages: list[SentMessage]) -> bytes | None:
    for message in messages:
        for name, data in message.files:
            if name.endswith(".mp4"):
                return data
    return None


@pytest.fixture
async def bot(
    fake: FakeDiscord, settings: Settings, store: SqliteStore
) -> AsyncIterator[DiscordAdapter]:
    fast = settings.model_copy(update={"status_edit_interval_s": 0.2})
    backend: Any = LocalBackend(fast)
    engine: Any = Engine(fast, backend, store)
    adapter = DiscordAdapter(fast, engine.handle, store, guild_ready_timeout_s=0.05)
    engine.add_platform(adapter)
    await adapter.start()
    try:
        yield adapter
    finally:
        await adapter.stop()
        await engine.aclose()
        await backend.aclose()


async def test_animate_command_delivers_an_h264_mp4(fake: FakeDiscord, bot: DiscordAdapter) -> None:
    photo = fake.add_file("beach.jpg", photo_bytes(), "image/jpeg")
    await fake.slash_command(
        "animate",
        [
            {"name": "image", "type": 11, "value": photo["id"]},
            {"name": "prompt", "type": 3, "value": "slow zoom-in"},
            {"name": "aspect", "type": 3, "value": "1:1"},
            {"name": "duration", "type": 4, "value": 2},
        ],
        attachments=[photo],
    )
    await fake.wait_until(lambda: mp4_of(fake.followups()) is not None, within=90)
    data = mp4_of(fake.followups())
    assert data is not None
    assert probe_codec(data) == "h264"
    assert fake.callbacks[0][1]["type"] == 5


async def test_dm_photo_with_text_delivers_an_h264_mp4(
    fake: FakeDiscord, bot: DiscordAdapter
) -> None:
    photo = fake.add_file("beach.jpg", photo_bytes(), "image/jpeg")
    await fake.send_message("a 2-second zoom-in, 1:1", guild=False, attachments=[photo])
    await fake.wait_until(lambda: mp4_of(fake.in_channel(DM_CHANNEL_ID)) is not None, within=90)
    data = mp4_of(fake.in_channel(DM_CHANNEL_ID))
    assert data is not None
    assert probe_codec(data) == "h264"
    assert DM_CHANNEL_ID in fake.typing


async def test_server_channel_answers_a_mention_only(
    fake: FakeDiscord, bot: DiscordAdapter
) -> None:
    photo = fake.add_file("beach.jpg", photo_bytes(), "image/jpeg")
    await fake.send_message("make it a zoom-in", guild=True, attachments=[photo])
    await asyncio.sleep(1.0)
    assert fake.in_channel(TEXT_CHANNEL_ID) == []

    again = fake.add_file("beach.jpg", photo_bytes(), "image/jpeg")
    await fake.send_message(
        f"<@{BOT_USER['id']}> a 2-second zoom-in, 1:1",
        guild=True,
        attachments=[again],
        mentions=[BOT_USER],
    )
    await fake.wait_until(lambda: mp4_of(fake.in_channel(TEXT_CHANNEL_ID)) is not None, within=90)
    delivered = next(m for m in fake.in_channel(TEXT_CHANNEL_ID) if m.files)
    assert "Alice" in delivered.text  # the requester is named
    data = mp4_of([delivered])
    assert data is not None
    assert probe_codec(data) == "h264"


async def test_a_clip_over_the_reported_limit_comes_as_a_link(
    fake: FakeDiscord, settings: Settings, store: SqliteStore
) -> None:
    from backends.nemo import create_backend
    from fakes.nemo.server import NemoEmulator
    from storage.memory import MemoryStore

    emulator = NemoEmulator()
    await emulator.start()
    nemo_settings = settings.model_copy(
        update={
            "backend": "nemo",
            "nemo_base_url": emulator.base_url,
            "status_edit_interval_s": 0.2,
        }
    )
    backend: Any = create_backend(nemo_settings, MemoryStore())
    engine: Any = Engine(nemo_settings, backend, store)
    adapter = DiscordAdapter(nemo_settings, engine.handle, store, guild_ready_timeout_s=0.05)
    engine.add_platform(adapter)
    fake.filesize_limit = 1024  # every real clip is bigger
    await adapter.start()
    try:
        photo = fake.add_file("beach.jpg", photo_bytes(), "image/jpeg")
        await fake.slash_command(
            "animate",
            [
                {"name": "image", "type": 11, "value": photo["id"]},
                {"name": "prompt", "type": 3, "value": "a 2-second zoom-in"},
            ],
            attachments=[photo],
        )
        await fake.wait_until(
            lambda: (
                any("http" in m.text for m in fake.followups())
                and any(m.custom_ids() for m in fake.followups())
            ),
            within=90,
        )
        assert mp4_of(fake.followups()) is None
    finally:
        await adapter.stop()
        await engine.aclose()
        await backend.aclose()
        await emulator.stop()

"""Fixtures: the fake Bot API server, settings pointing at it, and started adapters."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from adapters.telegram import TelegramAdapter
from bot.config import Settings
from bot.ports.chat import IncomingMessage, MessageHandler, OutgoingChannel
from bot.ports.store import Store
from fakes.telegram.api import TOKEN, FakeBotApi
from storage.sqlite import SqliteStore


@dataclass
class Recorder:
    """A message handler that only records what it was given."""

    received: list[tuple[IncomingMessage, OutgoingChannel]] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def __call__(self, message: IncomingMessage, channel: OutgoingChannel) -> None:
        self.received.append((message, channel))
        self.arrived.set()

    async def next(self, count: int = 1, wait_s: float = 10.0) -> list[IncomingMessage]:
        """Wait until `count` messages arrived in all; return every message so far."""

        async def enough() -> None:
            while len(self.received) < count:
                self.arrived.clear()
                await self.arrived.wait()

        await asyncio.wait_for(enough(), wait_s)
        return [m for m, _ in self.received]


def jpeg_bytes(width: int = 64, height: int = 48) -> bytes:
    """A small real JPEG."""
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 90, 40)).save(out, format="JPEG")
    return out.getvalue()


@pytest.fixture
def settings(fake_api: FakeBotApi, tmp_path: Path) -> Settings:
    return Settings.load(
        None,
        telegram_bot_token=TOKEN,
        telegram_api_base_url=fake_api.base_url,
        telegram_file_base_url=fake_api.file_base_url,
        data_dir=tmp_path / "data",
    )


@pytest.fixture
async def store(settings: Settings) -> AsyncIterator[SqliteStore]:
    opened = await SqliteStore.open(settings.db_path)
    yield opened
    await opened.close()


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


StartAdapter = Callable[..., Awaitable[TelegramAdapter]]


@pytest.fixture
async def start_adapter(settings: Settings, store: SqliteStore) -> AsyncIterator[StartAdapter]:
    """Start adapters with test-sized waits; every one is stopped at the end."""
    started: list[TelegramAdapter] = []

    async def start(
        handler: MessageHandler,
        *,
        settings_: Settings | None = None,
        store_: Store | None = None,
        **options: Any,
    ) -> TelegramAdapter:
        options.setdefault("album_wait_s", 0.3)
        options.setdefault("action_interval_s", 0.2)
        options.setdefault("poll_timeout_s", 1.0)
        adapter = TelegramAdapter(settings_ or settings, handler, store_ or store, **options)
        await adapter.start()
        started.append(adapter)
        return adapter

    yield start
    for adapter in reversed(started):
        await adapter.stop()


def write_mp4(path: Path, width: int = 64, height: int = 48, frames: int = 12) -> Path:
    """A tiny real H.264 MP4 (0.5 s at 24 fps)."""
    import av
    import numpy as np

    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for i in range(frames):
            pixels = np.full((height, width, 3), (i * 20) % 255, dtype=np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def video_codec(data: bytes) -> str:
    """The codec of the first video stream of MP4 bytes, read with PyAV."""
    import av

    with av.open(io.BytesIO(data)) as container:
        return str(container.streams.video[0].codec_context.name)

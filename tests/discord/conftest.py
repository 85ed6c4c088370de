"""Fixtures: the fake Discord on loopback, a store, settings pointing at the fake."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from adapters.discord.runner import configure_endpoints
from bot.config import Settings
from fakes.discord.server import FakeDiscord
from storage.sqlite import SqliteStore

FAKE_TOKEN = "fake-discord-token"


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    server = FakeDiscord()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()
        configure_endpoints(None, None)  # discord.py keeps them process-wide


@pytest.fixture
def settings(fake: FakeDiscord, tmp_path: Path) -> Settings:
    return Settings.load(
        None,
        data_dir=tmp_path / "data",
        discord_bot_token=FAKE_TOKEN,
        discord_api_base_url=fake.api_base_url,
        discord_gateway_url=fake.gateway_url,
    )


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    opened = await SqliteStore.open(tmp_path / "discord-test.sqlite3")
    try:
        yield opened
    finally:
        await opened.close()

"""Fixtures of the scale-out tests: a fake Bot API, a fresh PostgreSQL database."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from fakes.telegram.api import FakeBotApi
from tests.pg import fresh_database


@pytest.fixture
async def fake_api() -> AsyncIterator[FakeBotApi]:
    """The fake Telegram Bot API on 127.0.0.1 (the bot processes talk to it)."""
    api = FakeBotApi()
    await api.start()
    try:
        yield api
    finally:
        await api.stop()


@pytest.fixture
async def database() -> AsyncIterator[str]:
    """The URL of a new empty PostgreSQL database (the processes share it)."""
    async with fresh_database() as url:
        yield url

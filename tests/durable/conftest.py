"""Fixtures of the durability tests: a fake Bot API in the test's loop."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from fakes.telegram.api import FakeBotApi


@pytest.fixture
async def fake_api() -> AsyncIterator[FakeBotApi]:
    """The fake Telegram Bot API on 127.0.0.1 (the bot process talks to it)."""
    api = FakeBotApi()
    await api.start()
    try:
        yield api
    finally:
        await api.stop()

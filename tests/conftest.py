"""Fixtures for the whole suite."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator

import pytest

from fakes.telegram.api import FakeBotApi


@pytest.fixture(autouse=True)
def _root_log_handlers() -> Iterator[None]:
    """Undo what `setup_logging` (run by the CLI entry point) does to the root logger, so
    no test leaves a handler bound to a closed capture stream for the next ones."""
    root = logging.getLogger()
    saved, level = list(root.handlers), root.level
    yield
    for handler in root.handlers:
        if handler not in saved:
            handler.close()
    root.handlers[:] = saved
    root.setLevel(level)


@pytest.fixture
async def fake_api() -> AsyncIterator[FakeBotApi]:
    """The fake Telegram Bot API on 127.0.0.1 (the library, or a bot process, talks to it)."""
    api = FakeBotApi()
    await api.start()
    try:
        yield api
    finally:
        await api.stop()

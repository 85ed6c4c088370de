"""Pytest fixtures for any area's tests: `from tests.nemo_fixtures import *`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.config import Settings
from fakes.nemo.server import NemoEmulator


def nemo_settings(emu: NemoEmulator, data_dir: Path, **overrides: Any) -> Settings:
    """Settings pointed at the emulator, with timings fit for tests."""
    values: dict[str, Any] = {
        "backend": "nemo",
        "data_dir": data_dir,
        "nemo_base_url": emu.base_url,
        "nemo_web_url": "https://nemo.example",
        "nemo_rate_limit_wait_s": 0.01,
        "nemo_read_backoff_s": 0.01,
        "nemo_stream_read_timeout_s": 5.0,
        "nemo_turn_timeout_s": 30.0,
        "nemo_keepalive_only_timeout_s": 10.0,
        "nemo_request_timeout_s": 5.0,
        "nemo_render_poll_first_s": 0.02,
        "nemo_render_poll_max_s": 0.05,
        "nemo_render_timeout_s": 20.0,
    }
    values.update(overrides)
    return Settings.load(None, **values)


@pytest.fixture
async def nemo_emulator() -> AsyncIterator[NemoEmulator]:
    """A running emulator on 127.0.0.1 (its `.base_url`), stopped after the test."""
    emu = NemoEmulator()
    await emu.start()
    try:
        yield emu
    finally:
        await emu.stop()


__all__ = ["nemo_emulator", "nemo_settings"]

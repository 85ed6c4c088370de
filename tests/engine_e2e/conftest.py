"""End-to-end fixtures: the terminal chat → engine → loopback HTTP → Nemo emulator."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image

from adapters.terminal.runner import TerminalAdapter, queue_lines
from bot.app.core import Core, open_core
from bot.config import Settings
from fakes.nemo.server import NemoEmulator
from tests.nemo_fixtures import nemo_emulator, nemo_settings

__all__ = ["Chat", "nemo_emulator", "open_chat"]


@dataclass
class Chat:
    """A terminal chat session on the real engine, store and Nemo backend."""

    core: Core
    term: TerminalAdapter
    lines: asyncio.Queue[str | None]
    out: list[str]

    async def say(self, line: str) -> None:
        """Type a line, then wait until the engine has finished with it."""
        await self.term.feed(line)
        await self.core.engine.idle()

    def said(self) -> str:
        """Everything printed so far."""
        return "\n".join(self.out)


def e2e_settings(emu: NemoEmulator, data_dir: Path) -> Settings:
    """Fast timings for the engine and the client."""
    return nemo_settings(
        emu,
        data_dir,
        status_edit_interval_s=0.02,
        recovery_first_check_s=0.05,
        recovery_interval_s=0.05,
        recovery_max_checks=4,
    )


@asynccontextmanager
async def open_chat(settings: Settings) -> AsyncIterator[Chat]:
    """Open the app's core and a terminal chat on it; close both."""
    async with open_core(settings) as core:
        queue: asyncio.Queue[str | None] = asyncio.Queue()
        out: list[str] = []
        term = TerminalAdapter(
            core.engine.handle, settings.data_dir, lines=queue_lines(queue), write=out.append
        )
        core.engine.add_platform(term)
        await term.start()
        try:
            yield Chat(core, term, queue, out)
        finally:
            await term.stop()


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    """A real PNG photo."""
    path = tmp_path / "city.png"
    Image.new("RGB", (64, 48), (200, 120, 40)).save(path)
    return path


@pytest.fixture
def settings(nemo_emulator: NemoEmulator, tmp_path: Path) -> Settings:
    return e2e_settings(nemo_emulator, tmp_path / "data")


@pytest.fixture
async def chat(settings: Settings) -> AsyncIterator[Chat]:
    async with open_chat(settings) as opened:
        yield opened

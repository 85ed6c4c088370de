"""Fixtures: a running emulator and a Nemo backend pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from PIL import Image

from backends.nemo import NemoBackend, create_backend
from bot.config import Settings
from fakes.nemo.server import NemoEmulator
from storage.memory import MemoryStore
from tests.nemo_fixtures import nemo_emulator, nemo_settings

__all__ = ["nemo_emulator"]


@pytest.fixture
def settings(nemo_emulator: NemoEmulator, tmp_path: Path) -> Settings:
    """Settings pointed at the emulator."""
    return nemo_settings(nemo_emulator, tmp_path / "data")


@pytest.fixture
def identities() -> MemoryStore:
    """An identity store in memory."""
    return MemoryStore()


@pytest.fixture
async def backend(settings: Settings, identities: MemoryStore) -> AsyncIterator[NemoBackend]:
    """A Nemo backend talking to the emulator."""
    nemo = create_backend(settings, identities)
    try:
        yield nemo
    finally:
        await nemo.aclose()


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    """A small real PNG."""
    path = tmp_path / "beach.png"
    Image.new("RGB", (64, 48), (200, 120, 40)).save(path)
    return path

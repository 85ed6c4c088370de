"""Fixtures for engine unit tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.config import Settings
from bot.engine import Engine
from bot.ports.chat import Attachment, ChatKey, IncomingMessage, Sender
from storage.memory import MemoryStore
from tests.engine.doubles import FILES, RecordingChannel, RecordingPlatform, ScriptedBackend


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings.load(
        None,
        data_dir=tmp_path,
        status_edit_interval_s=0.01,
        still_working_interval_s=60,
        recovery_first_check_s=0.01,
        recovery_interval_s=0.01,
        recovery_max_checks=3,
    )


@pytest.fixture
def backend() -> ScriptedBackend:
    return ScriptedBackend()


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


@pytest.fixture
def platform() -> RecordingPlatform:
    return RecordingPlatform()


@pytest.fixture
async def engine(
    settings: Settings, backend: ScriptedBackend, store: MemoryStore, platform: RecordingPlatform
) -> AsyncIterator[Engine]:
    eng = Engine(settings, backend, store, {"test": platform})
    yield eng
    await eng.aclose()


@pytest.fixture
def channel() -> RecordingChannel:
    return RecordingChannel()


def photo(name: str = "cat.jpg", data: bytes = b"\xff\xd8fake-jpeg") -> Attachment:
    """An attachment the test platform serves `data` for."""
    ref = f"file-{len(FILES)}-{name}"
    FILES[ref] = data
    return Attachment(name, "image/jpeg", len(data), "image", ref)


def msg(
    text: str = "",
    *attachments: Attachment,
    chat: str = "1",
    group: bool = False,
    addressed: bool = True,
    language_code: str | None = None,
    sender: str = "Ann",
) -> IncomingMessage:
    """An incoming terminal-platform message."""
    return IncomingMessage(
        chat=ChatKey("test", chat),
        sender=Sender("u1", sender, language_code),
        text=text,
        attachments=tuple(attachments),
        is_group=group,
        addressed=addressed,
    )

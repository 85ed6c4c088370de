"""/new while a clip is being rendered stops the render (it is reproducible); while the
agent's turn runs it waits its turn (a turn may never be cut or sent twice)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

from bot.config import Settings
from bot.ports.backend import (
    BackendSession,
    ExportEvent,
    ExportProgress,
    ProjectState,
    TextMessage,
)
from storage.memory import MemoryStore
from tests.engine.conftest import msg, photo
from tests.engine.doubles import RecordingChannel, Script, ScriptedBackend, video_draft
from tests.engine.test_review import running, until


class SlowExport(ScriptedBackend):
    """Exports that stay at 10 % until released, noting when they were stopped."""

    def __init__(self) -> None:
        super().__init__()
        self.release = asyncio.Event()
        self.stopped = 0

    async def export(
        self,
        session: BackendSession,
        state: ProjectState,
        dest_dir: Path,
        *,
        max_bytes: int | None = None,
        resume: str | None = None,
    ) -> AsyncIterator[ExportEvent]:
        yield ExportProgress("rendering", 10.0)
        try:
            await self.release.wait()
        except asyncio.CancelledError:
            self.stopped += 1
            raise
        async for event in super().export(session, state, dest_dir, max_bytes=max_bytes):
            yield event


async def test_new_stops_a_render_and_the_request_ends_failed_not_resumed(
    settings: Settings, store: MemoryStore, channel: RecordingChannel
) -> None:
    backend = SlowExport()
    async with running(settings, backend, store) as engine:
        await engine.handle(msg("clip", photo()), channel)
        await until(lambda: any("10%" in t for t in channel.texts("edit")))
        await engine.handle(msg("/new"), channel)
        await engine.idle()
    assert backend.stopped == 1
    assert channel.texts("video") == []
    assert "Stopping the clip being made" in channel.texts()[-2]
    assert channel.texts()[-1].startswith("Fresh project")
    assert backend.discarded == ["s1"]
    first, new = sorted(store.requests.values(), key=lambda r: r.id)
    assert (first.state, first.detail) == ("failed", "stopped by /new")
    assert new.state == "done"


async def test_new_waits_for_an_agent_turn_which_is_never_cut(
    settings: Settings, store: MemoryStore, channel: RecordingChannel
) -> None:
    backend = ScriptedBackend()
    gate = asyncio.Event()
    backend.scripts.append(
        Script(events=(TextMessage("Here it comes"),), draft=video_draft("shop.jpg"), gate=gate)
    )
    async with running(settings, backend, store) as engine:
        await engine.handle(msg("clip", photo()), channel)
        await until(lambda: bool(backend.instructions))
        await engine.handle(msg("/new"), channel)
        assert "next in line" in channel.texts()[-1]
        gate.set()
        await engine.idle()
    assert len(channel.texts("video")) == 1
    assert backend.discarded == ["s1"]

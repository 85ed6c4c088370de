"""Review regressions: lanes, request records and texts under failure and races."""

from __future__ import annotations

from bot.config import Settings
from bot.engine import Engine
from storage.base import RequestState
from tests.engine.conftest import msg
from tests.engine.doubles import MemoryStore, RecordingChannel, ScriptedBackend


class FlakyStore(MemoryStore):
    """A store that cannot record a finished request (a full disk) while `broken` is set."""

    broken = False

    async def set_request_state(
        self, request_id: int, state: RequestState, detail: str | None = None
    ) -> None:
        if self.broken and state in ("done", "failed"):
            raise OSError("disk full")
        await super().set_request_state(request_id, state, detail)


async def test_a_store_failure_never_runs_the_turn_again(
    settings: Settings, backend: ScriptedBackend, channel: RecordingChannel
) -> None:
    store = FlakyStore()
    engine = Engine(settings, backend, store)
    try:
        store.broken = True
        await engine.handle(msg("make a clip"), channel)
        await engine.idle()
        store.broken = False
        await engine.handle(msg("add music"), channel)
        await engine.idle()
        assert [text for _, text in backend.instructions] == ["make a clip", "add music"]
    finally:
        await engine.aclose()

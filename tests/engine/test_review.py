"""Review regressions: lanes, request records and texts under failure and races."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace

from bot.config import Settings
from bot.engine import Engine
from bot.errors import SessionLost, Unavailable
from bot.ports.backend import (
    AgentEvent,
    Backend,
    BackendSession,
    ProjectState,
    TextMessage,
    ToolCall,
)
from bot.ports.chat import Button, MessageRef
from bot.ports.store import RequestState, Store
from bot.words import Lang
from storage.memory import MemoryStore
from tests.engine.conftest import msg, photo
from tests.engine.doubles import (
    RecordingChannel,
    RecordingPlatform,
    Script,
    ScriptedBackend,
    video_draft,
)


@asynccontextmanager
async def running(settings: Settings, backend: Backend, store: Store) -> AsyncIterator[Engine]:
    """An engine for one test, closed at the end whatever happens."""
    engine = Engine(settings, backend, store, {"test": RecordingPlatform()})
    try:
        yield engine
    finally:
        await engine.aclose()


async def until(condition: Callable[[], bool]) -> None:
    """Wait (briefly) until `condition()` holds."""
    for _ in range(500):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the condition never held")


class FlakyStore(MemoryStore):
    """A store that cannot record a finished request (a full disk) `failures` times."""

    failures = 0

    async def finish_request(
        self, request_id: int, owner: str, state: RequestState, detail: str | None = None
    ) -> bool:
        if self.failures > 0:
            self.failures -= 1
            raise OSError("disk full")
        return await super().finish_request(request_id, owner, state, detail)


async def test_a_store_blip_at_the_end_never_runs_the_turn_again(
    settings: Settings, backend: ScriptedBackend, channel: RecordingChannel
) -> None:
    store = FlakyStore()
    store.failures = 2  # recording the end fails twice, then works (tries are spaced)
    async with running(settings, backend, store) as engine:
        await engine.handle(msg("make a clip"), channel)
        await engine.handle(msg("add music"), channel)
        await engine.idle()
        assert [text for _, text in backend.instructions] == ["make a clip", "add music"]
    assert [r.state for r in store.requests.values()] == ["done", "done"]


async def test_a_store_down_at_the_end_leaves_it_to_the_next_worker_who_only_finishes_it(
    settings: Settings, backend: ScriptedBackend, channel: RecordingChannel
) -> None:
    store = FlakyStore()
    store.failures = 100
    quick = settings.model_copy(update={"lease_s": 0.5})
    async with running(quick, backend, store) as engine:
        await engine.handle(msg("make a clip"), channel)
        await until(lambda: store.failures <= 95)  # all its tries to record the end failed
    store.failures = 0
    # Its lease runs out; a worker (here: after a restart) finds it delivered and ends it.
    async with running(quick, backend, store) as engine:
        await asyncio.sleep(0.6)
        await engine.idle()
    assert [text for _, text in backend.instructions] == ["make a clip"]
    assert len(channel.texts("video")) == 1
    assert [r.state for r in store.requests.values()] == ["done"]


class SlowQueuedNotice(RecordingChannel):
    """A channel where the "next in line" notice takes a while to go out."""

    def __init__(self) -> None:
        super().__init__()
        self.release = asyncio.Event()

    async def send_text(self, text: str, buttons: Sequence[Button] = ()) -> MessageRef:
        if "next in line" in text:
            await self.release.wait()
        return await super().send_text(text, buttons)


async def test_a_queued_request_that_starts_early_is_recorded_once(
    engine: Engine, backend: ScriptedBackend, store: MemoryStore
) -> None:
    channel = SlowQueuedNotice()
    gate = asyncio.Event()
    backend.scripts.append(Script([TextMessage("on it")], video_draft("one"), gate=gate))
    await engine.handle(msg("make a clip"), channel)
    await until(lambda: bool(backend.instructions))
    second = asyncio.create_task(engine.handle(msg("add music"), channel))
    await asyncio.sleep(0.05)
    gate.set()  # the first turn ends while the queued notice is still on its way
    # The second request starts without waiting for its notice to go out…
    await until(lambda: len(backend.instructions) == 2)
    channel.release.set()
    await second
    await engine.idle()
    # …and the notice, once out, is its status message (edited to the end).
    notice = next(m.ref for m in channel.sent if m.kind == "text" and "next in line" in m.text)
    assert [m.text for m in channel.sent if m.kind == "edit" and m.ref == notice][-1].startswith(
        "✅ Done"
    )
    assert sorted(r.text for r in store.requests.values()) == [
        "add music",
        "make a clip",
    ]
    assert [r.state for r in store.requests.values()] == ["done", "done"]


@dataclass
class BlinkingBackend(ScriptedBackend):
    """After a dropped stream, the first state read fails too (the network blinked)."""

    blinked: bool = False

    async def state(self, session: BackendSession) -> ProjectState:
        if self._pending_drop_draft is not None and not self.blinked:
            self.blinked = True
            raise Unavailable("Nemo cannot be reached (ConnectError)")
        return await super().state(session)


async def test_a_failed_read_while_recovering_is_one_unchanged_read(
    settings: Settings, store: MemoryStore, channel: RecordingChannel
) -> None:
    backend = BlinkingBackend()
    backend.scripts.append(Script([], video_draft("city"), drop=True))
    async with running(settings, backend, store) as engine:
        await engine.handle(msg("make a clip"), channel)
        await engine.idle()
    assert backend.blinked
    assert len(backend.instructions) == 1
    assert any("the work went through" in t for t in channel.texts())
    assert [s.kind for s in channel.sent].count("video") == 1


@dataclass
class SlowLinkBackend(ScriptedBackend):
    """The claim link never comes (a hung call)."""

    asked: asyncio.Event = field(default_factory=asyncio.Event)

    async def project_link(self, session: BackendSession) -> str | None:
        self.asked.set()
        await asyncio.Event().wait()
        return None


async def test_closing_while_the_clip_waits_for_its_link_leaves_no_file(
    settings: Settings, store: MemoryStore, channel: RecordingChannel
) -> None:
    backend = SlowLinkBackend()
    engine = Engine(settings, backend, store, {"test": RecordingPlatform()})
    await engine.handle(msg("make a clip"), channel)
    await backend.asked.wait()
    await until(lambda: any("Sending" in s.text for s in channel.sent))
    await engine.aclose()
    assert list((settings.data_dir / "exports").rglob("*.mp4")) == []
    # Interrupted, not failed: the next start carries on with it.
    assert [job.state for job in store.jobs.values()] != ["failed"]
    assert [(r.state, r.step) for r in store.requests.values()] == [("running", "exporting")]


async def test_closing_leaves_running_and_queued_requests_for_the_next_start(
    settings: Settings, store: MemoryStore, channel: RecordingChannel
) -> None:
    backend = ScriptedBackend()
    gate = asyncio.Event()  # never set: the first turn runs until the engine closes
    backend.scripts.append(Script([], video_draft("slow"), gate=gate))
    platform = RecordingPlatform()
    platform.channels["1"] = channel
    engine = Engine(settings, backend, store, {"test": platform})
    await engine.handle(msg("make a clip"), channel)
    while not backend.instructions:  # noqa: ASYNC110 (the double has no event for it)
        await asyncio.sleep(0.01)
    await engine.handle(msg("then make it slower"), channel)  # queued behind it
    await engine.aclose()
    states = [(r.state, r.step) for r in store.requests.values()]
    assert states == [("running", "instructing"), ("queued", "start")]
    # The next start: the cut-off turn is never sent again, the queued one runs after it.
    restarted = Engine(settings, backend, store, {"test": platform})
    try:
        await restarted.idle()
    finally:
        await restarted.aclose()
    assert [text for _, text in backend.instructions] == ["make a clip", "then make it slower"]
    assert [r.state for r in store.requests.values()] == ["done", "done"]
    assert any("I restarted" in s.text for s in channel.sent)


@dataclass
class LostAfterToolCallBackend(ScriptedBackend):
    """The stream opens and the agent calls a tool; then the session is reported lost."""

    lost_once: bool = False

    async def instruct(
        self, session: BackendSession, text: str, language: Lang
    ) -> AsyncIterator[AgentEvent]:
        if self.lost_once:
            async for event in super().instruct(session, text, language):
                yield event
            return
        self.lost_once = True
        self.instructions.append((session.session_id, text))
        yield ToolCall("c1", "generate_video", {})
        raise SessionLost("session not found", code=1002)


async def test_a_session_lost_after_the_stream_opened_is_never_resent(
    settings: Settings, store: MemoryStore, channel: RecordingChannel
) -> None:
    backend = LostAfterToolCallBackend()
    async with running(settings, backend, store) as engine:
        await engine.handle(msg("make a clip"), channel)
        await engine.idle()
    assert backend.instructions == [("s1", "make a clip")]  # sent once, never again
    assert "try again" in channel.texts()[-1].lower()


async def test_new_frees_the_old_project_and_starts_another(
    settings: Settings, store: MemoryStore, channel: RecordingChannel
) -> None:
    backend = ScriptedBackend()
    async with running(settings, backend, store) as engine:
        await engine.handle(msg("clip", photo()), channel)
        await engine.handle(msg("/new"), channel)
        await engine.handle(msg("another", photo()), channel)
        await engine.idle()
    assert backend.discarded == ["s1"]
    assert [sid for sid, _ in backend.instructions] == ["s1", "s2"]


async def test_a_message_handled_again_after_a_crash_makes_no_second_request(
    engine: Engine, backend: ScriptedBackend, store: MemoryStore, channel: RecordingChannel
) -> None:
    # The adapter kept the message and died after the request was written but before it
    # marked the message handled: the next start hands it over once more.
    first = replace(msg("make a clip", photo()), message_id="m-77")
    await engine.handle(first, channel)
    await engine.handle(first, channel)
    await engine.idle()
    assert len(store.requests) == 1
    assert [text for _, text in backend.instructions] == ["make a clip"]
    assert len(channel.texts("video")) == 1
    # Another message with the same words is another request.
    await engine.handle(replace(first, message_id="m-78"), channel)
    await engine.idle()
    assert len(store.requests) == 2

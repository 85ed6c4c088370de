"""Chat stream quirks, over real loopback HTTP."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from backends.nemo import NemoBackend, create_backend
from bot.config import Settings
from bot.errors import (
    NoCredits,
    ProtocolError,
    SessionLost,
    StreamDropped,
    TurnTimeout,
    Unavailable,
)
from bot.ports.backend import (
    AgentEvent,
    BackendSession,
    KeepAlive,
    StreamError,
    TextDelta,
    TextMessage,
    ToolCall,
    ToolResult,
)
from fakes.nemo.server import TEMPORARY_ISSUE, NemoEmulator
from storage.memory import MemoryStore
from tests.nemo_fixtures import nemo_settings


async def _ready(backend: NemoBackend, photo: Path) -> BackendSession:
    session = await backend.open_session("en")
    await backend.upload(session, photo, "beach.png")
    return session


async def _turn(backend: NemoBackend, session: BackendSession, text: str) -> list[AgentEvent]:
    return [e async for e in backend.instruct(session, text, "en")]


def _texts(events: list[AgentEvent]) -> list[str]:
    return [e.text for e in events if isinstance(e, TextMessage)]


async def test_partial_chunks_then_whole_text_gives_the_text_once(
    backend: NemoBackend, nemo_emulator: NemoEmulator, photo: Path
) -> None:
    session = await _ready(backend, photo)
    events = await _turn(backend, session, "animate it")
    deltas = [e.text for e in events if isinstance(e, TextDelta)]
    assert len(deltas) == 3
    assert _texts(events) == ["".join(deltas)]
    call = next(e for e in events if isinstance(e, ToolCall))
    result = next(e for e in events if isinstance(e, ToolResult))
    assert (call.id, call.name, call.args["image"]) == ("call_1", "generate_video", "beach.png")
    assert (result.id, result.name, result.response["status"]) == (
        "call_1",
        "generate_video",
        "success",
    )
    # Nothing but the known event types, although every event carried unknown fields.
    kinds = {type(e) for e in events}
    assert kinds <= {TextDelta, TextMessage, ToolCall, ToolResult, KeepAlive}


@pytest.mark.parametrize(("partial", "final"), [(True, False), (False, True)])
async def test_text_without_final_or_without_chunks(
    backend: NemoBackend, nemo_emulator: NemoEmulator, photo: Path, partial: bool, final: bool
) -> None:
    session = await _ready(backend, photo)
    nemo_emulator.next_turn(partial=partial, final=final)
    events = await _turn(backend, session, "animate it")
    texts = _texts(events)
    assert len(texts) == 1
    assert "Timeline" in texts[0]
    assert any(isinstance(e, TextDelta) for e in events) is partial


@pytest.mark.parametrize(
    ("form", "visible"), [("event", True), ("type", True), ("empty", True), ("comment", False)]
)
async def test_each_keepalive_form(
    backend: NemoBackend, nemo_emulator: NemoEmulator, photo: Path, form: str, visible: bool
) -> None:
    session = await _ready(backend, photo)
    nemo_emulator.next_turn(keepalive_form=form)
    events = await _turn(backend, session, "animate it")
    beats = sum(isinstance(e, KeepAlive) for e in events)
    assert (beats >= 3) is visible
    assert len(_texts(events)) == 1


async def test_legacy_text_events(
    backend: NemoBackend, nemo_emulator: NemoEmulator, photo: Path
) -> None:
    session = await _ready(backend, photo)
    nemo_emulator.next_turn(legacy_text=True)
    texts = _texts(await _turn(backend, session, "animate it"))
    assert len(texts) == 1
    assert texts[0].startswith("Your video is ready")


async def test_trailing_temporary_issue_is_dropped(
    backend: NemoBackend, nemo_emulator: NemoEmulator, photo: Path
) -> None:
    session = await _ready(backend, photo)
    nemo_emulator.next_turn(trailing_issue=True)
    texts = _texts(await _turn(backend, session, "animate it"))
    assert len(texts) == 1
    assert TEMPORARY_ISSUE not in texts[0]


async def test_gui_phrases_reach_the_engine_as_chat_words_and_an_offer_to_export(
    backend: NemoBackend, nemo_emulator: NemoEmulator, photo: Path
) -> None:
    session = await _ready(backend, photo)
    nemo_emulator.next_turn(gui_phrases=True)
    events = await _turn(backend, session, "animate it")
    (message,) = [e for e in events if isinstance(e, TextMessage)]
    assert message.text.startswith("Done! Tell me in words what to move where")
    assert "Click" not in message.text
    assert "drag" not in message.text
    assert "点击" not in message.text
    assert message.offers_export


async def test_silent_edit_changes_the_state(
    backend: NemoBackend, nemo_emulator: NemoEmulator, photo: Path
) -> None:
    session = await _ready(backend, photo)
    await _turn(backend, session, "animate it")
    before = await backend.state(session)
    nemo_emulator.next_turn(silent=True)
    events = await _turn(backend, session, "add some music")
    assert _texts(events) == []
    after = await backend.state(session)
    assert [t["tt"] for t in after.draft["t"]] == [t["tt"] for t in before.draft["t"]] + [1]


async def test_agent_edits_the_draft_plausibly(
    backend: NemoBackend, nemo_emulator: NemoEmulator, photo: Path
) -> None:
    session = await backend.open_session("en")
    (text,) = _texts(await _turn(backend, session, "make a video"))
    assert "upload" in text.lower()
    assert (await backend.state(session)).draft == {}
    await backend.upload(session, photo, "beach.png")
    await _turn(backend, session, "animate it, 9:16")
    draft = (await backend.state(session)).draft
    assert [t["tt"] for t in draft["t"]] == [0]
    assert (draft["m"]["width"], draft["m"]["height"]) == (1080, 1920)
    await _turn(backend, session, "title “Urban Dreams”, 8 seconds")
    draft = (await backend.state(session)).draft
    assert [t["tt"] for t in draft["t"]] == [0, 7]
    assert draft["t"][0]["sg"][0]["d"] == 8000
    assert draft["t"][1]["sg"][0]["x"] == "Urban Dreams"


async def test_dropped_stream_raises_and_the_turn_still_completes(
    backend: NemoBackend, nemo_emulator: NemoEmulator, photo: Path
) -> None:
    session = await _ready(backend, photo)
    nemo_emulator.next_turn(drop=True)
    nemo_emulator.config.generation_s = 0.3
    seen: list[AgentEvent] = []

    async def consume() -> None:
        async for event in backend.instruct(session, "animate it", "en"):
            seen.append(event)

    with pytest.raises(StreamDropped):
        await consume()
    assert seen  # some events came before the drop
    assert (await backend.state(session)).draft == {}
    for _ in range(100):
        await asyncio.sleep(0.02)
        if (await backend.state(session)).draft:
            break
    assert (await backend.state(session)).draft["t"][0]["tt"] == 0
    assert len(nemo_emulator.received("/run_sse")) == 1  # never re-sent


@pytest.mark.parametrize("form", ["type", "comment"])
async def test_keepalives_only_is_a_turn_timeout(
    nemo_emulator: NemoEmulator, tmp_path: Path, photo: Path, form: str
) -> None:
    settings = nemo_settings(nemo_emulator, tmp_path, nemo_keepalive_only_timeout_s=0.2)
    nemo = create_backend(settings, MemoryStore())
    try:
        session = await _ready(nemo, photo)
        nemo_emulator.next_turn(keepalive_only=True, keepalive_form=form, unknown_fields=False)
        with pytest.raises(TurnTimeout, match="only keep-alives"):
            await _turn(nemo, session, "animate it")
    finally:
        await nemo.aclose()


async def test_whole_turn_limit(nemo_emulator: NemoEmulator, tmp_path: Path, photo: Path) -> None:
    settings = nemo_settings(nemo_emulator, tmp_path, nemo_turn_timeout_s=0.2)
    nemo = create_backend(settings, MemoryStore())
    try:
        session = await _ready(nemo, photo)
        nemo_emulator.next_turn(duration_s=2.0)
        with pytest.raises(TurnTimeout, match="ran past"):
            await _turn(nemo, session, "animate it")
    finally:
        await nemo.aclose()


async def test_read_timeout_longer_gap_is_a_dropped_stream(
    nemo_emulator: NemoEmulator, tmp_path: Path, photo: Path
) -> None:
    settings: Settings = nemo_settings(nemo_emulator, tmp_path, nemo_stream_read_timeout_s=0.1)
    nemo = create_backend(settings, MemoryStore())
    nemo_emulator.config.keepalive_interval_s = 0.5
    try:
        session = await _ready(nemo, photo)
        nemo_emulator.next_turn(duration_s=1.0, unknown_fields=False)
        with pytest.raises(StreamDropped):
            await _turn(nemo, session, "animate it")
    finally:
        await nemo.aclose()


async def test_errors_inside_the_stream(
    backend: NemoBackend, nemo_emulator: NemoEmulator, photo: Path
) -> None:
    session = await _ready(backend, photo)
    nemo_emulator.next_turn(error_code="MODEL_OVERLOADED")
    errors = [e for e in await _turn(backend, session, "animate it") if isinstance(e, StreamError)]
    assert errors == [StreamError("MODEL_OVERLOADED", "the agent failed")]
    nemo_emulator.next_turn(bare_error="quota exceeded upstream")
    errors = [e for e in await _turn(backend, session, "again") if isinstance(e, StreamError)]
    assert errors == [StreamError(None, "quota exceeded upstream")]
    nemo_emulator.next_turn(error_code="2001")
    with pytest.raises(NoCredits):
        await _turn(backend, session, "more")


async def test_non_stream_answers_are_typed_errors(
    backend: NemoBackend, nemo_emulator: NemoEmulator, photo: Path
) -> None:
    session = await _ready(backend, photo)
    nemo_emulator.fail_next("chat", html=True, status=200)
    with pytest.raises(ProtocolError, match="content-type"):
        await _turn(backend, session, "animate it")
    nemo_emulator.fail_next("chat", html=True, status=502)
    with pytest.raises(Unavailable):
        await _turn(backend, session, "animate it")
    nemo_emulator.fail_next("chat", code=1002)
    with pytest.raises(SessionLost):
        await _turn(backend, session, "animate it")
    assert nemo_emulator.turns == []


async def test_token_expiry_and_rate_limit_before_the_stream_are_retried_once(
    backend: NemoBackend, nemo_emulator: NemoEmulator, photo: Path
) -> None:
    session = await _ready(backend, photo)
    nemo_emulator.expire_tokens()
    nemo_emulator.fail_next("chat", code=429, status=429)
    events = await _turn(backend, session, "animate it")
    assert len(_texts(events)) == 1
    assert len(nemo_emulator.received("/run_sse")) == 3  # 429, then 1001, then the turn
    assert len(nemo_emulator.received("anonymous-token")) == 2
    assert len(nemo_emulator.turns) == 1

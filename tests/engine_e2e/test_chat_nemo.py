"""The terminal chat → engine → real loopback HTTP → the Nemo emulator."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.config import Settings
from fakes.nemo.server import NemoEmulator
from tests.engine_e2e.conftest import Chat, open_chat


async def test_photo_and_caption_deliver_an_mp4(
    chat: Chat, nemo_emulator: NemoEmulator, photo: Path, settings: Settings
) -> None:
    await chat.say(f"/attach {photo} a 5-second zoom-in, 9:16, title 'Summer Sale'")
    assert len(chat.term.channel.delivered) == 1
    video = chat.term.channel.delivered[0]
    assert video.path.parent == settings.data_dir / "videos"
    assert video.path.read_bytes()[4:8] == b"ftyp"  # an MP4
    assert "https://nemo.example/workspace/claim?ct=" in video.caption
    assert len(nemo_emulator.received("/api/upload-video/")) == 1
    assert [t.message for t in nemo_emulator.turns] == [
        "a 5-second zoom-in, 9:16, title 'Summer Sale'"
    ]
    said = chat.said()
    assert "functionCall" not in said
    assert "generate" not in said.lower() or "Tool" not in said
    # The export the backend fetched is gone once delivered: nothing piles up.
    assert list((settings.data_dir / "exports").rglob("*.mp4")) == []


async def test_a_silent_edit_is_answered_with_the_change(
    chat: Chat, nemo_emulator: NemoEmulator, photo: Path
) -> None:
    await chat.say(f"/attach {photo} make a clip")
    before = len(chat.out)
    nemo_emulator.next_turn(silent=True)
    await chat.say("make it 3 seconds")
    reply = "\n".join(chat.out[before:])
    assert "What changed:" in reply
    assert "0-3s" in reply
    assert len(chat.term.channel.delivered) == 2


async def test_messages_while_busy_are_queued_and_never_overlap(
    chat: Chat, nemo_emulator: NemoEmulator, photo: Path
) -> None:
    nemo_emulator.config.generation_s = 0.6
    await chat.lines.put(f"/attach {photo} make a clip")
    await chat.lines.put("add lo-fi music")
    await chat.lines.put("/credits")
    for _ in range(200):
        if "next in line" in chat.said() and "Credits:" in chat.said():
            break
        await asyncio.sleep(0.01)
    assert "next in line (1)" in chat.said()
    assert "Credits:" in chat.said()
    # the credits answer did not wait for the running request
    assert len(nemo_emulator.turns) <= 1
    assert chat.term.channel.delivered == []
    await asyncio.sleep(0.05)
    await chat.core.engine.idle()
    assert [t.message for t in nemo_emulator.turns] == ["make a clip", "add lo-fi music"]
    assert nemo_emulator.overlapping_turns() == []


@pytest.mark.parametrize(
    ("endpoint", "failure", "expected"),
    [
        (
            "chat",
            {"code": 2001},
            "Register for free to get more: https://nemo.example/register?bind=",
        ),
        ("upload", {"code": 4001}, "Supported formats: mp4, mov"),
        ("upload", {"code": 4002}, "too large (the limit is"),
        ("render", {"status": 402}, "register or upgrade your plan to export"),
        ("chat", {"status": 429, "count": 2}, "busy right now"),
        ("chat", {"status": 500}, "can't reach the video service"),
    ],
)
async def test_each_error_becomes_its_message(
    chat: Chat,
    nemo_emulator: NemoEmulator,
    photo: Path,
    endpoint: str,
    failure: dict[str, int],
    expected: str,
) -> None:
    nemo_emulator.fail_next(
        endpoint,
        code=failure.get("code"),
        status=failure.get("status"),
        count=failure.get("count", 1),
    )
    await chat.say(f"/attach {photo} make a clip")
    assert expected in chat.said()
    assert "nmv_usr_" not in chat.said()
    await chat.say(f"/attach {photo} make a clip")  # the bot keeps going
    assert chat.term.channel.delivered


async def test_a_lost_session_is_replaced_transparently(
    chat: Chat, nemo_emulator: NemoEmulator, photo: Path
) -> None:
    await chat.say(f"/attach {photo} make a clip")
    first = nemo_emulator.turns[0].session_id
    nemo_emulator.forget_session(first)
    await chat.say(f"/attach {photo} make another clip")
    assert nemo_emulator.turns[-1].session_id != first
    assert len(chat.term.channel.delivered) == 2


async def test_a_dropped_stream_is_recovered_without_a_second_send(
    chat: Chat, nemo_emulator: NemoEmulator, photo: Path
) -> None:
    nemo_emulator.next_turn(drop=True)
    await chat.say(f"/attach {photo} make a clip")
    assert len(nemo_emulator.received("/run_sse")) == 1
    assert [t.message for t in nemo_emulator.turns] == ["make a clip"]
    assert "The connection dropped, but the work went through" in chat.said()
    assert len(chat.term.channel.delivered) == 1


async def test_a_restart_with_the_same_data_dir_keeps_the_session(
    nemo_emulator: NemoEmulator, photo: Path, settings: Settings
) -> None:
    async with open_chat(settings) as chat:
        await chat.say(f"/attach {photo} make a clip")
    async with open_chat(settings) as chat:
        await chat.say("make it 3 seconds")
        assert chat.term.channel.delivered
    sessions = {t.session_id for t in nemo_emulator.turns}
    assert len(sessions) == 1
    assert len(nemo_emulator.received("/with-session/")) == 1
    assert len(nemo_emulator.received("/anonymous-token")) == 1

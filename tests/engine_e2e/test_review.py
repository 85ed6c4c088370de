"""Review regressions across the engine, the Nemo client and the emulator."""

from __future__ import annotations

from pathlib import Path

from bot.config import Settings
from fakes.nemo.server import NemoEmulator
from tests.engine_e2e.conftest import open_chat


async def test_no_credits_after_a_restart_still_gives_the_registration_link(
    nemo_emulator: NemoEmulator, photo: Path, settings: Settings
) -> None:
    async with open_chat(settings) as chat:
        await chat.say(f"/attach {photo} make a clip")
    anon = next(iter(nemo_emulator.anon_users.values())).user_id
    async with open_chat(settings) as chat:
        nemo_emulator.fail_next("chat", code=2001)
        await chat.say("make it 3 seconds")
        assert f"https://nemo.example/register?bind={anon}" in chat.said()
        assert "top up" not in chat.said()


async def test_a_file_too_large_names_nemos_200_mb_limit(
    nemo_emulator: NemoEmulator, photo: Path, settings: Settings
) -> None:
    async with open_chat(settings) as chat:
        nemo_emulator.fail_next("upload", code=4002)
        await chat.say(f"/attach {photo} make a clip")
        assert "the limit is 200 MB" in chat.said()


async def test_a_failed_state_read_after_a_turn_keeps_the_reply_and_never_resends(
    nemo_emulator: NemoEmulator, photo: Path, settings: Settings
) -> None:
    import asyncio

    async with open_chat(settings) as chat:
        await chat.say(f"/attach {photo} make a clip")
        turns = len(nemo_emulator.turns)
        nemo_emulator.next_turn(duration_s=0.5)
        await chat.term.feed("make the title bigger")

        async def turn_started() -> None:
            while len(nemo_emulator.turns) == turns:  # noqa: ASYNC110 (no event to wait on)
                await asyncio.sleep(0.01)

        await asyncio.wait_for(turn_started(), 10)
        # The service goes away while the turn runs: the read after it fails.
        nemo_emulator.fail_next("state", status=503, count=5)
        await chat.core.engine.idle()
        said = chat.said()
        reply = nemo_emulator.turns[-1]
        assert reply.message == "make the title bigger"
        assert len(nemo_emulator.turns) == turns + 1  # sent once, never again
        assert "Done: style." in said  # the agent's words still reach the user
        assert "no need to repeat your request" in said
        assert "try again" not in said.split("make the title bigger")[-1].lower()

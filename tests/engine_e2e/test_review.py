"""Review regressions across the engine, the Nemo client and the emulator."""

from __future__ import annotations

from pathlib import Path

from bot.config import Settings
from tests.engine_e2e.conftest import open_chat
from tests.nemo_emulator.server import NemoEmulator


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

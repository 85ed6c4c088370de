"""Channels never wait on each other: the real discord.py ↔ fake Discord, the real engine,
and the Nemo emulator holding one channel's state call."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from adapters.discord.runner import DiscordAdapter
from bot.app.core import open_core
from bot.config import Settings
from bot.words import say
from fakes.discord.server import DM_CHANNEL_ID, TEXT_CHANNEL_ID, FakeDiscord
from fakes.nemo.server import NemoEmulator
from tests.nemo_fixtures import nemo_emulator, nemo_settings

__all__ = ["nemo_emulator"]

HELP = say("help", "en")


def _texts(fake: FakeDiscord, channel_id: int) -> list[str]:
    """What the bot said in a channel, messages and follow-ups, in order."""
    return [m.text for m in fake.messages if m.channel_id == channel_id]


async def test_a_stuck_status_holds_up_only_its_own_channel(
    fake: FakeDiscord, settings: Settings, nemo_emulator: NemoEmulator, tmp_path: Path
) -> None:
    nemo = nemo_settings(
        nemo_emulator,
        tmp_path / "nemo-data",
        discord_bot_token=settings.discord_bot_token,
        discord_api_base_url=settings.discord_api_base_url,
        discord_gateway_url=settings.discord_gateway_url,
        status_edit_interval_s=0.05,
    )
    async with open_core(nemo) as core:
        adapter = DiscordAdapter(nemo, core.engine.handle, core.store, guild_ready_timeout_s=0.05)
        await adapter.start()
        try:
            # The DM gets a project (the state call of /status needs one).
            await fake.send_message("hello", guild=False)
            await fake.wait_until(lambda: len(_texts(fake, DM_CHANNEL_ID)) >= 2)
            await core.engine.idle()
            before = len(_texts(fake, DM_CHANNEL_ID))

            release = nemo_emulator.hold_next("state")  # Nemo is slow for the DM's /status
            await fake.slash_command("status", guild=False)
            await fake.wait_until(lambda: bool(nemo_emulator.received("/latest")))
            await fake.send_message("help", guild=False)  # after /status, in the same DM
            asked = time.monotonic()
            await fake.slash_command("help", guild=True)  # another channel
            await fake.wait_until(lambda: HELP in _texts(fake, TEXT_CHANNEL_ID), within=5.0)
            other_waited = time.monotonic() - asked

            await asyncio.sleep(0.3)
            assert len(_texts(fake, DM_CHANNEL_ID)) == before  # the DM keeps its order
            release.set()
            await fake.wait_until(lambda: len(_texts(fake, DM_CHANNEL_ID)) >= before + 2)
            status, help_ = _texts(fake, DM_CHANNEL_ID)[before:]
            assert status.startswith("Timeline")
            assert help_ == HELP
        finally:
            await adapter.stop()
    assert other_waited < 2.0  # the server channel was answered while the DM was held

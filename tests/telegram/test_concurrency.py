"""Chats never wait on each other: real PTB ↔ fake Bot API, the real engine and the Nemo
emulator holding one chat's state call."""

from __future__ import annotations

import asyncio
import datetime as dtm
import time
from pathlib import Path

from telegram import Chat, Message, Update

from adapters.telegram import TelegramAdapter
from adapters.telegram.processor import ChatOrderedProcessor
from bot.app.core import open_core
from bot.words import say
from fakes.nemo.server import NemoEmulator
from fakes.telegram.api import TOKEN, FakeBotApi
from fakes.telegram.updates import message, private_chat, update, user
from tests.nemo_fixtures import nemo_emulator, nemo_settings

__all__ = ["nemo_emulator"]

ADA = user(7, "Ada")
BOB = user(8, "Bob", "Smith")
HELP = say("help", "en")


async def test_a_stuck_status_holds_up_only_its_own_chat(
    fake_api: FakeBotApi, nemo_emulator: NemoEmulator, tmp_path: Path
) -> None:
    settings = nemo_settings(
        nemo_emulator,
        tmp_path / "data",
        telegram_bot_token=TOKEN,
        telegram_api_base_url=fake_api.base_url,
        telegram_file_base_url=fake_api.file_base_url,
        status_edit_interval_s=0.05,
    )
    async with open_core(settings) as core:
        adapter = TelegramAdapter(settings, core.engine.handle, core.store, poll_timeout_s=1.0)
        await adapter.start()
        try:
            # Ada's chat gets a project (the state call of /status needs one).
            fake_api.push_update(update(message(private_chat(ADA), ADA, text="hello")))
            await fake_api.wait_for(lambda: len(fake_api.texts(ADA["id"])) >= 2)
            await core.engine.idle()
            before = len(fake_api.texts(ADA["id"]))

            release = nemo_emulator.hold_next("state")  # Nemo is slow for Ada's /status
            fake_api.push_update(update(message(private_chat(ADA), ADA, text="/status")))
            fake_api.push_update(update(message(private_chat(ADA), ADA, text="/help")))
            await fake_api.wait_for(lambda: nemo_emulator.received("/latest")[-1:])
            asked = time.monotonic()
            fake_api.push_update(update(message(private_chat(BOB), BOB, text="/help")))
            await fake_api.wait_for(lambda: HELP in fake_api.texts(BOB["id"]), wait_s=5.0)
            bob_waited = time.monotonic() - asked

            # Ada's chat keeps its order: her /help waits behind her own /status.
            await asyncio.sleep(0.3)
            assert len(fake_api.texts(ADA["id"])) == before
            release.set()
            await fake_api.wait_for(lambda: len(fake_api.texts(ADA["id"])) >= before + 2)
            status, help_ = fake_api.texts(ADA["id"])[before:]
            assert status.startswith("Timeline")
            assert help_ == HELP
        finally:
            await adapter.stop()
    assert bob_waited < 2.0  # Bob's reply came while Ada's status was still held


async def test_each_chat_keeps_its_order_while_chats_run_side_by_side() -> None:
    processor = ChatOrderedProcessor(max_concurrent_updates=64)
    done: list[tuple[int, int]] = []
    gates = {chat: asyncio.Event() for chat in (1, 2)}

    async def handle(chat: int, n: int) -> None:
        if n == 0:
            await gates[chat].wait()  # the first update of each chat is slow
        done.append((chat, n))

    def chat_update(chat: int, n: int) -> Update:
        sent = Message(n, dtm.datetime.now(dtm.UTC), Chat(chat, "private"))
        return Update(chat * 100 + n, message=sent)

    tasks = [
        asyncio.create_task(processor.process_update(chat_update(c, n), handle(c, n)))
        for n in range(3)
        for c in (1, 2)
    ]
    await asyncio.sleep(0.05)
    assert done == []  # each chat waits behind its own first update
    gates[2].set()
    await asyncio.sleep(0.05)
    assert done == [(2, 0), (2, 1), (2, 2)]  # chat 2 did not wait for chat 1
    gates[1].set()
    await asyncio.gather(*tasks)
    assert [n for c, n in done if c == 1] == [0, 1, 2]
    assert processor.order.busy == 0

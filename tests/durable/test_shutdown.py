"""Graceful shutdown: SIGTERM stops intake, lets running work finish for the grace
period, and leaves the rest to the next start — never marked failed."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from bench._process import BotProcess, bot_env, jpeg, quick_nemo
from fakes.nemo.server import NemoEmulator
from fakes.telegram.api import FakeBotApi
from fakes.telegram.updates import message, photo_sizes, private_chat, update, user
from storage.sqlite import SqliteStore

pytestmark = pytest.mark.slow


async def _requests(data_dir: Path) -> list[tuple[str, str, str | None]]:
    store = await SqliteStore.open(data_dir / "clipbot.sqlite3")
    try:
        found: list[tuple[str, str, str | None]] = []
        request_id = 1
        while (stored := await store.get_request(request_id)) is not None:
            found.append((stored.state, stored.step, stored.detail))
            request_id += 1
        return found
    finally:
        await store.close()


async def test_sigterm_lets_the_running_clip_finish_within_the_grace(
    fake_api: FakeBotApi, tmp_path: Path
) -> None:
    ann = user(31, "Ann")
    data = tmp_path / "data"
    bot = BotProcess(
        bot_env(fake_api, data, CLIPBOT_SHUTDOWN_GRACE="60"), tmp_path / "run", tmp_path / "bot.log"
    )
    await bot.start()
    try:
        file_id = fake_api.add_file(jpeg(1))
        fake_api.push_update(
            update(
                message(
                    private_chat(ann), ann,
                    caption="2 seconds, 720p, 12 fps, square", photo=photo_sizes(file_id),
                )
            )
        )  # fmt: skip
        await fake_api.wait_for(lambda: fake_api.calls_to("getFile"), wait_s=60)
        assert await bot.terminate() == 0
    finally:
        await bot.stop()
    # The clip went out before the process ended, and the request is done.
    assert len(fake_api.calls_to("sendVideo")) == 1, bot.log()
    assert await _requests(data) == [("done", "delivered", None)]


async def test_sigterm_past_the_grace_leaves_the_request_for_the_next_start(
    fake_api: FakeBotApi, tmp_path: Path
) -> None:
    emulator = NemoEmulator()
    await emulator.start()
    ada = user(32, "Ada")
    data = tmp_path / "data"
    env = bot_env(
        fake_api,
        data,
        **quick_nemo(emulator.base_url),
        CLIPBOT_SHUTDOWN_GRACE="0.5",
    )
    bot = BotProcess(env, tmp_path / "run", tmp_path / "bot.log")
    try:
        emulator.next_turn(duration_s=5.0)
        await bot.start()
        file_id = fake_api.add_file(jpeg(2))
        fake_api.push_update(
            update(
                message(private_chat(ada), ada, caption="animate it", photo=photo_sizes(file_id))
            )
        )
        await fake_api.wait_for(lambda: emulator.turns, wait_s=60)
        began = time.monotonic()
        assert await bot.terminate() == 0
        assert time.monotonic() - began < 15, bot.log()  # the grace, then out
        # Interrupted mid-turn: left where it got to, not failed.
        assert await _requests(data) == [("running", "instructing", None)], bot.log()
        assert "left for the next start" in bot.log()

        await bot.start()
        await fake_api.wait_for(lambda: fake_api.calls_to("sendVideo"), wait_s=90)
        assert await bot.terminate() == 0  # idle now: out at once
    finally:
        await bot.stop()
        await emulator.stop()
    assert len(emulator.turns) == 1  # never sent again
    assert await _requests(data) == [("done", "delivered", None)]

"""Nothing lost: the real bot process, killed with SIGKILL while it serves several chats
(or while a Nemo turn runs), and started again on the same data dir, answers every
request, in order within each chat, and never sends a Nemo turn twice."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench._process import BotProcess, bot_env, jpeg, quick_nemo
from fakes.nemo.server import NemoEmulator
from fakes.telegram.api import Call, FakeBotApi
from fakes.telegram.updates import message, photo_sizes, private_chat, update, user

pytestmark = pytest.mark.slow

#: Small, short clips: the test is about what survives a kill, not about pixels.
CAPTION = "{n} seconds, 720p, 12 fps, square"


def _durations(videos: list[Call], chat_id: int) -> list[int]:
    """The clip lengths a chat received, in order (each request asked a different one)."""
    return [int(c.params["duration"]) for c in videos if int(c.params["chat_id"]) == chat_id]


async def test_sigkill_mid_work_then_a_restart_answers_every_request_in_order(
    fake_api: FakeBotApi, tmp_path: Path
) -> None:
    ann, ben, cat = user(11, "Ann"), user(12, "Ben"), user(13, "Cat")
    asked = {ann["id"]: [1, 2], ben["id"]: [3], cat["id"]: [2]}
    bot = BotProcess(bot_env(fake_api, tmp_path / "data"), tmp_path / "run", tmp_path / "bot.log")
    await bot.start()
    try:
        # Ann's second request waits behind her first.
        sends = [(ann, 1), (ben, 3), (cat, 2), (ann, 2)]
        for n, (who, seconds) in enumerate(sends, 1):
            file_id = fake_api.add_file(jpeg(n))
            fake_api.push_update(
                update(
                    message(
                        private_chat(who), who,
                        caption=CAPTION.format(n=seconds), photo=photo_sizes(file_id),
                    )
                )
            )  # fmt: skip
        # Killed while the clips are being made: one delivered, the others on their way.
        await fake_api.wait_for(lambda: fake_api.calls_to("sendVideo"), wait_s=90)
        delivered_before = len(fake_api.calls_to("sendVideo"))
        await bot.kill()
        assert delivered_before < 4, bot.log()

        await bot.start()
        await fake_api.wait_for(
            lambda: all(
                set(_durations(fake_api.calls_to("sendVideo"), chat)) >= set(want)
                for chat, want in asked.items()
            ),
            wait_s=120,
        )
    finally:
        await bot.stop()
    videos = fake_api.calls_to("sendVideo")
    for chat, want in asked.items():
        got = _durations(videos, chat)
        # Every request answered, in the order asked (a clip may come twice if the kill
        # fell between Telegram's answer and the record of it: at most one per kill).
        firsts = list(dict.fromkeys(got))
        assert firsts == want, (chat, got, bot.log())
    assert len(videos) <= 4 + 1
    assert "resuming at step" in bot.log()


async def test_sigkill_during_a_nemo_turn_never_sends_the_turn_again(
    fake_api: FakeBotApi, tmp_path: Path
) -> None:
    emulator = NemoEmulator()
    await emulator.start()
    ada = user(21, "Ada")
    env = bot_env(
        fake_api,
        tmp_path / "data",
        **quick_nemo(emulator.base_url),
    )
    bot = BotProcess(env, tmp_path / "run", tmp_path / "bot.log")
    try:
        emulator.next_turn(duration_s=4.0)  # a long generation: killed in the middle
        await bot.start()
        file_id = fake_api.add_file(jpeg(1))
        fake_api.push_update(
            update(
                message(private_chat(ada), ada, caption="animate it", photo=photo_sizes(file_id))
            )
        )
        await fake_api.wait_for(lambda: emulator.turns, wait_s=60)
        await bot.kill()
        assert len(emulator.turns) == 1
        assert fake_api.calls_to("sendVideo") == []

        await bot.start()
        [video] = await fake_api.wait_for(lambda: fake_api.calls_to("sendVideo"), wait_s=90)
    finally:
        await bot.stop()
        await emulator.stop()
    assert [t.message for t in emulator.turns] == ["animate it"], bot.log()  # sent once
    assert video.upload("video").startswith(b"\x00\x00\x00")  # an MP4 box
    said = "\n".join(fake_api.texts(ada["id"]))
    assert "the work went through" in said

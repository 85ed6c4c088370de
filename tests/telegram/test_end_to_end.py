"""Telegram end to end: real PTB ↔ fake Bot API, the real engine and store, and the local
renderer or the Nemo emulator behind it."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import av
import pytest

from adapters.telegram import TelegramAdapter
from adapters.telegram.limits import MB, TelegramLimits
from bot.app.core import Core, open_core
from bot.app.side import start_side_server
from bot.config import Settings
from fakes.nemo.server import NemoEmulator
from fakes.telegram.api import TOKEN, Call, FakeBotApi
from fakes.telegram.updates import (
    button_press,
    document,
    group_chat,
    message,
    photo_sizes,
    private_chat,
    update,
    user,
)
from tests.nemo_fixtures import nemo_emulator, nemo_settings

from .conftest import jpeg_bytes, video_codec

__all__ = ["nemo_emulator"]

ADA = user()
PRIVATE = private_chat(ADA)
GROUP = group_chat()
# The smallest clip the local renderer makes: fast on a busy test machine.
TINY = "zoom in, square, 1 second, 720p"
RENDER_WAIT_S = 90.0


def _telegram(fake_api: FakeBotApi) -> dict[str, Any]:
    return {
        "telegram_bot_token": TOKEN,
        "telegram_api_base_url": fake_api.base_url,
        "telegram_file_base_url": fake_api.file_base_url,
        "status_edit_interval_s": 0.05,
    }


@pytest.fixture
def local(fake_api: FakeBotApi, tmp_path: Path) -> Settings:
    return Settings.load(None, backend="local", data_dir=tmp_path / "data", **_telegram(fake_api))


@pytest.fixture
def nemo(fake_api: FakeBotApi, nemo_emulator: NemoEmulator, tmp_path: Path) -> Settings:
    return nemo_settings(nemo_emulator, tmp_path / "data", **_telegram(fake_api))


@asynccontextmanager
async def running(settings: Settings, **options: Any) -> AsyncIterator[Core]:
    """One process of the bot: the app's core (store, backend, engine), its side server
    when CLIPBOT_HTTP_PORT is set, and a Telegram adapter on it."""
    options = {"album_wait_s": 0.3, "action_interval_s": 0.2, "poll_timeout_s": 1.0} | options
    async with open_core(settings) as core:
        side = await start_side_server(core)
        adapter = TelegramAdapter(settings, core.engine.handle, core.store, **options)
        core.engine.add_platform(adapter)
        await adapter.start()
        try:
            yield core
        finally:
            await core.engine.idle()
            await adapter.stop()
            if side is not None:
                await side.stop()


async def _videos(fake_api: FakeBotApi, count: int = 1) -> list[Call]:
    found: list[Call] = await fake_api.wait_for(
        lambda: len(fake_api.calls_to("sendVideo")) >= count and fake_api.calls_to("sendVideo"),
        wait_s=RENDER_WAIT_S,
    )
    return found


def _dimensions(data: bytes) -> tuple[int, int]:
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        return stream.codec_context.width, stream.codec_context.height


def _photo_update(
    fake_api: FakeBotApi, chat: dict[str, Any], caption: str, **extra: Any
) -> dict[str, Any]:
    file_id = fake_api.add_file(jpeg_bytes(320, 240))
    return update(message(chat, extra.pop("sender", ADA), caption=caption,
                          photo=photo_sizes(file_id, small_id=f"s{file_id}"), **extra))  # fmt: skip


async def test_private_photo_and_caption_become_an_h264_video(
    fake_api: FakeBotApi, local: Settings
) -> None:
    async with running(local):
        fake_api.push_update(_photo_update(fake_api, PRIVATE, TINY))
        [video] = await _videos(fake_api)
    data = video.upload("video")
    assert video_codec(data) == "h264"
    assert _dimensions(data) == (call_int(video, "width"), call_int(video, "height")) == (720, 720)
    assert call_int(video, "duration") == 1
    assert video.json("supports_streaming") is True
    assert video.upload("thumbnail")[:2] == b"\xff\xd8"  # a JPEG
    assert "clipbot:export" in video.params["reply_markup"]
    assert {c.params["action"] for c in fake_api.calls_to("sendChatAction")} == {"upload_video"}
    assert len(fake_api.calls_to("getFile")) == 1


def call_int(call: Call, name: str) -> int:
    return int(call.json(name))


async def test_album_is_one_request(
    fake_api: FakeBotApi, nemo: Settings, nemo_emulator: NemoEmulator
) -> None:
    async with running(nemo):
        for i in range(3):
            fake_api.push_update(
                _photo_update(
                    fake_api, PRIVATE, "a slideshow" if i == 0 else "", media_group_id="alb"
                )
            )
        await _videos(fake_api)
    assert [t.message for t in nemo_emulator.turns] == ["a slideshow"]
    assert len(fake_api.calls_to("getFile")) == 3


async def test_an_album_with_each_gives_one_clip_per_photo(
    fake_api: FakeBotApi, local: Settings
) -> None:
    async with running(local):
        for i in range(2):
            caption = f"each, {TINY}" if i == 0 else ""
            fake_api.push_update(_photo_update(fake_api, PRIVATE, caption, media_group_id="two"))
        videos = await _videos(fake_api, count=2)
    assert len(videos) == 2
    for video in videos:
        assert video_codec(video.upload("video")) == "h264"
        assert call_int(video, "duration") == 1
    said = fake_api.texts(ADA["id"])
    assert any("one clip for each" in t for t in said)


async def test_group_answers_only_when_mentioned(
    fake_api: FakeBotApi, nemo: Settings, nemo_emulator: NemoEmulator
) -> None:
    async with running(nemo) as core:
        fake_api.push_update(
            _photo_update(fake_api, GROUP, "look at my cat", sender=user(8, "Bob", None))
        )
        await fake_api.wait_for(lambda: len(fake_api.calls_to("getUpdates")) >= 3)
        await core.engine.idle()
        assert fake_api.calls_to("sendMessage") == []
        assert fake_api.calls_to("getFile") == []
        fake_api.push_update(_photo_update(fake_api, GROUP, "@clipbot_test_bot make it pop"))
        [video] = await _videos(fake_api)
    assert [t.message for t in nemo_emulator.turns] == ["make it pop"]
    assert "Ada" in video.params["caption"]  # says who asked
    assert {int(c.json("chat_id")) for c in fake_api.calls_to("sendMessage")} == {GROUP["id"]}


async def test_oversized_file_is_refused_before_any_download(
    fake_api: FakeBotApi, nemo: Settings, nemo_emulator: NemoEmulator
) -> None:
    async with running(nemo):
        big = document("BIG", "IMG_0001.HEIC", "image/heic", 30 * MB)
        fake_api.push_update(update(message(PRIVATE, ADA, document=big, caption="animate")))
        [reply] = await fake_api.wait_for(lambda: fake_api.calls_to("sendMessage"))
    assert "30 MB" in reply.params["text"]
    assert "20 MB" in reply.params["text"]
    assert fake_api.calls_to("getFile") == []
    assert nemo_emulator.turns == []


async def test_result_over_the_upload_limit_arrives_as_a_link(
    fake_api: FakeBotApi, nemo: Settings
) -> None:
    limits = TelegramLimits(download_bytes=20 * MB, upload_bytes=1000)
    async with running(nemo, limits=limits) as core:
        fake_api.push_update(_photo_update(fake_api, PRIVATE, "make a clip"))
        await fake_api.wait_for(
            lambda: any("download it here" in t for t in fake_api.texts(ADA["id"])),
            wait_s=RENDER_WAIT_S,
        )
        await core.engine.idle()
    [link] = [t for t in fake_api.texts(ADA["id"]) if "http://127.0.0.1:" in t]
    # One note on why it is a link, in the chat's language (once, not twice).
    assert link.count("upload limit") == 1
    assert "over this chat's upload limit (1 KB): download it here." in link
    assert fake_api.calls_to("sendVideo") == []


async def test_flood_control_on_delivery_is_waited_out(
    fake_api: FakeBotApi, nemo: Settings
) -> None:
    fake_api.fail_next("sendVideo", retry_after=1)
    async with running(nemo):
        fake_api.push_update(_photo_update(fake_api, PRIVATE, "make a clip"))
        [video] = await _videos(fake_api)
    [limited] = fake_api.calls_to("sendVideo", limited=True)
    assert video.at - limited.at >= 0.95
    assert video_codec(video.upload("video")) == "h264"


async def test_button_pressed_after_a_restart_exports_again(
    fake_api: FakeBotApi, local: Settings
) -> None:
    async with running(local):
        fake_api.push_update(_photo_update(fake_api, PRIVATE, TINY))
        [first] = await _videos(fake_api)
    result_id = int(fake_api.calls_to("sendVideo")[0].json("chat_id"))
    assert result_id == ADA["id"]
    async with running(local):  # a new process on the same data dir
        fake_api.push_update(button_press(PRIVATE, ADA, "clipbot:export"))
        videos = await _videos(fake_api, 2)
    assert video_codec(videos[1].upload("video")) == "h264"
    assert fake_api.calls_to("answerCallbackQuery")
    assert first.upload("video")
    assert len(fake_api.calls_to("getFile")) == 1


async def test_a_duplicate_update_is_ignored_across_a_restart(
    fake_api: FakeBotApi, nemo: Settings, nemo_emulator: NemoEmulator
) -> None:
    first = _photo_update(fake_api, PRIVATE, "make a clip")
    async with running(nemo):
        first_id = fake_api.push_update(first)
        await _videos(fake_api)
    async with running(nemo):
        fake_api.push_update({**first, "update_id": first_id})
        fake_api.push_update(update(message(PRIVATE, ADA, text="/credits")))
        await fake_api.wait_for(lambda: any("Credits" in t for t in fake_api.texts(ADA["id"])))
    assert len(nemo_emulator.turns) == 1
    assert len(fake_api.calls_to("sendVideo")) == 1

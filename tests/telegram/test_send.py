"""The outgoing channel against the fake Bot API: texts, edits, videos, links, actions."""

from __future__ import annotations

import asyncio
import io
import time
from pathlib import Path

from PIL import Image

from adapters.telegram.channel import TelegramChannel
from bot.config import Settings
from bot.ports.chat import Button, IncomingMessage, OutgoingChannel, VideoInfo
from fakes.telegram.api import FakeBotApi
from fakes.telegram.updates import group_chat, message, private_chat, update, user

from .conftest import Recorder, StartAdapter, video_codec, write_mp4

ADA = user()
PRIVATE = private_chat(ADA)
CHAT = ADA["id"]
BUTTONS = (Button("Export again", "export"), Button("Status", "status"),
           Button("Credits", "credits"), Button("New project", "new"))  # fmt: skip


async def _channel(
    fake_api: FakeBotApi, start_adapter: StartAdapter, **options: object
) -> TelegramChannel:
    recorder = Recorder()
    await start_adapter(recorder, **options)
    fake_api.push_update(update(message(PRIVATE, ADA, text="hi")))
    await recorder.next()
    channel = recorder.received[0][1]
    assert isinstance(channel, TelegramChannel)
    return channel


async def test_text_with_buttons_and_edits(
    fake_api: FakeBotApi, start_adapter: StartAdapter
) -> None:
    channel = await _channel(fake_api, start_adapter)
    ref = await channel.send_text("Working on it…", BUTTONS)
    [call] = fake_api.calls_to("sendMessage")
    rows = call.json("reply_markup")["inline_keyboard"]
    assert [[b["callback_data"] for b in row] for row in rows] == [
        ["clipbot:export", "clipbot:status"], ["clipbot:credits", "clipbot:new"],
    ]  # fmt: skip
    await channel.edit_text(ref, "Rendering 40%")
    await channel.edit_text(ref, "Rendering 40%")  # "message is not modified": not an error
    assert fake_api.texts(CHAT) == ["Rendering 40%"]
    assert len(fake_api.calls_to("editMessageText")) == 2


async def test_a_deleted_status_message_is_sent_again_not_lost(
    fake_api: FakeBotApi, start_adapter: StartAdapter
) -> None:
    channel = await _channel(fake_api, start_adapter)
    ref = await channel.send_text("Rendering 10%")
    fake_api.delete_message(CHAT, int(ref.id))
    await channel.edit_text(ref, "Rendering 40%")
    assert fake_api.texts(CHAT) == ["Rendering 40%"]
    # Later edits of the same ref go to the new message, not another new one each time.
    await channel.edit_text(ref, "Rendering 90%")
    assert fake_api.texts(CHAT) == ["Rendering 90%"]


async def test_long_text_is_split_not_lost(
    fake_api: FakeBotApi, start_adapter: StartAdapter
) -> None:
    channel = await _channel(fake_api, start_adapter)
    text = "\n".join(f"line {i:05d}" for i in range(1000))  # about 11 000 characters
    await channel.send_text(text)
    sent = [c.params["text"] for c in fake_api.calls_to("sendMessage")]
    assert len(sent) == 3
    assert all(len(piece) <= 4096 for piece in sent)
    assert "\n".join(sent) == text


async def test_flood_control_is_waited_out(
    fake_api: FakeBotApi, start_adapter: StartAdapter
) -> None:
    channel = await _channel(fake_api, start_adapter)
    fake_api.fail_next("sendMessage", retry_after=1)
    started = time.monotonic()
    await channel.send_text("your clip is ready")
    assert time.monotonic() - started >= 0.95
    [limited] = fake_api.calls_to("sendMessage", limited=True)
    [answered] = fake_api.calls_to("sendMessage")
    assert answered.at - limited.at >= 0.95
    assert fake_api.texts(CHAT) == ["your clip is ready"]


async def test_a_flood_wait_holds_the_edits_back_and_loses_nothing(
    fake_api: FakeBotApi, start_adapter: StartAdapter
) -> None:
    channel = await _channel(fake_api, start_adapter)
    ref = await channel.send_text("Rendering 10%")
    fake_api.fail_next("editMessageText", retry_after=1)
    edit = asyncio.create_task(channel.edit_text(ref, "Rendering 40%"))
    await fake_api.wait_for(lambda: fake_api.calls_to("editMessageText", limited=True))
    sends = [asyncio.create_task(channel.send_text(f"reply {i}")) for i in range(5)]
    await asyncio.gather(edit, *sends)
    [limited] = fake_api.calls_to("editMessageText", limited=True)
    # Nothing went out while Telegram's wait ran: no burst of edits or sends into it.
    during = [c for c in fake_api.calls if limited.at < c.at < limited.at + 0.95]
    assert [c.method for c in during] == []
    # Nothing lost: the edit once, then every reply.
    assert len(fake_api.calls_to("editMessageText")) == 1
    assert fake_api.texts(CHAT) == ["Rendering 40%"] + [f"reply {i}" for i in range(5)]


async def test_video_is_uploaded_with_its_metadata_and_thumbnail(
    fake_api: FakeBotApi, start_adapter: StartAdapter, tmp_path: Path
) -> None:
    channel = await _channel(fake_api, start_adapter)
    clip = write_mp4(tmp_path / "clip.mp4")
    info = VideoInfo(width=64, height=48, duration_s=0.5)
    fake_api.fail_next("sendVideo", retry_after=1)  # the retry uploads everything again
    await channel.send_video(clip, "Summer Sale", info, BUTTONS)
    [call] = fake_api.calls_to("sendVideo")
    assert call.upload("video") == clip.read_bytes()
    assert video_codec(call.upload("video")) == "h264"
    assert (call.json("width"), call.json("height"), call.json("duration")) == (64, 48, 1)
    assert call.json("supports_streaming") is True
    assert call.params["caption"] == "Summer Sale"
    thumb = Image.open(io.BytesIO(call.upload("thumbnail")))
    assert thumb.format == "JPEG"
    assert max(thumb.size) <= 320
    assert "clipbot:export" in call.params["reply_markup"]


async def test_link_instead_of_a_file(fake_api: FakeBotApi, start_adapter: StartAdapter) -> None:
    channel = await _channel(fake_api, start_adapter)
    assert channel.max_upload_bytes == 50 * 1024 * 1024
    await channel.send_link("https://cdn.example/clip.mp4", "Summer Sale", BUTTONS)
    # The caption (which says why: the engine's note) and the link, nothing added.
    assert fake_api.texts(CHAT) == ["Summer Sale\nhttps://cdn.example/clip.mp4"]
    assert fake_api.calls_to("sendVideo") == []


async def test_local_server_limits(
    fake_api: FakeBotApi, start_adapter: StartAdapter, settings: Settings
) -> None:
    local = settings.model_copy(update={"telegram_local_mode": True})
    recorder = Recorder()
    await start_adapter(recorder, settings_=local)
    fake_api.push_update(update(message(PRIVATE, ADA, text="hi")))
    [(_, channel)] = [(m, c) for m, c in (await _received(recorder))]
    assert channel.max_upload_bytes == 2000 * 1024 * 1024


async def _received(recorder: Recorder) -> list[tuple[IncomingMessage, OutgoingChannel]]:
    await recorder.next()
    return recorder.received


async def test_working_refreshes_the_chat_action(
    fake_api: FakeBotApi, start_adapter: StartAdapter
) -> None:
    channel = await _channel(fake_api, start_adapter, action_interval_s=0.1)
    async with channel.working():
        await asyncio.sleep(0.35)
    actions = fake_api.calls_to("sendChatAction")
    assert len(actions) >= 3
    assert {c.params["action"] for c in actions} == {"upload_video"}
    await asyncio.sleep(0.25)
    assert len(fake_api.calls_to("sendChatAction")) == len(actions)  # stopped with the block


async def test_replies_in_a_forum_topic_stay_in_that_topic(
    fake_api: FakeBotApi, start_adapter: StartAdapter, tmp_path: Path
) -> None:
    # In a group with topics, a send without message_thread_id lands in "General".
    forum = {**group_chat(-1002, "Shop"), "is_forum": True}
    recorder = Recorder()
    await start_adapter(recorder, action_interval_s=0.1)
    asked = message(forum, ADA, text="/status@clipbot_test_bot")
    asked.update(message_thread_id=77, is_topic_message=True)
    fake_api.push_update(update(asked))
    await recorder.next()
    channel = recorder.received[0][1]
    async with channel.working():
        await channel.send_text("Nothing running")
        clip = write_mp4(tmp_path / "clip.mp4")
        await channel.send_video(clip, "Here", VideoInfo(width=64, height=48, duration_s=0.5))
    for method in ("sendMessage", "sendChatAction", "sendVideo"):
        calls = fake_api.calls_to(method)
        assert calls, method
        assert {c.params.get("message_thread_id") for c in calls} == {"77"}, method

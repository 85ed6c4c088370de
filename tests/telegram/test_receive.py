"""Incoming updates → IncomingMessages, with the real PTB polling the fake Bot API."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from bot.ports.chat import IncomingMessage, OutgoingChannel, Sender
from fakes.telegram.api import BOT_USER, FakeBotApi
from fakes.telegram.updates import (
    document,
    group_chat,
    message,
    photo_sizes,
    private_chat,
    update,
    user,
)
from storage.sqlite import SqliteStore

from .conftest import Recorder, StartAdapter, jpeg_bytes

ADA = user()
PRIVATE = private_chat(ADA)
GROUP = group_chat()


async def test_private_photo_with_caption(
    fake_api: FakeBotApi, recorder: Recorder, start_adapter: StartAdapter, tmp_path: Path
) -> None:
    adapter = await start_adapter(recorder)
    picture = jpeg_bytes()
    file_id = fake_api.add_file(picture)
    fake_api.push_update(
        update(message(PRIVATE, ADA, caption="5-second zoom-in, 9:16", photo=photo_sizes(file_id)))
    )
    [incoming] = await recorder.next()
    assert incoming.chat.platform == "telegram"
    assert incoming.chat.chat_id == str(ADA["id"])
    assert incoming.text == "5-second zoom-in, 9:16"
    assert (incoming.is_group, incoming.addressed) == (False, True)
    assert incoming.sender.name == "Ada Lovelace"
    [attachment] = incoming.attachments
    assert (attachment.kind, attachment.mime_type) == ("image", "image/jpeg")
    assert fake_api.calls_to("getFile") == []  # lazy: nothing fetched yet
    target = tmp_path / "in.jpg"
    # The file id is all a worker (in any process) needs to fetch it.
    assert attachment.ref == file_id
    await adapter.fetch(attachment, target)
    assert target.read_bytes() == picture
    # The largest size was fetched, not the thumbnail.
    assert [c.params["file_id"] for c in fake_api.calls_to("getFile")] == [file_id]


async def test_commands_are_registered_in_english_and_chinese(
    fake_api: FakeBotApi, recorder: Recorder, start_adapter: StartAdapter
) -> None:
    await start_adapter(recorder)
    calls = fake_api.calls_to("setMyCommands")
    by_language = {c.params.get("language_code"): c.json("commands") for c in calls}
    assert set(by_language) == {None, "zh"}
    for commands in by_language.values():
        assert [c["command"] for c in commands] == [
            "start", "help", "new", "status", "credits", "export", "quota",
        ]  # fmt: skip
    assert by_language["zh"][1]["description"] != by_language[None][1]["description"]
    # Long polling removes a webhook left from an earlier run.
    assert fake_api.calls_to("deleteWebhook")


async def test_album_is_one_request(
    fake_api: FakeBotApi, recorder: Recorder, start_adapter: StartAdapter
) -> None:
    await start_adapter(recorder)
    ids = [fake_api.add_file(jpeg_bytes(), f"p{i}.jpg") for i in range(3)]
    for i, file_id in enumerate(ids):
        fake_api.push_update(
            update(
                message(
                    PRIVATE,
                    ADA,
                    caption="slideshow" if i == 0 else None,
                    photo=photo_sizes(file_id, small_id=f"S{i}"),
                    media_group_id="album1",
                )
            )
        )
    [incoming] = await recorder.next()
    assert incoming.text == "slideshow"
    assert len(incoming.attachments) == 3
    assert all(a.kind == "image" for a in incoming.attachments)
    # Nothing else trickles in afterwards.
    fake_api.push_update(update(message(PRIVATE, ADA, text="and music")))
    received = await recorder.next(2)
    assert [m.text for m in received] == ["slideshow", "and music"]


async def test_group_messages_are_addressed_only_when_meant_for_the_bot(
    fake_api: FakeBotApi, recorder: Recorder, start_adapter: StartAdapter
) -> None:
    await start_adapter(recorder)
    bob = user(8, "Bob", None)
    bot_message = {"message_id": 99, "date": 1, "chat": GROUP, "from": BOT_USER, "text": "Done"}
    fake_api.push_update(update(message(GROUP, bob, text="lunch anyone?")))
    fake_api.push_update(update(message(GROUP, ADA, text="@clipbot_test_bot make it pop")))
    fake_api.push_update(update(message(GROUP, bob, text="/status@clipbot_test_bot")))
    fake_api.push_update(update(message(GROUP, bob, text="slower please", reply_to=bot_message)))
    fake_api.push_update(update(message(GROUP, bob, text="/status@other_bot")))
    received = await recorder.next(5)
    assert [(m.text, m.addressed) for m in received] == [
        ("lunch anyone?", False),
        ("make it pop", True),
        ("/status", True),
        ("slower please", True),
        ("/status@other_bot", False),
    ]
    assert {m.chat.chat_id for m in received} == {str(GROUP["id"])}  # one project per group
    assert all(m.is_group for m in received)
    assert [m.sender.name for m in received][:2] == ["Bob", "Ada Lovelace"]


async def test_mention_replying_to_someones_photo_takes_that_photo(
    fake_api: FakeBotApi, recorder: Recorder, start_adapter: StartAdapter
) -> None:
    await start_adapter(recorder)
    file_id = fake_api.add_file(jpeg_bytes())
    their_photo = message(GROUP, user(8, "Bob", None), photo=photo_sizes(file_id))
    fake_api.push_update(
        update(message(GROUP, ADA, text="@clipbot_test_bot animate this", reply_to=their_photo))
    )
    [incoming] = await recorder.next()
    assert incoming.addressed
    assert incoming.text == "animate this"
    assert [a.kind for a in incoming.attachments] == ["image"]


async def test_a_reply_names_whom_it_replies_to_but_a_forum_topic_is_no_reply(
    fake_api: FakeBotApi, recorder: Recorder, start_adapter: StartAdapter
) -> None:
    await start_adapter(recorder)
    bob = user(8, "Bob", None)
    bobs = message(GROUP, bob, text="buy my stuff")
    bot_message = {"message_id": 98, "date": 1, "chat": GROUP, "from": BOT_USER, "text": "Done"}
    topic = {
        **message(GROUP, bob, text=""),
        "forum_topic_created": {"name": "Clips", "icon_color": 7322096},
    }
    fake_api.push_update(update(message(GROUP, ADA, text="/block", reply_to=bobs)))
    fake_api.push_update(update(message(GROUP, ADA, text="/block", reply_to=bot_message)))
    fake_api.push_update(
        update(message(GROUP, ADA, text="/status", reply_to=topic, message_thread_id=5,
                       is_topic_message=True))
    )  # fmt: skip
    received = await recorder.next(3)
    assert [m.replied_to for m in received] == [Sender("8", "Bob", "en"), None, None]


async def test_files_by_kind(
    fake_api: FakeBotApi, recorder: Recorder, start_adapter: StartAdapter
) -> None:
    await start_adapter(recorder)
    heic = document(
        fake_api.add_file(b"heic", "IMG_1.HEIC"), "IMG_1.HEIC", "application/octet-stream", 4
    )
    png = document(fake_api.add_file(b"png", "a.png"), "a.png", "image/png", 3)
    song = {"file_id": fake_api.add_file(b"mp3"), "file_unique_id": "m", "duration": 3,
            "mime_type": "audio/mpeg", "file_name": "song.mp3", "file_size": 3}  # fmt: skip
    voice = {"file_id": fake_api.add_file(b"ogg"), "file_unique_id": "v", "duration": 2,
             "mime_type": "audio/ogg", "file_size": 3}  # fmt: skip
    fake_api.push_update(update(message(PRIVATE, ADA, document=heic)))
    fake_api.push_update(update(message(PRIVATE, ADA, document=png, caption="sharp please")))
    fake_api.push_update(update(message(PRIVATE, ADA, audio=song, caption="music")))
    fake_api.push_update(update(message(PRIVATE, ADA, voice=voice)))
    received = await recorder.next(4)
    kinds = [(m.attachments[0].name, m.attachments[0].kind) for m in received]
    assert kinds == [
        ("IMG_1.HEIC", "image"),
        ("a.png", "image"),
        ("song.mp3", "audio"),
        ("voice_v.ogg", "audio"),
    ]


async def test_oversized_file_is_refused_before_download(
    fake_api: FakeBotApi, recorder: Recorder, start_adapter: StartAdapter
) -> None:
    await start_adapter(recorder)
    big = document("BIGFILE", "huge.png", "image/png", 25 * 1024 * 1024)
    fake_api.push_update(update(message(PRIVATE, ADA, document=big, caption="animate")))
    [reply] = await fake_api.wait_for(lambda: fake_api.calls_to("sendMessage"))
    text = reply.params["text"]
    assert "25 MB" in text
    assert "20 MB" in text
    assert "as a photo" in text
    assert fake_api.calls_to("getFile") == []
    assert recorder.received == []


async def test_duplicate_update_is_handled_once_across_a_restart(
    fake_api: FakeBotApi, recorder: Recorder, start_adapter: StartAdapter
) -> None:
    first_run = await start_adapter(recorder)
    first = fake_api.push_update(update(message(PRIVATE, ADA, text="hello")))
    await recorder.next()
    await first_run.stop()
    # Telegram delivers it again (the offset was never confirmed, as after a crash).
    await start_adapter(recorder)
    fake_api.push_update({"update_id": first, **update(message(PRIVATE, ADA, text="hello"))})
    fake_api.push_update(update(message(PRIVATE, ADA, text="after")))
    received = await recorder.next(2)
    assert [m.text for m in received] == ["hello", "after"]


async def test_polling_survives_flood_control(
    fake_api: FakeBotApi, recorder: Recorder, start_adapter: StartAdapter
) -> None:
    fake_api.fail_next("getUpdates", retry_after=1)
    await start_adapter(recorder)
    fake_api.push_update(update(message(PRIVATE, ADA, text="still there?")))
    [incoming] = await recorder.next()
    assert incoming.text == "still there?"
    assert fake_api.calls_to("getUpdates", limited=True)


async def test_an_album_still_collecting_is_handed_over_on_stop(
    fake_api: FakeBotApi, recorder: Recorder, start_adapter: StartAdapter
) -> None:
    adapter = await start_adapter(recorder, album_wait_s=30.0)
    for i in range(2):
        file_id = fake_api.add_file(jpeg_bytes())
        fake_api.push_update(
            update(
                message(
                    PRIVATE,
                    ADA,
                    photo=photo_sizes(file_id, small_id=f"S{i}"),
                    media_group_id="late",
                )
            )
        )
    polled = len(fake_api.calls_to("getUpdates"))
    await fake_api.wait_for(lambda: len(fake_api.calls_to("getUpdates")) > polled + 1)
    assert recorder.received == []
    await adapter.stop()
    [incoming] = await recorder.next()
    assert len(incoming.attachments) == 2


async def test_an_anonymous_group_admin_is_answered(
    fake_api: FakeBotApi, recorder: Recorder, start_adapter: StartAdapter
) -> None:
    # An admin posting "as the group" arrives from @GroupAnonymousBot (a bot) with the
    # group as sender_chat; bots never see other bots' messages, so this is a person.
    await start_adapter(recorder)
    anonymous = {"id": 1087968824, "is_bot": True, "first_name": "Group",
                 "username": "GroupAnonymousBot"}  # fmt: skip
    asked = message(GROUP, anonymous, text="@clipbot_test_bot make it pop")
    asked["sender_chat"] = GROUP
    fake_api.push_update(update(asked))
    [incoming] = await recorder.next()
    assert (incoming.addressed, incoming.text) == (True, "make it pop")
    assert incoming.sender.name == GROUP["title"]


async def test_an_update_kept_but_never_handled_is_handled_at_the_next_start(
    fake_api: FakeBotApi, recorder: Recorder, start_adapter: StartAdapter, store: SqliteStore
) -> None:
    # The last process kept it (so Telegram was free to forget it) and died before
    # handling it: the next start handles it first, once.
    kept = {"update_id": 900, **update(message(PRIVATE, ADA, text="kept for me"))}
    assert await store.receive_update("telegram", "900", json.dumps(kept))
    await start_adapter(recorder)
    fake_api.push_update(kept)  # and Telegram sends it again too: still once
    fake_api.push_update(update(message(PRIVATE, ADA, text="after")))
    received = await recorder.next(2)
    assert [m.text for m in received] == ["kept for me", "after"]
    await asyncio.sleep(0.3)
    assert len(recorder.received) == 2
    assert await store.unhandled_updates("telegram") == []


async def test_an_update_is_kept_before_telegram_may_forget_it(
    fake_api: FakeBotApi, start_adapter: StartAdapter, store: SqliteStore
) -> None:
    held, arrived = asyncio.Event(), asyncio.Event()

    async def stuck(incoming: IncomingMessage, channel: OutgoingChannel) -> None:
        arrived.set()
        await held.wait()  # the process dies before this returns

    await start_adapter(stuck)
    fake_api.push_update(update(message(PRIVATE, ADA, text="mid-air")))
    await asyncio.wait_for(arrived.wait(), 10)
    # Not handled yet, but kept: a restart would find it.
    [(_, payload)] = await store.unhandled_updates("telegram")
    assert json.loads(payload)["message"]["text"] == "mid-air"
    held.set()

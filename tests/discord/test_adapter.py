"""The adapter with the real discord.py against the fake Discord, and a recording handler."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from pathlib import Path

import pytest

from adapters.discord import create_adapter
from adapters.discord.runner import DiscordAdapter
from bot.config import Settings
from bot.errors import FileTooLarge
from bot.ports.chat import Button, IncomingMessage, OutgoingChannel, VideoInfo
from fakes.discord.server import (
    BOT_ROLE_ID,
    BOT_USER,
    DM_CHANNEL_ID,
    OTHER_USER,
    TEXT_CHANNEL_ID,
    USER_ID,
    FakeDiscord,
    SentMessage,
)
from storage.sqlite import SqliteStore

Reply = Callable[[IncomingMessage, OutgoingChannel], Awaitable[None]]
MESSAGE_CONTENT_INTENT = 1 << 15
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64  # the adapter never decodes it


class Recorder:
    """A handler that records each message and runs the test's reply on it."""

    def __init__(self) -> None:
        self.calls: list[tuple[IncomingMessage, OutgoingChannel]] = []
        self.reply: Reply | None = None
        self.arrived = asyncio.Event()

    async def __call__(self, message: IncomingMessage, channel: OutgoingChannel) -> None:
        self.calls.append((message, channel))
        self.arrived.set()
        if self.reply is not None:
            await self.reply(message, channel)

    async def next(self, count: int = 1) -> IncomingMessage:
        """Wait until `count` messages arrived; the last one."""
        async with asyncio.timeout(10):
            while len(self.calls) < count:
                self.arrived.clear()
                await self.arrived.wait()
        return self.calls[count - 1][0]


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


async def started(
    settings: Settings, recorder: Recorder, store: SqliteStore, **options: object
) -> DiscordAdapter:
    adapter = DiscordAdapter(settings, recorder, store, guild_ready_timeout_s=0.05, **options)  # type: ignore[arg-type]
    await adapter.start()
    return adapter


@pytest.fixture
async def adapter(
    settings: Settings, recorder: Recorder, store: SqliteStore
) -> AsyncIterator[DiscordAdapter]:
    running = await started(settings, recorder, store)
    try:
        yield running
    finally:
        await running.stop()


async def test_start_identifies_without_privileged_intents_and_syncs_commands(
    fake: FakeDiscord, settings: Settings, recorder: Recorder, store: SqliteStore
) -> None:
    adapter = create_adapter(settings, recorder, store)
    assert adapter.name == "discord"
    await adapter.start()
    try:
        assert fake.connections[0].startswith("/gateway?")
        assert "encoding=json" in fake.connections[0]
        (identify,) = fake.identifies
        assert identify["token"] == "fake-discord-token"
        assert identify["intents"] & MESSAGE_CONTENT_INTENT == 0
        (commands,) = fake.command_syncs
        by_name = {c["name"]: c for c in commands}
        assert set(by_name) == {
            "animate", "status", "credits", "export", "new", "help", "quota",
            "stats", "block", "unblock",
        }  # fmt: skip
        # The admin commands are in an administrator's menu only ("8": Administrator).
        assert {n for n, c in by_name.items() if c.get("default_member_permissions")} == {
            "stats",
            "block",
            "unblock",
        }
        assert str(by_name["block"]["default_member_permissions"]) == "8"
        assert by_name["block"]["options"][0]["type"] == 6  # a user
        options = {o["name"]: o for o in by_name["animate"]["options"]}
        assert options["image"]["type"] == 11  # attachment
        assert options["image"]["required"] is True
        assert [c["value"] for c in options["aspect"]["choices"]] == ["9:16", "16:9", "1:1", "4:5"]
        assert options["duration"]["type"] == 4  # integer
        assert fake.unknown == []
    finally:
        await adapter.stop()


async def test_dm_photo_with_text_reaches_the_handler(
    fake: FakeDiscord, adapter: DiscordAdapter, recorder: Recorder, tmp_path: Path
) -> None:
    photo = fake.add_file("cat.png", PNG, "image/png")
    song = fake.add_file("tune.mp3", b"ID3-fake", None)
    await fake.send_message("zoom in, 9:16", guild=False, attachments=[photo, song])
    message = await recorder.next()
    assert message.chat.platform == "discord"
    assert message.chat.chat_id == str(DM_CHANNEL_ID)
    assert (message.is_group, message.addressed) == (False, True)
    assert message.text == "zoom in, 9:16"
    assert message.sender.id == str(USER_ID)
    assert message.sender.name == "Alice"
    assert [(a.name, a.kind) for a in message.attachments] == [
        ("cat.png", "image"),
        ("tune.mp3", "audio"),
    ]
    # The CDN URL is all a worker (in any process) needs to fetch it.
    assert message.attachments[0].ref.endswith("/cat.png")
    await adapter.fetch(message.attachments[0], tmp_path / "cat.png")
    assert (tmp_path / "cat.png").read_bytes() == PNG


async def test_server_messages_are_addressed_only_by_mention_or_reply(
    fake: FakeDiscord, adapter: DiscordAdapter, recorder: Recorder
) -> None:
    await fake.send_message("nice weather", guild=True)
    plain = await recorder.next(1)
    assert (plain.is_group, plain.addressed) == (True, False)

    bot_id = BOT_USER["id"]
    await fake.send_message(f"<@{bot_id}> make it pop", guild=True, mentions=[BOT_USER])
    mentioned = await recorder.next(2)
    assert (mentioned.addressed, mentioned.text) == (True, "make it pop")
    assert mentioned.chat.chat_id == str(TEXT_CHANNEL_ID)

    said = SentMessage(id=fake.snowflake(), channel_id=TEXT_CHANNEL_ID, via="channel", content="hi")
    await fake.send_message("slower please", guild=True, reply_to=said)
    reply = await recorder.next(3)
    assert reply.addressed is True
    assert reply.replied_to is None  # a reply to the bot names nobody to act on

    await fake.send_message("ignore me", guild=True, author={**OTHER_USER, "bot": True})
    await fake.send_message("last", guild=True, mentions=[BOT_USER])
    assert (await recorder.next(4)).text == "last"  # the other bot's message was dropped


async def test_a_mention_of_the_bots_role_addresses_the_bot(
    fake: FakeDiscord, adapter: DiscordAdapter, recorder: Recorder
) -> None:
    # Discord's @ picker offers the bot's managed role next to the bot; both mean "you".
    photo = fake.add_file("cat.png", PNG, "image/png")
    await fake.send_message(
        f"<@&{BOT_ROLE_ID}> zoom in", guild=True, mention_roles=[BOT_ROLE_ID], attachments=[photo]
    )
    message = await recorder.next()
    assert (message.addressed, message.text) == (True, "zoom in")
    assert [a.name for a in message.attachments] == ["cat.png"]


async def test_animate_defers_then_answers_in_followups(
    fake: FakeDiscord, adapter: DiscordAdapter, recorder: Recorder, tmp_path: Path
) -> None:
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x01" * 1000)
    fake.filesize_limit = 5000

    async def reply(message: IncomingMessage, channel: OutgoingChannel) -> None:
        assert channel.max_upload_bytes == 5000
        ref = await channel.send_text("⏳ Working…")
        await channel.edit_text(ref, "🎬 Rendering…")
        async with channel.working():
            await channel.send_video(
                video,
                "🎬 Your clip, for Alice",
                VideoInfo(64, 64, 1.0),
                [Button("Status", "status")],
            )

    recorder.reply = reply
    photo = fake.add_file("photo.jpg", PNG, "image/jpeg")
    payload = await fake.slash_command(
        "animate",
        [
            {"name": "image", "type": 11, "value": photo["id"]},
            {"name": "prompt", "type": 3, "value": "slow zoom-in"},
            {"name": "aspect", "type": 3, "value": "9:16"},
            {"name": "duration", "type": 4, "value": 5},
        ],
        attachments=[photo],
    )
    message = await recorder.next()
    assert message.text == "slow zoom-in. aspect ratio 9:16, 5 seconds long"
    assert (message.is_group, message.addressed) == (True, True)
    assert message.message_id == payload["id"]
    assert [a.kind for a in message.attachments] == ["image"]
    # Acknowledged with "thinking" before anything else.
    ((acked_id, ack),) = fake.callbacks
    assert (acked_id, ack["type"]) == (int(payload["id"]), 5)  # deferred, "thinking"
    await fake.wait_until(lambda: len(fake.followups()) == 2)
    status, clip = fake.followups()
    assert status.edits == ["🎬 Rendering…"]
    assert clip.channel_id == TEXT_CHANNEL_ID
    assert clip.files == [("clip.mp4", video.read_bytes())]
    assert clip.custom_ids() == ["clipbot:status"]
    assert TEXT_CHANNEL_ID in fake.typing
    assert fake.in_channel(TEXT_CHANNEL_ID) == []


async def test_a_video_over_the_reported_limit_is_refused_before_upload(
    fake: FakeDiscord, adapter: DiscordAdapter, recorder: Recorder, tmp_path: Path
) -> None:
    video = tmp_path / "big.mp4"
    video.write_bytes(b"\x00" * 2048)
    fake.filesize_limit = 1024
    outcome: list[BaseException] = []

    async def reply(message: IncomingMessage, channel: OutgoingChannel) -> None:
        try:
            await channel.send_video(video, "too big", VideoInfo(64, 64, 1.0))
        except FileTooLarge as exc:
            outcome.append(exc)
            await channel.send_link("https://example.invalid/big.mp4", "Download it here.")

    recorder.reply = reply
    await fake.slash_command("export", guild=True)
    await fake.wait_until(lambda: len(fake.followups()) == 1)
    assert isinstance(outcome[0], FileTooLarge)
    assert outcome[0].limit_bytes == 1024
    (link,) = fake.followups()
    assert link.files == []
    assert link.text == "Download it here.\nhttps://example.invalid/big.mp4"


async def test_expired_interaction_token_falls_back_to_channel_messages(
    fake: FakeDiscord, settings: Settings, recorder: Recorder, store: SqliteStore
) -> None:
    async def reply(message: IncomingMessage, channel: OutgoingChannel) -> None:
        ref = await channel.send_text("⏳ Working…")
        await channel.edit_text(ref, "done")
        await channel.send_link("https://example.invalid/clip.mp4", "Too big: download it here.")

    recorder.reply = reply
    adapter = await started(settings, recorder, store, token_lifetime=timedelta(0))
    try:
        await fake.slash_command("status", guild=False)
        assert (await recorder.next()).text == "/status"
        await fake.wait_until(lambda: len(fake.messages) == 2)
        sent = fake.messages
        assert [m.via for m in sent] == ["channel", "channel"]
        assert sent[0].channel_id == DM_CHANNEL_ID
        assert sent[0].text == "done"
        assert sent[1].text == "Too big: download it here.\nhttps://example.invalid/clip.mp4"
    finally:
        await adapter.stop()


@pytest.mark.parametrize("by_command", [False, True], ids=["channel", "followup"])
async def test_a_deleted_status_message_is_sent_again_not_lost(
    fake: FakeDiscord, adapter: DiscordAdapter, recorder: Recorder, by_command: bool
) -> None:
    async def reply(message: IncomingMessage, channel: OutgoingChannel) -> None:
        ref = await channel.send_text("Rendering 10%")
        fake.delete_message(fake.messages[-1].id)
        await channel.edit_text(ref, "Rendering 40%")
        await channel.edit_text(ref, "Rendering 90%")

    recorder.reply = reply
    if by_command:
        await fake.slash_command("status", guild=False)
    else:
        await fake.send_message("hello", guild=False)
    await recorder.next()
    await fake.wait_until(lambda: [m.text for m in fake.messages] == ["Rendering 90%"])


async def test_a_failing_handler_is_answered_not_silent(
    fake: FakeDiscord, adapter: DiscordAdapter, recorder: Recorder
) -> None:
    async def reply(message: IncomingMessage, channel: OutgoingChannel) -> None:
        raise RuntimeError("boom")

    recorder.reply = reply
    await fake.send_message("hello", guild=False)
    await fake.wait_until(lambda: bool(fake.in_channel(DM_CHANNEL_ID)))
    (sorry,) = fake.in_channel(DM_CHANNEL_ID)
    assert sorry.text.startswith("Sorry, something went wrong")


async def test_button_pressed_after_a_restart_reaches_the_handler(
    fake: FakeDiscord, settings: Settings, recorder: Recorder, store: SqliteStore
) -> None:
    async def reply(message: IncomingMessage, channel: OutgoingChannel) -> None:
        await channel.send_text("🎬 Your clip", [Button("Export again", "export")])

    recorder.reply = reply
    first = await started(settings, recorder, store)
    await fake.send_message("go", guild=False)
    await fake.wait_until(lambda: bool(fake.in_channel(DM_CHANNEL_ID)))
    (result,) = fake.in_channel(DM_CHANNEL_ID)
    assert result.custom_ids() == ["clipbot:export"]
    await first.stop()

    recorder.reply = None
    second = await started(settings, recorder, store)
    try:
        press = await fake.press_button(result, "clipbot:export", guild=False)
        pressed = await recorder.next(2)
        assert pressed.text == "/export"
        assert pressed.chat.chat_id == str(DM_CHANNEL_ID)
        assert pressed.message_id == press["id"]
        assert fake.callbacks[-1][0] == int(press["id"])
        assert len(fake.identifies) == 2
    finally:
        await second.stop()


async def test_gateway_reconnect_resumes_and_keeps_answering(
    fake: FakeDiscord, adapter: DiscordAdapter, recorder: Recorder
) -> None:
    await fake.drop_connection()
    # Sent while the socket is down: replayed by the fake on RESUME, handled once.
    await fake.send_message("during the outage", guild=False)
    await fake.wait_until(lambda: bool(fake.resumes))
    assert (await recorder.next(1)).text == "during the outage"
    assert fake.connections[-1].startswith("/resume?")
    assert len(fake.identifies) == 1
    await fake.send_message("after", guild=False)
    assert (await recorder.next(2)).text == "after"


async def test_a_message_delivered_twice_is_handled_once(
    fake: FakeDiscord, adapter: DiscordAdapter, recorder: Recorder
) -> None:
    payload = fake.message("once", guild=False)
    await fake.dispatch("MESSAGE_CREATE", payload)
    await fake.dispatch("MESSAGE_CREATE", payload)
    await fake.send_message("twice", guild=False)
    assert (await recorder.next(2)).text == "twice"
    assert [m.text for m, _ in recorder.calls] == ["once", "twice"]


async def test_echoed_words_are_shown_as_typed_and_ping_nobody(
    fake: FakeDiscord, adapter: DiscordAdapter, recorder: Recorder
) -> None:
    async def echo(message: IncomingMessage, channel: OutgoingChannel) -> None:
        await channel.send_text(f"title “{message.text}” · https://x.example/a_b_c")

    recorder.reply = echo
    await fake.send_message("*Summer_Sale* <@1100000000000000006> @everyone", guild=False)
    await fake.wait_until(lambda: bool(fake.in_channel(DM_CHANNEL_ID)))
    [sent] = fake.in_channel(DM_CHANNEL_ID)
    assert sent.content.startswith("title “\\*Summer\\_Sale\\* ")  # not italics
    assert sent.content.endswith("https://x.example/a_b_c")  # links untouched
    assert sent.allowed_mentions == {"parse": []}  # nobody is pinged


async def test_a_store_failure_does_not_silence_a_message(
    fake: FakeDiscord, adapter: DiscordAdapter, recorder: Recorder, store: SqliteStore
) -> None:
    async def broken(platform: str, update_id: str) -> bool:
        raise OSError("disk full")

    store.mark_update = broken  # type: ignore[method-assign]
    await fake.send_message("zoom in", guild=False)
    assert (await recorder.next()).text == "zoom in"


async def test_a_channel_rebuilt_from_its_stored_address_writes_to_the_same_places(
    fake: FakeDiscord, adapter: DiscordAdapter, recorder: Recorder, tmp_path: Path
) -> None:
    """What a worker in another process does: the follow-up while the token lives, the
    channel (with the delivery's nonce) after."""
    await fake.slash_command("status", guild=True)
    await recorder.next()
    (_, live) = recorder.calls[0]
    address = live.address
    assert address.platform == "discord"
    assert address.chat_id == str(TEXT_CHANNEL_ID)
    assert set(address.extra) >= {"guild", "limit", "app", "token", "until"}
    assert address.extra["token"] not in repr(address)  # never in a log line
    rebuilt = adapter.channel_for(address)
    ref = await rebuilt.send_text("⏳ Working…")
    await rebuilt.edit_text(ref, "🎬 Rendering…")
    await fake.wait_until(lambda: len(fake.followups()) == 1)
    assert fake.followups()[0].edits == ["🎬 Rendering…"]
    # Once the token is gone (or never stored), the channel itself, by nonce.
    expired = type(address)(
        address.platform,
        address.chat_id,
        {k: v for k, v in address.extra.items() if k not in ("app", "token", "until")},
    )
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x01" * 100)
    for _ in range(2):  # delivered again after a crash: the same key
        await adapter.channel_for(expired).send_video(
            video, "🎬 Your clip", VideoInfo(64, 64, 1.0), key="clipbot-42"
        )
    await fake.wait_until(lambda: len(fake.in_channel(TEXT_CHANNEL_ID)) >= 1)
    [clip] = fake.in_channel(TEXT_CHANNEL_ID)
    assert clip.files == [("clip.mp4", video.read_bytes())]


async def test_a_process_holds_only_its_own_shards(
    fake: FakeDiscord, settings: Settings, recorder: Recorder, store: SqliteStore
) -> None:
    # Shard 1 of 2 here (another process holds shard 0): one gateway connection, which
    # says which shard it is, and messages on it reach the handler.
    sharded = settings.model_copy(update={"discord_shard_count": 2, "discord_shard_ids": [1]})
    adapter = await started(sharded, recorder, store)
    try:
        (identify,) = fake.identifies
        assert identify["shard"] == [1, 2]
        await fake.send_message("zoom in", guild=False)
        assert (await recorder.next()).text == "zoom in"
    finally:
        await adapter.stop()

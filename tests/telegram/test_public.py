"""A public bot on Telegram, end to end: real python-telegram-bot ↔ the fake Bot API, the
real engine, SQLite store and local renderer, and the HTTP side server over loopback."""

from __future__ import annotations

import io
import socket
from pathlib import Path
from typing import Any

import av
import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from adapters.telegram.limits import MB, TelegramLimits
from bot.config import Settings
from fakes.nemo.server import NemoEmulator
from fakes.telegram.api import TOKEN, FakeBotApi
from fakes.telegram.updates import group_chat, message, photo_sizes, private_chat, update, user
from tests.nemo_fixtures import nemo_emulator, nemo_settings

from .conftest import jpeg_bytes
from .test_end_to_end import running

ADA = user()  # the admin in these tests
BOB = user(8, "Bob", None)
__all__ = ["nemo_emulator"]
GROUP = group_chat()
TINY = "zoom in, square, 1 second, 720p"
RENDER_WAIT_S = 90.0


def _settings(fake_api: FakeBotApi, tmp_path: Path, **extra: Any) -> Settings:
    return Settings.load(
        None,
        backend="local",
        data_dir=tmp_path / "data",
        telegram_bot_token=TOKEN,
        telegram_api_base_url=fake_api.base_url,
        telegram_file_base_url=fake_api.file_base_url,
        status_edit_interval_s=0.05,
        **extra,
    )


def photo(fake_api: FakeBotApi, chat: dict[str, Any], sender: dict[str, Any], caption: str) -> Any:
    file_id = fake_api.add_file(jpeg_bytes(320, 240))
    return update(message(chat, sender, caption=caption,
                          photo=photo_sizes(file_id, small_id=f"s{file_id}")))  # fmt: skip


def text(chat: dict[str, Any], sender: dict[str, Any], words: str, **extra: Any) -> Any:
    return update(message(chat, sender, text=words, **extra))


async def answered(fake_api: FakeBotApi, chat_id: int, needle: str) -> str:
    """Wait for the bot's message in `chat_id` that contains `needle`."""
    found: list[str] = await fake_api.wait_for(
        lambda: [t for t in fake_api.texts(chat_id) if needle in t], wait_s=RENDER_WAIT_S
    )
    return found[-1]


async def test_a_user_over_the_daily_quota_is_refused_and_nothing_is_rendered(
    fake_api: FakeBotApi, tmp_path: Path
) -> None:
    settings = _settings(fake_api, tmp_path, quota_clips_per_day=1)
    chat = private_chat(BOB)
    async with running(settings):
        fake_api.push_update(photo(fake_api, chat, BOB, TINY))
        await fake_api.wait_for(lambda: fake_api.calls_to("sendVideo"), wait_s=RENDER_WAIT_S)
        fake_api.push_update(photo(fake_api, chat, BOB, "another one, 9:16"))
        refusal = await answered(fake_api, BOB["id"], "limit")
    assert refusal.startswith("You have reached today's limit of clips per person (1;")
    assert "It resets at 00:00 UTC, in " in refusal
    assert len(fake_api.calls_to("sendVideo")) == 1
    assert len(fake_api.calls_to("getFile")) == 1  # the second photo was never fetched


async def test_an_unlisted_user_is_refused_once(fake_api: FakeBotApi, tmp_path: Path) -> None:
    settings = _settings(fake_api, tmp_path, allowed_users=(f"telegram:{ADA['id']}",))
    chat = private_chat(BOB)
    async with running(settings):
        fake_api.push_update(photo(fake_api, chat, BOB, TINY))
        fake_api.push_update(text(chat, BOB, "make a clip"))
        fake_api.push_update(text(chat, BOB, "/help"))
        fake_api.push_update(text(private_chat(ADA), ADA, "/help"))
        # Updates are handled in order: once Ada has her answer, Bob's were all handled.
        await answered(fake_api, ADA["id"], "Send me a photo")
    [refusal] = fake_api.texts(BOB["id"])
    assert "open only to the people its operator has let in" in refusal
    assert fake_api.calls_to("getFile") == []
    assert fake_api.calls_to("sendVideo") == []


async def test_an_admins_stats_show_the_counts_and_a_non_admin_gets_nothing(
    fake_api: FakeBotApi, tmp_path: Path
) -> None:
    settings = _settings(fake_api, tmp_path, admins=(f"telegram:{ADA['id']}",))
    async with running(settings) as core:
        fake_api.push_update(photo(fake_api, private_chat(BOB), BOB, TINY))
        await fake_api.wait_for(lambda: fake_api.calls_to("sendVideo"), wait_s=RENDER_WAIT_S)
        await core.engine.idle()  # the request is recorded as done
        fake_api.push_update(text(private_chat(BOB), BOB, "/stats"))
        fake_api.push_update(text(private_chat(BOB), BOB, "/help"))
        fake_api.push_update(text(private_chat(ADA), ADA, "/stats"))
        stats = await answered(fake_api, ADA["id"], "📊")
        await answered(fake_api, BOB["id"], "Send me a photo")
    assert "Requests: 1 done, 0 failed" in stats
    assert "Clips made: 1; time to the clip: median " in stats
    assert "Credits: none to count (local rendering)" in stats
    assert not any("📊" in t for t in fake_api.texts(BOB["id"]))
    # Only the admin's own chat has /stats in its command menu.
    scoped = [c for c in fake_api.calls_to("setMyCommands") if "scope" in c.params]
    assert {c.json("scope")["chat_id"] for c in scoped} == {ADA["id"]}
    assert "stats" in {command["command"] for command in scoped[0].json("commands")}


async def test_a_block_by_reply_holds_across_a_restart(
    fake_api: FakeBotApi, tmp_path: Path
) -> None:
    settings = _settings(fake_api, tmp_path, admins=(f"telegram:{ADA['id']}",))
    bobs = message(GROUP, BOB, text="look at this spam")
    async with running(settings):
        fake_api.push_update(update(bobs))
        fake_api.push_update(text(GROUP, ADA, "/block", reply_to=bobs))
        done = await answered(fake_api, GROUP["id"], "Blocked")
    assert done.startswith("🚫 Blocked Bob (telegram:8)")
    async with running(settings):  # a new process on the same database
        for caption in ("@clipbot_test_bot make a clip", "@clipbot_test_bot again"):
            fake_api.push_update(photo(fake_api, GROUP, BOB, caption))
        fake_api.push_update(text(GROUP, ADA, "/unblock 8"))
        await answered(fake_api, GROUP["id"], "Unblocked")
    said = fake_api.texts(GROUP["id"])
    assert sum("operator has let in" in t for t in said) == 1
    assert fake_api.calls_to("getFile") == []
    assert said[-1] == "✅ Unblocked telegram:8."


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _clips_counter(metrics_text: str) -> float:
    for family in text_string_to_metric_families(metrics_text):
        if family.name == "clipbot_clips":
            return sum(
                s.value for s in family.samples
                if s.name == "clipbot_clips_total" and s.labels["delivery"] == "link"
            )  # fmt: skip
    return 0.0


@pytest.mark.slow
async def test_a_clip_too_big_for_the_chat_comes_as_a_share_link_that_plays(
    fake_api: FakeBotApi, tmp_path: Path
) -> None:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    settings = _settings(fake_api, tmp_path, http_port=port, http_host="127.0.0.1", public_url=base)
    limits = TelegramLimits(download_bytes=20 * MB, upload_bytes=1000)
    async with running(settings, limits=limits), httpx.AsyncClient() as http:
        before = _clips_counter((await http.get(f"{base}/metrics")).text)
        fake_api.push_update(photo(fake_api, private_chat(BOB), BOB, TINY))
        said = await answered(fake_api, BOB["id"], "download it here")
        [url] = [w for w in said.split() if w.startswith(f"{base}/clips/")]
        whole = await http.get(url)
        first = await http.get(url, headers={"Range": "bytes=0-1023"})
        wrong = await http.get(url[:-6] + ("x" if url[-5] != "x" else "y") + ".mp4")
        after = _clips_counter((await http.get(f"{base}/metrics")).text)
        health = await http.get(f"{base}/healthz")
    assert "The link works for 24 h." in said
    assert fake_api.calls_to("sendVideo") == []
    assert whole.status_code == 200
    with av.open(io.BytesIO(whole.content)) as clip:
        assert clip.streams.video[0].codec_context.name == "h264"
    assert first.status_code == 206
    assert first.content == whole.content[:1024]
    assert wrong.status_code == 404
    assert after == before + 1
    assert health.status_code == 200


async def test_with_nemo_a_user_over_their_share_of_the_credits_is_refused(
    fake_api: FakeBotApi, nemo_emulator: NemoEmulator, tmp_path: Path
) -> None:
    # 500 credits; a first clip costs 100. A 15 % share: after one clip Ann has spent
    # 100 of the 0.15 × (400 + 100) = 75 that was hers, and is refused.
    settings = nemo_settings(
        nemo_emulator, tmp_path / "data", quota_credit_share=15, status_edit_interval_s=0.05,
        telegram_bot_token=TOKEN, telegram_api_base_url=fake_api.base_url,
        telegram_file_base_url=fake_api.file_base_url,
    )  # fmt: skip
    chat = private_chat(BOB)
    async with running(settings) as core:
        fake_api.push_update(photo(fake_api, chat, BOB, "make a clip"))
        await fake_api.wait_for(lambda: fake_api.calls_to("sendVideo"), wait_s=RENDER_WAIT_S)
        await core.engine.idle()
        fake_api.push_update(photo(fake_api, chat, BOB, "another clip"))
        refusal = await answered(fake_api, BOB["id"], "share of today's credits")
    assert refusal.startswith("You have used your share of today's credits (100 of 75).")
    assert [t.message for t in nemo_emulator.turns] == ["make a clip"]
    assert len(fake_api.calls_to("getFile")) == 1

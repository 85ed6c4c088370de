"""`clipbot run`'s composition root: Telegram and Discord side by side in one event loop,
on one engine, store and local renderer, against our fake servers on loopback."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import av
import pytest

from adapters.discord.runner import configure_endpoints
from bot.app.serve import serve
from bot.config import Settings
from bot.errors import AdapterStartError
from fakes.discord.server import DM_CHANNEL_ID, FakeDiscord
from fakes.telegram.api import TOKEN, FakeBotApi
from fakes.telegram.updates import message, photo_sizes, private_chat, update, user
from tests.telegram.conftest import jpeg_bytes

ADA = user()


async def test_telegram_and_discord_run_side_by_side(tmp_path: Path) -> None:
    telegram, discord = FakeBotApi(), FakeDiscord()
    await telegram.start()
    await discord.start()
    settings = Settings.load(
        None,
        backend="local",
        data_dir=tmp_path / "data",
        status_edit_interval_s=0.05,
        telegram_bot_token=TOKEN,
        telegram_api_base_url=telegram.base_url,
        telegram_file_base_url=telegram.file_base_url,
        discord_bot_token="fake-discord-token",
        discord_api_base_url=discord.api_base_url,
        discord_gateway_url=discord.gateway_url,
    )
    stop = asyncio.Event()
    running = asyncio.create_task(serve(settings, stop=stop))
    try:
        await telegram.wait_for(lambda: telegram.calls_to("getUpdates"), wait_s=30)
        await discord.wait_until(
            lambda: bool(discord.identifies and discord.command_syncs), within=30
        )

        file_id = telegram.add_file(jpeg_bytes(320, 240))
        telegram.push_update(
            update(message(private_chat(ADA), ADA, caption="zoom in, square, 1 second, 720p",
                           photo=photo_sizes(file_id, small_id="s1")))
        )  # fmt: skip
        await discord.send_message("credits", guild=False)

        # Both platforms are served at once by the one loop: the Discord answer does not
        # wait for the Telegram render.
        await discord.wait_until(lambda: bool(discord.in_channel(DM_CHANNEL_ID)), within=30)
        assert "no credits to count" in discord.in_channel(DM_CHANNEL_ID)[-1].text
        [video] = await telegram.wait_for(lambda: telegram.calls_to("sendVideo"), wait_s=90)
        with av.open(io.BytesIO(video.upload("video"))) as clip:
            assert clip.streams.video[0].codec_context.name == "h264"
        assert not running.done()
    finally:
        stop.set()
        assert await asyncio.wait_for(running, 30) == 0
        await telegram.stop()
        await discord.stop()
        configure_endpoints(None, None)
    # Stopped for good: no poller is left asking for updates.
    polls = len(telegram.calls_to("getUpdates"))
    await asyncio.sleep(0.3)
    assert len(telegram.calls_to("getUpdates")) == polls


async def test_a_refused_token_is_said_plainly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    telegram = FakeBotApi()
    await telegram.start()
    try:
        settings = Settings.load(
            None,
            data_dir=tmp_path / "data",
            telegram_bot_token="999:WRONG",
            telegram_api_base_url=telegram.base_url,
            telegram_file_base_url=telegram.file_base_url,
        )
        with pytest.raises(AdapterStartError, match="Telegram refused TELEGRAM_BOT_TOKEN"):
            await serve(settings, stop=asyncio.Event())
    finally:
        await telegram.stop()


async def test_a_refused_discord_token_is_said_plainly(tmp_path: Path) -> None:
    discord = FakeDiscord(token="the-right-one")
    await discord.start()
    try:
        settings = Settings.load(
            None,
            data_dir=tmp_path / "data",
            discord_bot_token="a-wrong-one",
            discord_api_base_url=discord.api_base_url,
            discord_gateway_url=discord.gateway_url,
        )
        with pytest.raises(AdapterStartError, match="Discord refused DISCORD_BOT_TOKEN") as info:
            await serve(settings, stop=asyncio.Event())
        assert "a-wrong-one" not in str(info.value)
    finally:
        await discord.stop()
        configure_endpoints(None, None)


def test_the_cli_exits_with_the_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.cli import main

    monkeypatch.chdir(tmp_path)  # no .env of the developer's
    monkeypatch.setenv("CLIPBOT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "999:WRONG")
    # A port nothing listens on: the start fails fast, and says where it tried.
    monkeypatch.setenv("TELEGRAM_API_BASE_URL", "http://127.0.0.1:9/bot")
    monkeypatch.setenv("TELEGRAM_FILE_BASE_URL", "http://127.0.0.1:9/file/bot")
    assert main(["run"]) == 1
    err = capsys.readouterr().err
    assert "Could not reach the Telegram Bot API at http://127.0.0.1:9/bot" in err
    assert "WRONG" not in err
    assert "Traceback" not in err


def test_a_worker_without_postgresql_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CLIPBOT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "999:SECRET")
    monkeypatch.delenv("CLIPBOT_DATABASE_URL", raising=False)
    assert main(["worker"]) == 1
    err = capsys.readouterr().err
    assert "set CLIPBOT_DATABASE_URL" in err
    assert "SECRET" not in err
    assert not (tmp_path / "data").exists() or not any((tmp_path / "data").iterdir())


def test_a_bad_setting_is_named_without_its_neighbours_values(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "999:SECRET-TOKEN")
    monkeypatch.setenv("CLIPBOT_CONCURRENCY", "lots")
    with pytest.raises(SystemExit) as exited:
        main(["run"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "CLIPBOT_CONCURRENCY: Input should be a valid integer" in err
    assert "SECRET" not in err
    assert "Traceback" not in err

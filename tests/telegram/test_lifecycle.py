"""Buttons across a restart, failures answered, and webhook mode with its secret."""

from __future__ import annotations

import socket

import httpx
import pytest
from pydantic import SecretStr

from bot.config import Settings
from bot.ports.chat import IncomingMessage, OutgoingChannel
from fakes.telegram.api import FakeBotApi
from fakes.telegram.updates import button_press, group_chat, message, private_chat, update, user
from storage.sqlite import SqliteStore

from .conftest import Recorder, StartAdapter

ADA = user()
PRIVATE = private_chat(ADA)


async def test_button_press_after_a_restart(
    fake_api: FakeBotApi, start_adapter: StartAdapter, settings: Settings
) -> None:
    first = Recorder()
    first_run = await start_adapter(first)
    fake_api.push_update(update(message(PRIVATE, ADA, text="make a clip")))
    [(_, channel)] = [(m, c) for m, c in await _all(first)]
    ref = await channel.send_text("Here it is", [])
    await first_run.stop()

    # A new process: a new adapter and a store opened again on the same data dir.
    reopened = await SqliteStore.open(settings.db_path)
    try:
        second = Recorder()
        await start_adapter(second, store_=reopened)
        fake_api.push_update(button_press(PRIVATE, ADA, "clipbot:export", int(ref.id)))
        [pressed] = await second.next()
        assert pressed.text == "/export"
        assert pressed.chat.chat_id == str(ADA["id"])
        assert (pressed.addressed, pressed.is_group) == (True, False)
        [answer] = await fake_api.wait_for(lambda: fake_api.calls_to("answerCallbackQuery"))
        assert "text" not in answer.params
    finally:
        await reopened.close()


async def _all(recorder: Recorder) -> list[tuple[IncomingMessage, OutgoingChannel]]:
    await recorder.next()
    return recorder.received


async def test_button_in_a_group_is_addressed(
    fake_api: FakeBotApi, recorder: Recorder, start_adapter: StartAdapter
) -> None:
    await start_adapter(recorder)
    group = group_chat()
    fake_api.push_update(button_press(group, user(8, "Bob", None), "clipbot:status"))
    [pressed] = await recorder.next()
    assert (pressed.text, pressed.is_group, pressed.addressed) == ("/status", True, True)
    assert pressed.chat.chat_id == str(group["id"])
    assert pressed.sender.name == "Bob"


async def test_unknown_button_is_answered_and_ignored(
    fake_api: FakeBotApi, recorder: Recorder, start_adapter: StartAdapter
) -> None:
    await start_adapter(recorder)
    fake_api.push_update(button_press(PRIVATE, ADA, "oldbot:rerender"))
    [answer] = await fake_api.wait_for(lambda: fake_api.calls_to("answerCallbackQuery"))
    assert answer.params["text"] == "That button no longer works."
    fake_api.push_update(update(message(PRIVATE, ADA, text="next")))
    assert [m.text for m in await recorder.next()] == ["next"]


async def test_a_failing_handler_is_answered_not_silent(
    fake_api: FakeBotApi, start_adapter: StartAdapter, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[str] = []

    async def broken(message: IncomingMessage, channel: OutgoingChannel) -> None:
        calls.append(message.text)
        if message.text == "boom":
            raise RuntimeError("engine bug")

    await start_adapter(broken)
    fake_api.push_update(update(message(PRIVATE, ADA, text="boom")))
    [reply] = await fake_api.wait_for(lambda: fake_api.calls_to("sendMessage"))
    assert reply.params["text"].startswith("Sorry, something went wrong")
    assert "engine bug" in caplog.text
    fake_api.push_update(update(message(PRIVATE, ADA, text="still alive?")))
    await fake_api.wait_for(lambda: len(calls) == 2)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def test_webhook_mode_checks_the_secret(
    fake_api: FakeBotApi, recorder: Recorder, start_adapter: StartAdapter, settings: Settings
) -> None:
    port = _free_port()
    hooked = settings.model_copy(
        update={
            "telegram_webhook_url": f"http://127.0.0.1:{port}/telegram/hook",
            "telegram_webhook_listen": "127.0.0.1",
            "telegram_webhook_port": port,
            "telegram_webhook_secret": SecretStr("s3cret-for-tests"),
        }
    )
    await start_adapter(recorder, settings_=hooked)
    assert fake_api.webhook is not None
    assert fake_api.webhook["url"] == f"http://127.0.0.1:{port}/telegram/hook"
    assert fake_api.webhook["secret_token"] == "s3cret-for-tests"
    assert fake_api.calls_to("getUpdates") == []

    body = {"update_id": 77, **update(message(PRIVATE, ADA, text="via webhook"))}
    url = f"http://127.0.0.1:{port}/telegram/hook"
    header = "X-Telegram-Bot-Api-Secret-Token"
    async with httpx.AsyncClient(timeout=5) as client:
        wrong = await client.post(url, json=body, headers={header: "nope"})
        assert wrong.status_code == 403
        right = await client.post(url, json=body, headers={header: "s3cret-for-tests"})
        assert right.status_code == 200
    [incoming] = await recorder.next()
    assert incoming.text == "via webhook"
    assert len(recorder.received) == 1


async def test_create_adapter_is_what_the_app_wiring_calls(
    fake_api: FakeBotApi, recorder: Recorder, settings: Settings, store: SqliteStore
) -> None:
    from adapters.telegram import create_adapter

    adapter = create_adapter(settings, recorder, store)
    assert adapter.name == "telegram"
    await adapter.start()
    try:
        fake_api.push_update(update(message(PRIVATE, ADA, text="/start")))
        [incoming] = await recorder.next()
        assert incoming.text == "/start"
    finally:
        await adapter.stop()
    await adapter.stop()  # stopping twice is harmless
    with pytest.raises(ValueError, match="TELEGRAM_BOT_TOKEN"):
        create_adapter(Settings.load(None), recorder, store)


async def test_a_token_in_a_url_the_libraries_log_is_redacted(
    fake_api: FakeBotApi, settings: Settings, store: SqliteStore
) -> None:
    """httpx logs every Bot API URL, token included: the shape alone must catch it (a
    filter that was never told the token, as for one set after logging started)."""
    import io
    import logging

    from adapters.telegram import TelegramAdapter
    from bot.errors import AdapterStartError
    from bot.logs import RedactingFilter

    token = "9" * 10 + ":" + "FAKE" * 9  # the shape of a real token, obviously not one
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.addFilter(RedactingFilter())
    httpx_log = logging.getLogger("httpx")
    httpx_log.addHandler(handler)
    level, httpx_log.level = httpx_log.level, logging.INFO
    try:
        wrong = settings.model_copy(update={"telegram_bot_token": SecretStr(token)})
        with pytest.raises(AdapterStartError):
            await TelegramAdapter(wrong, Recorder(), store).start()  # the fake answers 401
    finally:
        httpx_log.removeHandler(handler)
        httpx_log.setLevel(level)
    assert "/getMe" in out.getvalue()
    assert token not in out.getvalue()
    assert token.partition(":")[2] not in out.getvalue()

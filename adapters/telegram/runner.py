"""The Telegram `Adapter`: owns the PTB Application and its lifecycle in a shared loop."""

from __future__ import annotations

import contextlib
import datetime as dtm
import logging
from typing import Any
from urllib.parse import urlsplit

from telegram import BotCommand, CallbackQuery, Message, Update
from telegram.error import InvalidToken, NetworkError, TelegramError
from telegram.ext import Application, ApplicationBuilder, ContextTypes, TypeHandler

from bot.config import Settings
from bot.errors import AdapterStartError
from bot.logs import redact
from bot.ports.chat import IncomingMessage, MessageHandler, button_action
from bot.ports.store import Store
from bot.words import as_lang, say, size

from . import texts
from .albums import ALBUM_WAIT_S, AlbumCollector
from .channel import ACTION_INTERVAL_S, TelegramChannel
from .convert import (
    PLATFORM,
    BotIdentity,
    chat_key,
    file_fetcher,
    is_group,
    oversized,
    sender_of,
    to_incoming,
    topic_of,
)
from .flood import rate_limiter
from .limits import TelegramLimits
from .processor import ChatOrderedProcessor

log = logging.getLogger(__name__)

ALLOWED_UPDATES = [Update.MESSAGE, Update.CALLBACK_QUERY]
AnyApplication = Application[Any, Any, Any, Any, Any, Any]


class TelegramAdapter:
    """Long polling (or a webhook) feeding the engine's handler: chats side by side, each
    chat's updates one at a time and in order (`processor.py`)."""

    name = PLATFORM

    def __init__(
        self,
        settings: Settings,
        handler: MessageHandler,
        store: Store,
        *,
        limits: TelegramLimits | None = None,
        album_wait_s: float = ALBUM_WAIT_S,
        action_interval_s: float = ACTION_INTERVAL_S,
        poll_timeout_s: float = 10.0,
    ) -> None:
        if settings.telegram_bot_token is None:
            raise ValueError("TELEGRAM_BOT_TOKEN is not set")
        self._settings = settings
        self._handler = handler
        self._store = store
        self._limits = limits or TelegramLimits.for_settings(settings)
        self._action_interval_s = action_interval_s
        self._poll_timeout_s = poll_timeout_s
        self._albums = AlbumCollector(self._dispatch, album_wait_s)
        self._app = self._build(settings)
        self._app.add_handler(TypeHandler(Update, self._on_update))
        self._me: BotIdentity | None = None
        self._started = False

    @staticmethod
    def _build(settings: Settings) -> AnyApplication:
        assert settings.telegram_bot_token is not None
        return (
            ApplicationBuilder()
            .token(settings.telegram_bot_token.get_secret_value())
            .base_url(settings.telegram_api_base_url)
            .base_file_url(settings.telegram_file_base_url)
            .local_mode(settings.telegram_local_mode)
            .connect_timeout(10.0)
            .read_timeout(30.0)
            .write_timeout(30.0)
            .media_write_timeout(300.0)
            .concurrent_updates(ChatOrderedProcessor())
            .rate_limiter(rate_limiter())
            .build()
        )

    # --- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        """getMe, the command menu, then polling or the webhook; returns once receiving."""
        app = self._app
        self._started = True
        try:
            await self._initialize(app)
        except InvalidToken as exc:
            raise AdapterStartError(
                "Telegram refused TELEGRAM_BOT_TOKEN: check the token BotFather gave you "
                "(send /token to @BotFather to see it again)."
            ) from exc
        except NetworkError as exc:
            token = self._settings.telegram_bot_token
            detail = redact(str(exc), [token.get_secret_value()] if token else [])
            raise AdapterStartError(
                f"Could not reach the Telegram Bot API at "
                f"{self._settings.telegram_api_base_url} ({detail})."
            ) from exc
        self._me = BotIdentity.of(app.bot.bot)
        await self._set_commands()
        await app.start()
        assert app.updater is not None
        webhook_url = self._settings.telegram_webhook_url
        if webhook_url:
            secret = self._settings.telegram_webhook_secret
            await app.updater.start_webhook(
                listen=self._settings.telegram_webhook_listen,
                port=self._settings.telegram_webhook_port,
                url_path=urlsplit(webhook_url).path.lstrip("/"),
                webhook_url=webhook_url,
                allowed_updates=ALLOWED_UPDATES,
                secret_token=secret.get_secret_value() if secret else None,
            )
            log.info("Telegram: webhook on port %s", self._settings.telegram_webhook_port)
        else:
            await app.updater.start_polling(
                timeout=dtm.timedelta(seconds=self._poll_timeout_s),
                allowed_updates=ALLOWED_UPDATES,
                error_callback=self._on_polling_error,
            )
            log.info("Telegram: long polling as @%s", self._me.username)

    async def _initialize(self, app: Application[Any, Any, Any, Any, Any, Any]) -> None:
        try:
            await app.initialize()
        except BaseException:
            # A failed initialize leaves the bot's HTTP clients open, and nothing calls
            # stop() on an adapter that never started: close them here.
            self._started = False
            with contextlib.suppress(Exception):
                await app.bot.shutdown()
            raise

    async def stop(self) -> None:
        """Stop receiving, hand over albums still collecting, close the connection."""
        if not self._started:
            return
        self._started = False
        app = self._app
        if app.updater is not None and app.updater.running:
            await app.updater.stop()
        await self._albums.close()
        if app.running:
            await app.stop()
        await app.shutdown()

    async def _set_commands(self) -> None:
        for language, commands in texts.MENUS.items():
            menu = [BotCommand(name, about) for name, about in commands]
            try:
                await self._app.bot.set_my_commands(menu, language_code=language)
            except TelegramError as exc:
                # The menu is a convenience: the bot works without it.
                log.warning("Telegram setMyCommands (%s) failed: %s", language, exc.message)

    @staticmethod
    def _on_polling_error(exc: TelegramError) -> None:
        log.warning("Telegram polling error (retrying): %s", exc.message)

    # --- updates --------------------------------------------------------------------------

    async def _on_update(self, update: object, _context: ContextTypes.DEFAULT_TYPE) -> None:
        assert isinstance(update, Update)
        try:
            fresh = await self._store.mark_update(PLATFORM, str(update.update_id))
        except Exception:
            # Answering twice is better than never answering: handle it anyway.
            log.exception("Telegram: could not record update %s", update.update_id)
            fresh = True
        if not fresh:
            log.info("Telegram update %s was handled before; skipped", update.update_id)
            return
        if update.callback_query is not None:
            await self._on_button(update.callback_query)
        elif update.message is not None:
            message = update.message
            # Bots never see other bots' messages; a bot sender with a sender_chat is an
            # admin posting anonymously as the group, a person to answer.
            if message.from_user is None or (
                message.from_user.is_bot and message.sender_chat is None
            ):
                return
            if message.media_group_id is not None:
                self._albums.add(message)
            else:
                await self._dispatch([message])

    async def _dispatch(self, messages: list[Message]) -> None:
        """Hand one request to the engine, or refuse it with the limit before any download."""
        assert self._me is not None
        first = messages[0]
        language = first.from_user.language_code if first.from_user else None
        channel = self._channel(first.chat.id, topic_of(first))
        try:
            incoming = to_incoming(messages, self._me, file_fetcher(self._app.bot))
            too_big = oversized(incoming, self._limits.download_bytes)
            if too_big is not None:
                if incoming.addressed:
                    assert too_big.size is not None
                    log.info("Telegram: refused a %s byte file in %s", too_big.size, incoming.chat)
                    await channel.send_text(
                        say(
                            "download_too_large",
                            as_lang(language),
                            size=size(too_big.size),
                            limit=size(self._limits.download_bytes),
                        )
                    )
                return
            await self._handler(incoming, channel)
        except Exception:
            await self._apologize(channel, language)

    async def _on_button(self, query: CallbackQuery) -> None:
        message = query.message
        action = button_action(query.data)
        language = query.from_user.language_code
        known = action is not None
        try:
            await query.answer(None if known else say("stale_button", as_lang(language)))
        except TelegramError as exc:
            # Too late to answer (the spinner times out): the press still counts.
            log.info("Telegram answerCallbackQuery failed: %s", exc.message)
        if action is None or message is None:
            return
        channel = self._channel(
            message.chat.id, topic_of(message) if isinstance(message, Message) else None
        )
        incoming = IncomingMessage(
            chat=chat_key(message.chat),
            sender=sender_of(query.from_user),
            text=f"/{action}",
            is_group=is_group(message.chat),
            addressed=True,
        )
        try:
            await self._handler(incoming, channel)
        except Exception:
            await self._apologize(channel, language)

    def _channel(self, chat_id: int, thread_id: int | None) -> TelegramChannel:
        return TelegramChannel(
            self._app.bot,
            chat_id,
            self._limits,
            action_interval_s=self._action_interval_s,
            thread_id=thread_id,
        )

    @staticmethod
    async def _apologize(channel: TelegramChannel, language: str | None) -> None:
        log.exception("Telegram: handling a message failed")
        try:
            await channel.send_text(say("adapter_failed", as_lang(language)))
        except Exception:
            log.exception("Telegram: could not even say that handling failed")

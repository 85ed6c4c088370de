"""The Telegram `Adapter`: owns the PTB Application and its lifecycle in a shared loop."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dtm
import json
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from telegram import BotCommand, BotCommandScopeChat, CallbackQuery, Message, Update
from telegram.error import InvalidToken, NetworkError, TelegramError
from telegram.ext import Application, ApplicationBuilder, ContextTypes, TypeHandler

from bot.config import Settings
from bot.errors import AdapterStartError
from bot.logs import redact
from bot.ports.chat import Attachment, IncomingMessage, MessageHandler, ReplyAddress, button_action
from bot.ports.store import Store
from bot.words import as_lang, say, size

from . import texts
from .albums import ALBUM_WAIT_S, AlbumCollector
from .channel import ACTION_INTERVAL_S, TelegramChannel
from .convert import (
    PLATFORM,
    BotIdentity,
    chat_key,
    fetch_file,
    is_group,
    oversized,
    sender_of,
    to_incoming,
    topic_of,
)
from .flood import with_flood_retry
from .intake import DurableUpdateQueue
from .limits import TelegramLimits

log = logging.getLogger(__name__)

ALLOWED_UPDATES = [Update.MESSAGE, Update.CALLBACK_QUERY]
#: The store lock of the one process that long-polls; held for this long, renewed every
#: third of it: another process takes over within it (plus a third) when the holder dies.
POLL_LOCK = "telegram-poller"
POLL_LOCK_TTL_S = 15.0
AnyApplication = Application[Any, Any, Any, Any, Any, Any]


class TelegramAdapter:
    """Long polling (or a webhook) feeding the engine's handler, one update at a time."""

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
        # The update each message of an album waiting to be collected came in.
        self._album_updates: dict[tuple[int, int], int] = {}
        self._updates = DurableUpdateQueue(store)
        self._app = self._build(settings, self._updates)
        self._app.add_handler(TypeHandler(Update, self._on_update))
        self._me: BotIdentity | None = None
        self._started = False
        self._owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self._leading: asyncio.Task[None] | None = None

    @staticmethod
    def _build(settings: Settings, updates: DurableUpdateQueue) -> AnyApplication:
        assert settings.telegram_bot_token is not None
        return (
            ApplicationBuilder()
            .token(settings.telegram_bot_token.get_secret_value())
            .update_queue(updates)
            .base_url(settings.telegram_api_base_url)
            .base_file_url(settings.telegram_file_base_url)
            .local_mode(settings.telegram_local_mode)
            .connect_timeout(10.0)
            .read_timeout(30.0)
            .write_timeout(30.0)
            .media_write_timeout(300.0)
            .build()
        )

    # --- lifecycle ------------------------------------------------------------------------

    async def start(self, *, receive: bool = True) -> None:
        """getMe, the command menu, then polling or the webhook; returns once receiving.

        `receive=False` (a `clipbot worker`): the Bot API for sending only. With several
        processes on one database, one of them long-polls at a time (a lock in the
        store); another takes over within `POLL_LOCK_TTL_S` when it dies.
        """
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
        if not receive:
            log.info("Telegram: sending only (a worker)")
            return
        await self._set_commands()
        await app.start()
        assert app.updater is not None
        webhook_url = self._settings.telegram_webhook_url
        if not webhook_url:
            # The first try at once: a lone process polls as soon as `start` returns.
            await self._lead_once()
            self._leading = asyncio.create_task(self._lead(), name="telegram-poll-lock")
            return
        if await self._store.hold_lock(POLL_LOCK, self._owner, POLL_LOCK_TTL_S):
            # Every instance receives webhooks; one at a time handles what was kept.
            try:
                await self._replay()
            finally:
                await self._store.release_lock(POLL_LOCK, self._owner)
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

    async def _lead(self) -> None:
        """Hold the polling lock and poll, or wait for it; forever (cancelled at stop)."""
        while True:
            await asyncio.sleep(POLL_LOCK_TTL_S / 3)
            try:
                await self._lead_once()
            except Exception:
                log.warning("Telegram: the polling lock could not be checked", exc_info=True)

    async def _lead_once(self) -> None:
        updater = self._app.updater
        assert updater is not None
        assert self._me is not None
        held = await self._store.hold_lock(POLL_LOCK, self._owner, POLL_LOCK_TTL_S)
        if held and not updater.running:
            await self._replay()
            await updater.start_polling(
                timeout=dtm.timedelta(seconds=self._poll_timeout_s),
                allowed_updates=ALLOWED_UPDATES,
                error_callback=self._on_polling_error,
            )
            log.info("Telegram: long polling as @%s", self._me.username)
        elif not held and updater.running:
            await updater.stop()
            log.warning("Telegram: another process polls now; this one stopped polling")
        elif not held:
            log.debug("Telegram: another process polls; waiting to take over")

    async def _replay(self) -> None:
        """Updates kept but never handled (the process died first) are handled now,
        before Telegram sends anything new."""
        kept = await self._store.unhandled_updates(PLATFORM)
        updates = [Update.de_json(json.loads(payload), self._app.bot) for _, payload in kept]
        if updates:
            log.info("Telegram: handling %d update(s) kept from before a restart", len(updates))
            await self._updates.replay([u for u in updates if u is not None])

    async def stop_receiving(self) -> None:
        """Take no new updates (albums being collected are handed over); keep sending."""
        if self._leading is not None:
            self._leading.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._leading
            self._leading = None
        app = self._app
        if app.updater is not None and app.updater.running:
            await app.updater.stop()
        with contextlib.suppress(Exception):
            await self._store.release_lock(POLL_LOCK, self._owner)
        await self._albums.close()

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
        await self.stop_receiving()
        app = self._app
        if app.running:
            await app.stop()
        await app.shutdown()

    async def _set_commands(self) -> None:
        # An admin's private chat has the same id as the admin: their menu adds the
        # admin commands there, and nowhere else.
        admins = [int(a.partition(":")[2]) for a in self._settings.admins
                  if a.startswith(f"{PLATFORM}:") and a.partition(":")[2].isdigit()]  # fmt: skip
        menus = [(texts.MENUS, None)] + [(texts.ADMIN_MENUS, admin) for admin in admins]
        for by_language, chat_id in menus:
            for language, commands in by_language.items():
                menu = [BotCommand(name, about) for name, about in commands]
                try:
                    await with_flood_retry(
                        self._menu_setter(menu, language, chat_id), "setMyCommands"
                    )
                except TelegramError as exc:
                    # The menu is a convenience: the bot works without it.
                    log.warning("Telegram setMyCommands (%s) failed: %s", language, exc.message)

    def _menu_setter(
        self, menu: list[BotCommand], language: str | None, chat_id: int | None = None
    ) -> Callable[[], Awaitable[bool]]:
        scope = BotCommandScopeChat(chat_id) if chat_id is not None else None
        return lambda: self._app.bot.set_my_commands(menu, scope=scope, language_code=language)

    @staticmethod
    def _on_polling_error(exc: TelegramError) -> None:
        log.warning("Telegram polling error (retrying): %s", exc.message)

    # --- updates --------------------------------------------------------------------------

    async def _on_update(self, update: object, _context: ContextTypes.DEFAULT_TYPE) -> None:
        assert isinstance(update, Update)
        if update.callback_query is not None:
            if await self._on_button(update.callback_query):
                await self._handled([update.update_id])
        elif update.message is not None:
            message = update.message
            # Bots never see other bots' messages; a bot sender with a sender_chat is an
            # admin posting anonymously as the group, a person to answer.
            if message.from_user is None or (
                message.from_user.is_bot and message.sender_chat is None
            ):
                await self._handled([update.update_id])
            elif message.media_group_id is not None:
                # Handled once the whole album is queued (see `_dispatch`).
                self._album_updates[(message.chat.id, message.message_id)] = update.update_id
                self._albums.add(message)
            elif await self._dispatch([message]):
                await self._handled([update.update_id])
        else:
            await self._handled([update.update_id])

    async def _handled(self, update_ids: list[int]) -> None:
        for update_id in update_ids:
            try:
                await self._store.update_handled(PLATFORM, str(update_id))
            except Exception:
                # It is answered: at worst it is handled again after a restart.
                log.warning("Telegram: could not record update %s as handled", update_id)

    async def _dispatch(self, messages: list[Message]) -> bool:
        """Hand one request to the engine, or refuse it with the limit before any download.
        True when the update(s) need not be handled again."""
        assert self._me is not None
        first = messages[0]
        language = first.from_user.language_code if first.from_user else None
        channel = self._channel(first.chat.id, topic_of(first))
        album = [
            update_id
            for m in messages
            if (update_id := self._album_updates.pop((m.chat.id, m.message_id), None))
        ]
        try:
            incoming = to_incoming(messages, self._me)
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
            else:
                await self._handler(incoming, channel)
        except Exception:
            # Not queued: kept unhandled, so a restart tries it again.
            await self._apologize(channel, language)
            return False
        await self._handled(album)
        return True

    async def _on_button(self, query: CallbackQuery) -> bool:
        message = query.message
        action = button_action(query.data)
        language = query.from_user.language_code
        known = action is not None
        try:
            await with_flood_retry(
                lambda: query.answer(None if known else say("stale_button", as_lang(language))),
                "answerCallbackQuery",
            )
        except TelegramError as exc:
            # Too late to answer (the spinner times out): the press still counts.
            log.info("Telegram answerCallbackQuery failed: %s", exc.message)
        if action is None or message is None:
            return True
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
            return False
        return True

    # --- the platform, for the engine's workers ---------------------------------------------

    def channel_for(self, address: ReplyAddress) -> TelegramChannel:
        """The channel of a stored reply address (any process with the bot's token)."""
        thread = address.extra.get("thread")
        return self._channel(int(address.chat_id), int(thread) if thread else None)

    async def fetch(self, attachment: Attachment, dest: Path) -> None:
        """getFile and download an attachment by its file id."""
        await fetch_file(self._app.bot, attachment.ref, dest)

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

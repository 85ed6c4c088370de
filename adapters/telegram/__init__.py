"""The Telegram adapter, on python-telegram-bot 22 (long polling or a webhook)."""

from __future__ import annotations

from bot.config import Settings
from bot.ports.chat import Adapter, MessageHandler
from bot.ports.store import Store

from .runner import TelegramAdapter

__all__ = ["TelegramAdapter", "create_adapter"]


def create_adapter(settings: Settings, handler: MessageHandler, store: Store) -> Adapter:
    """The adapter the app wiring starts when TELEGRAM_BOT_TOKEN is set."""
    return TelegramAdapter(settings, handler, store)

"""The terminal chat: a first-class adapter for local use and a test double."""

from __future__ import annotations

from adapters.terminal.channel import TerminalChannel
from adapters.terminal.runner import TerminalAdapter
from bot.config import Settings
from bot.ports.chat import Adapter, MessageHandler
from bot.ports.store import Store

__all__ = ["TerminalAdapter", "TerminalChannel", "create_adapter"]


def create_adapter(settings: Settings, handler: MessageHandler, store: Store) -> Adapter:
    """The terminal adapter reading stdin and writing stdout."""
    return TerminalAdapter(handler, settings.data_dir, language=settings.default_language)

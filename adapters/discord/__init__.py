"""The Discord adapter (discord.py): slash commands, messages, persistent buttons."""

from __future__ import annotations

from adapters.discord.runner import DiscordAdapter
from bot.config import Settings
from bot.ports.chat import Adapter, MessageHandler
from bot.ports.store import Store

__all__ = ["DiscordAdapter", "create_adapter"]


def create_adapter(settings: Settings, handler: MessageHandler, store: Store) -> Adapter:
    """The Discord adapter for the app's wiring (needs DISCORD_BOT_TOKEN)."""
    return DiscordAdapter(settings, handler, store)

"""Durable intake: an update is kept in the store before Telegram may forget it.

python-telegram-bot's updater confirms updates (moves the getUpdates offset past them,
or answers the webhook 200) as soon as it has put them in the application's queue. So
that queue is this one: `put` first keeps the raw update in the store's inbox, and a
copy Telegram sends again is dropped there. An update stays unhandled until the adapter
has answered or queued it; at the next start, unhandled ones are handled again.
"""

from __future__ import annotations

import asyncio
import json
import logging

from telegram import Update

from bot.ports.store import Store

log = logging.getLogger(__name__)

PLATFORM = "telegram"


class DurableUpdateQueue(asyncio.Queue[object]):
    """The application's update queue, writing each update to the store first."""

    def __init__(self, store: Store) -> None:
        super().__init__()
        self._store = store

    async def put(self, item: object) -> None:
        """Keep the update, then queue it; an update received before is dropped."""
        if isinstance(item, Update):
            payload = json.dumps(item.to_dict(), ensure_ascii=False)
            if not await self._store.receive_update(PLATFORM, str(item.update_id), payload):
                log.info("Telegram update %s was received before; skipped", item.update_id)
                return
        await super().put(item)

    async def replay(self, updates: list[Update]) -> None:
        """Queue updates kept before a restart (already in the store)."""
        for update in updates:
            await super().put(update)

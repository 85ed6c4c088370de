"""python-telegram-bot's update processor for Clipbot: updates of different chats at once,
each chat's own updates one at a time and in order (`adapters.ordering.ChatOrder`)."""

from __future__ import annotations

from collections.abc import Awaitable, Coroutine
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

from adapters.ordering import ChatOrder

#: Updates being handled at once, all chats together. PTB counts an update that waits
#: behind its own chat's earlier one too, so this is far above the chats expected to be
#: busy at once: a chat flooding the bot must not take every place.
MAX_CONCURRENT_UPDATES = 4096


class ChatOrderedProcessor(BaseUpdateProcessor):
    """Handles each update in a task of its own (PTB's `concurrent_updates`), in the order
    of arrival within its chat. Updates without a chat are handled at once."""

    def __init__(self, max_concurrent_updates: int = MAX_CONCURRENT_UPDATES) -> None:
        super().__init__(max_concurrent_updates)
        self.order = ChatOrder()

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        """Await `coroutine` once the chat's earlier updates are done."""
        chat = update.effective_chat if isinstance(update, Update) else None
        if chat is None:
            await coroutine
            return
        # PTB creates the tasks in the order the updates came, and this runs before any
        # await: the ticket's place is the update's place.
        async with self.order.ticket(chat.id) as turn:
            try:
                await turn.wait()
            except BaseException:
                if isinstance(coroutine, Coroutine):
                    coroutine.close()  # never started: no "never awaited" warning
                raise
            await coroutine

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to free: PTB waits for the updates' tasks itself when it stops."""

"""Chats side by side, each chat's own messages one at a time and in arrival order.

A platform hands its events over concurrently (discord.py runs each in a task of its
own; python-telegram-bot does with `concurrent_updates`). A message that waits on a slow
call — a `/status` while Nemo is slow — must then hold up only its own chat: a ticket
taken when the event arrives is that chat's place in line, and the turn comes when the
chat's earlier tickets are done.
"""

from __future__ import annotations

import asyncio
from collections.abc import Hashable
from types import TracebackType


class ChatOrder:
    """Lines of tickets, one line per chat key."""

    def __init__(self) -> None:
        self._tails: dict[Hashable, asyncio.Future[None]] = {}

    def ticket(self, key: Hashable) -> Ticket:
        """A place at the end of `key`'s line, taken now: call it before anything that
        awaits, so that the order of the line is the order of arrival."""
        before = self._tails.get(key)
        mine: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._tails[key] = mine
        return Ticket(self, key, before, mine)

    @property
    def busy(self) -> int:
        """How many chats have a ticket not yet done."""
        return len(self._tails)

    def _forget(self, key: Hashable, mine: asyncio.Future[None]) -> None:
        if self._tails.get(key) is mine:
            del self._tails[key]


class Ticket:
    """One event's place in its chat's line; `async with` it, `await wait()` for the turn."""

    def __init__(
        self,
        order: ChatOrder,
        key: Hashable,
        before: asyncio.Future[None] | None,
        mine: asyncio.Future[None],
    ) -> None:
        self._order = order
        self._key = key
        self._before = before
        self._mine = mine

    async def wait(self) -> None:
        """Until every earlier ticket of the chat is done."""
        if self._before is not None and not self._before.done():
            # Shielded: a cancelled waiter must not cancel the ticket it waits behind.
            await asyncio.shield(self._before)

    def release(self) -> None:
        """Done: the next ticket's turn (once the earlier ones are done too, so a ticket
        given up early never lets a later one overtake)."""
        if self._mine.done():
            return
        if self._before is None or self._before.done():
            self._finish()
        else:
            self._before.add_done_callback(lambda _: self._finish())

    def _finish(self) -> None:
        if not self._mine.done():
            self._mine.set_result(None)
        self._order._forget(self._key, self._mine)

    async def __aenter__(self) -> Ticket:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()

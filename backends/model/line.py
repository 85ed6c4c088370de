"""The line in front of the device: one generation at a time, in arrival order across
chats, each waiting clip told how many are ahead of it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class _Ticket:
    __slots__ = ("moved",)

    def __init__(self) -> None:
        self.moved = asyncio.Event()


class Line:
    """A first-come, first-served queue for one device."""

    def __init__(self) -> None:
        self._tickets: list[_Ticket] = []

    def __len__(self) -> int:
        return len(self._tickets)

    @asynccontextmanager
    async def place(self) -> AsyncIterator[Place]:
        """Join the line; leaving the block (done, failed or cancelled) leaves it."""
        ticket = _Ticket()
        self._tickets.append(ticket)
        try:
            yield Place(self, ticket)
        finally:
            self._tickets.remove(ticket)
            for other in self._tickets:
                other.moved.set()

    def ahead(self, ticket: _Ticket) -> int:
        """How many clips are before `ticket` (0: its turn)."""
        return self._tickets.index(ticket)


class Place:
    """A clip's place in the line."""

    def __init__(self, line: Line, ticket: _Ticket) -> None:
        self._line = line
        self._ticket = ticket

    @property
    def ahead(self) -> int:
        """How many clips are before this one (0: its turn)."""
        return self._line.ahead(self._ticket)

    async def moves(self) -> AsyncIterator[int]:
        """Each new count of clips ahead, down to (not including) 0: iterate, then it
        is this clip's turn."""
        last = -1
        while True:
            # Cleared before reading: a move during the yield still wakes the wait.
            self._ticket.moved.clear()
            n = self.ahead
            if n == 0:
                return
            if n != last:
                last = n
                yield n
            await self._ticket.moved.wait()

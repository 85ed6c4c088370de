"""Albums: Telegram sends each picture of a media group as its own message; we wait
briefly for the rest and hand the engine one request."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from telegram import Message

log = logging.getLogger(__name__)

#: Telegram delivers an album's messages within a fraction of a second of each other.
ALBUM_WAIT_S = 1.0

Flush = Callable[[list[Message]], Awaitable[object]]


@dataclass
class _Group:
    messages: list[Message] = field(default_factory=list)
    last_seen: float = 0.0


class AlbumCollector:
    """Collects an album's messages until none came for `wait_s`, then flushes them."""

    def __init__(self, flush: Flush, wait_s: float = ALBUM_WAIT_S) -> None:
        self._flush = flush
        self._wait_s = wait_s
        self._groups: dict[tuple[int, str], _Group] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def add(self, message: Message) -> None:
        """Add one message that has a `media_group_id`."""
        assert message.media_group_id is not None
        key = (message.chat.id, message.media_group_id)
        loop = asyncio.get_running_loop()
        group = self._groups.get(key)
        if group is None:
            group = self._groups[key] = _Group()
            task = loop.create_task(self._wait_then_flush(key))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        group.messages.append(message)
        group.last_seen = loop.time()

    async def _wait_then_flush(self, key: tuple[int, str]) -> None:
        loop = asyncio.get_running_loop()
        while (group := self._groups.get(key)) is not None:
            # Each new picture pushes the deadline back, so a slow album stays whole.
            remaining = group.last_seen + self._wait_s - loop.time()
            if remaining <= 0:
                del self._groups[key]
                await self._flush(group.messages)
                return
            await asyncio.sleep(remaining)

    async def close(self) -> None:
        """Flush every album still collecting, now (on stop: no picture is dropped)."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        groups, self._groups = list(self._groups.values()), {}
        for group in groups:
            await self._flush(group.messages)

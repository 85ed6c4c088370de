"""Waking the workers of one process when there is new work (the stores of one process
use it; PostgreSQL adds LISTEN/NOTIFY between processes)."""

from __future__ import annotations

import asyncio
import contextlib


class Wakeup:
    """Every waiter wakes at the next `notify` (or at its timeout)."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        """Wake the tasks waiting now; later waiters wait for the next call."""
        self._event.set()
        self._event = asyncio.Event()

    async def wait(self, timeout_s: float) -> None:
        """Return at the next `notify`, or after `timeout_s`."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):
                await self._event.wait()

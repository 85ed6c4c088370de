"""Who spent the backend's credits: the balance is read when a user's request starts and
when it ends, and each drop is charged to the requests that ran meanwhile, shared equally
when several overlap. The backend tells no cost per request, so this is the measure."""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from bot.errors import ClipbotError
from bot.ports.backend import Backend
from bot.ports.store import Store

log = logging.getLogger(__name__)

#: How long a balance read for the quota check at intake is taken as current.
BALANCE_FRESH_S = 60.0


class CreditMeter:
    """Charges users' requests with the credits the balance lost while they ran."""

    def __init__(
        self, backend: Backend, store: Store, clock: Callable[[], float] = time.time
    ) -> None:
        self._backend = backend
        self._store = store
        self._clock = clock
        self._running: dict[int, str] = {}
        self._tokens = itertools.count()
        # One read at a time, so that each drop is charged once, to the right requests.
        self._lock = asyncio.Lock()
        self._last: int | None = None
        self._read_at = float("-inf")
        #: False once the backend said its credits are unlimited (the local renderer).
        self.counts = True

    async def available(self) -> int | None:
        """The balance, read at most every `BALANCE_FRESH_S`; None when unknown or
        unlimited."""
        if self.counts and self._clock() - self._read_at > BALANCE_FRESH_S:
            await self._read()
        return self._last if self.counts else None

    @asynccontextmanager
    async def metered(self, user: str) -> AsyncIterator[None]:
        """Charge what the balance loses while the block runs to `user` (in part, when
        others' requests run at the same time)."""
        if not self.counts:
            yield
            return
        token = next(self._tokens)

        async def begin() -> None:
            await self._read()
            self._running[token] = user

        # Read in the background: the user's first reply must not wait on the backend.
        started = asyncio.create_task(begin())
        try:
            yield
        finally:
            try:
                await started
                await self._read()
            except Exception:
                log.exception("could not measure the credits %s spent", user)
            finally:
                self._running.pop(token, None)

    async def _read(self) -> None:
        async with self._lock:
            try:
                balance = await self._backend.credits()
            except ClipbotError as exc:
                # The drop is charged at the next read that works.
                log.warning("credit balance unreadable: %s", exc)
                return
            if balance.unlimited or balance.available is None:
                self.counts = False
                return
            now = self._clock()
            self._read_at = now
            if self._last is not None and self._running and balance.available < self._last:
                share = (self._last - balance.available) / len(self._running)
                for user in self._running.values():
                    await self._store.add_credit_spend(user, share, now)
            self._last = balance.available

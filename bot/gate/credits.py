"""Who spent the backend's credits. The backend tells no cost per request, so the balance
is read around the requests: each drop between two readings is charged to the requests
that ran in between, shared equally when several did.

One reader reads for everyone, as soon as a request starts or ends; requests that start
or end together share a reading, so a burst of two hundred requests costs a few reads,
not four hundred. Nothing waits on it before the user's first reply: a request that
starts asks for the reading that marks its beginning and goes on (its upload comes
before anything it spends; should the reading come later, the drop goes to those that
ran before it). One that ends waits, briefly, for the reading that charges it; at intake
the quota check takes the last reading as it is.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from typing import Literal

from bot.ports.backend import Backend
from bot.ports.store import Store

log = logging.getLogger(__name__)

#: How long a reading counts as the current balance for the quota check.
BALANCE_FRESH_S = 60.0
#: The longest a request waits on a reading, when starting or ending.
READING_WAIT_S = 5.0

Phase = Literal["joining", "running", "leaving"]


@dataclass(slots=True)
class _Request:
    user: str
    phase: Phase = "joining"
    #: resolved by the reading that starts (joining) or charges (leaving) it
    read: asyncio.Future[None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class CreditMeter:
    """Charges users' requests with the credits the balance lost while they ran."""

    def __init__(
        self, backend: Backend, store: Store, clock: Callable[[], float] = time.time
    ) -> None:
        self._backend = backend
        self._store = store
        self._clock = clock
        self._requests: dict[int, _Request] = {}
        self._tokens = itertools.count()
        self._reader: asyncio.Task[None] | None = None
        self._again = False
        self._last: int | None = None
        self._read_at = float("-inf")
        #: False once the backend said its credits are unlimited (the local renderer).
        self.counts = True

    async def available(self) -> int | None:
        """The last balance read, without waiting (a stale one asks for a new reading);
        None when unknown yet, or unlimited."""
        if not self.counts:
            return None
        if self._clock() - self._read_at > BALANCE_FRESH_S:
            self._wake()
        return self._last

    @asynccontextmanager
    async def metered(self, user: str) -> AsyncIterator[None]:
        """Charge what the balance loses while the block runs to `user` (in part, when
        others' requests run at the same time)."""
        if not self.counts:
            yield
            return
        token = next(self._tokens)
        self._requests[token] = request = _Request(user)
        self._wake()
        try:
            yield
        finally:
            request.phase = "leaving"
            request.read = asyncio.get_running_loop().create_future()
            self._wake()
        # Not reached when the request was cancelled: a shutdown does not wait on it.
        await self._await_reading(request)

    async def settled(self) -> None:
        """Wait until no reading is asked for or under way."""
        while self._reader is not None and not self._reader.done():
            await asyncio.shield(self._reader)

    async def aclose(self) -> None:
        """Stop reading."""
        if self._reader is not None:
            self._reader.cancel()
            with suppress(asyncio.CancelledError):
                await self._reader

    async def _await_reading(self, request: _Request) -> None:
        self._wake()
        try:
            async with asyncio.timeout(READING_WAIT_S):
                await asyncio.shield(request.read)
        except TimeoutError:
            # The backend is slow to tell: the request goes on, the next reading counts.
            log.warning("credit balance: no reading within %.0f s", READING_WAIT_S)

    def _wake(self) -> None:
        self._again = True
        if self._reader is None or self._reader.done():
            self._reader = asyncio.create_task(self._read_while_asked())

    async def _read_while_asked(self) -> None:
        while self._again and self.counts:
            self._again = False
            await self._read()

    async def _read(self) -> None:
        seen = [(token, request, request.phase) for token, request in self._requests.items()]
        try:
            balance = await self._backend.credits()
        except Exception as exc:
            # Nothing is charged or started: the next reading covers the same time.
            log.warning("credit balance unreadable: %s: %s", type(exc).__name__, exc)
            return
        if balance.unlimited or balance.available is None:
            self.counts = False
            for request in self._requests.values():
                _resolve(request.read)
            self._requests.clear()
            return
        now = self._clock()
        payers = [request.user for _, request, phase in seen if phase != "joining"]
        if self._last is not None and payers and balance.available < self._last:
            share = (self._last - balance.available) / len(payers)
            for user in payers:
                try:
                    await self._store.add_credit_spend(user, share, now)
                except Exception:
                    log.exception("could not record the credits %s spent", user)
        self._last, self._read_at = balance.available, now
        for token, request, phase in seen:
            if phase == "leaving":
                del self._requests[token]
            elif phase == "joining" and request.phase == "joining":
                request.phase = "running"
            else:
                continue  # running, or it left while this reading was under way
            _resolve(request.read)


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)

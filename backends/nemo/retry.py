"""When a Nemo call is made again: the one-time remedies of every call, and the retries
of reads.

Remedies (`Remedies`, at most once each per call): error 1001 → a fresh anonymous token;
HTTP 400 "missing client id" → send one; HTTP 429 → wait as asked, then once more.

Read retries (`ReadRetry`): jittered exponential backoff (stamina), `Retry-After`
honoured, for the state, the credits, a render's status and downloads — asking again
changes nothing on Nemo's side. A chat turn, an upload or a render submit is never sent
again by this layer (a second turn would run, and be charged, twice).
"""

from __future__ import annotations

import asyncio
import datetime as dtm
import email.utils
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

import stamina

from backends.nemo.identity import NemoIdentity
from backends.nemo.wire import MissingClientId
from bot.errors import BackendError, RateLimited, TokenError, Unavailable

log = logging.getLogger(__name__)

T = TypeVar("T")


def retry_after_seconds(
    headers: Mapping[str, str], now: dtm.datetime | None = None
) -> float | None:
    """The wait a `Retry-After` header asks for (seconds or an HTTP date), if any."""
    value = headers.get("retry-after", "").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dtm.UTC)
    return max(0.0, (when - (now or dtm.datetime.now(dtm.UTC))).total_seconds())


@dataclass(frozen=True, slots=True)
class ReadRetry:
    """How a read that failed for a passing reason is tried again.

    Up to `attempts` tries within `window_s` seconds, waiting `backoff_s`, then twice as
    long each time (at most 16×), plus up to `backoff_s` of random jitter so that many
    chats hit by one blink do not come back in step. A 429 waits what `Retry-After`
    says (`rate_limit_wait_s` without one), or fails at once when that is past the window.
    """

    attempts: int = 5
    backoff_s: float = 0.5
    window_s: float = 60.0
    rate_limit_wait_s: float = 30.0

    async def run(self, call: Callable[[], Awaitable[T]], what: str) -> T:
        """`call()`, tried again on `Unavailable` and `RateLimited` within the limits."""

        def backoff(exc: Exception) -> bool | float:
            wait = self.wait_for(exc)
            if wait is not False:
                log.info("Nemo %s failed (%s); trying again", what, exc)
            return wait

        async for attempt in stamina.retry_context(
            on=backoff,
            attempts=max(1, self.attempts),
            timeout=self.window_s,
            wait_initial=self.backoff_s,
            wait_max=self.backoff_s * 16,
            wait_jitter=self.backoff_s,
        ):
            with attempt:
                return await call()
        raise AssertionError("unreachable")  # pragma: no cover: stamina re-raises

    def wait_for(self, exc: BaseException) -> bool | float:
        """False: give up; True: the backoff; a number: that many seconds."""
        if isinstance(exc, RateLimited):
            wait = exc.retry_after_s if exc.retry_after_s is not None else self.rate_limit_wait_s
            return wait if wait <= self.window_s else False
        return isinstance(exc, Unavailable)


@dataclass(slots=True)
class Remedies:
    """The one-time remedies of one call; `reads` leaves 429s to `ReadRetry`."""

    identity: NemoIdentity
    rate_limit_wait_s: float
    reads: bool = False
    used: set[str] = field(default_factory=set)

    async def apply(self, exc: BackendError, token: str | None) -> None:
        """Apply the remedy for `exc` (the call is then made again), or raise it."""
        if isinstance(exc, TokenError) and "token" not in self.used and self.identity.anonymous:
            self.used.add("token")
            log.info("Nemo: token rejected, getting a fresh anonymous token")
            await self.identity.refresh(token)
        elif isinstance(exc, MissingClientId) and "client" not in self.used:
            self.used.add("client")
            log.info("Nemo: asked for a client id; sending one")
            await self.identity.client_id()
        elif isinstance(exc, RateLimited) and not self.reads and "rate" not in self.used:
            self.used.add("rate")
            wait = self.rate_limit_wait_s if exc.retry_after_s is None else exc.retry_after_s
            log.info("Nemo: rate limited; waiting %.3g s", wait)
            await asyncio.sleep(wait)
        elif isinstance(exc, MissingClientId):
            raise Unavailable(str(exc), status=exc.status) from exc
        else:
            raise exc

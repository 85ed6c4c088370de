"""Flood control: a Bot API call that answers 429 is waited out and tried again."""

from __future__ import annotations

import asyncio
import datetime as dtm
import logging
import warnings
from collections.abc import Awaitable, Callable
from typing import TypeVar

from telegram.error import RetryAfter
from telegram.warnings import PTBDeprecationWarning

from bot import metrics

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Enough for a burst of flood waits; a chat that is still limited after this many
#: waits is broken in a way waiting does not fix.
MAX_ATTEMPTS = 6


def retry_after_seconds(exc: RetryAfter) -> float:
    """The wait Telegram asked for, in seconds, whatever type PTB gives it."""
    with warnings.catch_warnings():
        # PTB 22 warns that `retry_after` will become a timedelta; we accept both.
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value: int | float | dtm.timedelta = exc.retry_after
    if isinstance(value, dtm.timedelta):
        return value.total_seconds()
    return float(value)


async def with_flood_retry(call: Callable[[], Awaitable[T]], what: str) -> T:
    """Run `call`; on 429 sleep for `retry_after` and run it again (never lose a reply)."""
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            return await call()
        except RetryAfter as exc:
            if attempt == MAX_ATTEMPTS:
                raise
            wait = retry_after_seconds(exc)
            log.warning("Telegram flood control on %s: waiting %.1f s", what, wait)
            metrics.rate_limited("telegram", wait)
            await asyncio.sleep(wait)
    raise AssertionError("unreachable")  # pragma: no cover

"""Flood control from the library: python-telegram-bot's `AIORateLimiter`.

It paces requests before Telegram complains (30 a second for the whole bot, 20 a minute
per group, Telegram's published limits) and, when Telegram still answers 429, waits the
`retry_after` it gives and sends the same request again, so no reply is lost. While such a
wait runs it holds back every other request of the bot too (not getUpdates): Telegram's
flood control is per bot, and sending on elsewhere only earns longer waits.
"""

from __future__ import annotations

import logging

from telegram.ext import AIORateLimiter

from bot import metrics

#: The logger python-telegram-bot's rate limiter writes to.
LIMITER_LOGGER = "telegram.ext.AIORateLimiter"

#: Enough for a burst of flood waits; a request that is still limited after this many
#: waits is broken in a way waiting does not fix (it then fails as `RetryAfter`).
MAX_RETRIES = 5


def rate_limiter() -> AIORateLimiter:
    """The bot's rate limiter (one per bot: its limits are the bot's)."""
    return AIORateLimiter(max_retries=MAX_RETRIES)


class FloodWaitCounter(logging.Handler):
    """Counts the 429 waits the rate limiter takes, for the metrics: it tells only its log
    ("Rate limit hit. Retrying after N seconds")."""

    def emit(self, record: logging.LogRecord) -> None:
        args = record.args
        if not (str(record.msg).startswith("Rate limit hit.") and isinstance(args, tuple)):
            return
        if args and isinstance(args[0], int | float):
            metrics.rate_limited("telegram", float(args[0]))


def count_flood_waits() -> None:
    """Install the counter on the rate limiter's logger, once per process."""
    logger = logging.getLogger(LIMITER_LOGGER)
    if not any(isinstance(h, FloodWaitCounter) for h in logger.handlers):
        logger.addHandler(FloodWaitCounter(logging.INFO))
        if logger.getEffectiveLevel() > logging.INFO:
            logger.setLevel(logging.INFO)

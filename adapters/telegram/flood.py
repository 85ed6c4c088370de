"""Flood control from the library: python-telegram-bot's `AIORateLimiter`.

It paces requests before Telegram complains (30 a second for the whole bot, 20 a minute
per group, Telegram's published limits) and, when Telegram still answers 429, waits the
`retry_after` it gives and sends the same request again, so no reply is lost. While such a
wait runs it holds back every other request of the bot too (not getUpdates): Telegram's
flood control is per bot, and sending on elsewhere only earns longer waits.
"""

from __future__ import annotations

from telegram.ext import AIORateLimiter

#: Enough for a burst of flood waits; a request that is still limited after this many
#: waits is broken in a way waiting does not fix (it then fails as `RetryAfter`).
MAX_RETRIES = 5


def rate_limiter() -> AIORateLimiter:
    """The bot's rate limiter (one per bot: its limits are the bot's)."""
    return AIORateLimiter(max_retries=MAX_RETRIES)

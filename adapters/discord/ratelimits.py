"""Discord's rate-limit waits, counted for the metrics. discord.py waits out a 429 on its
own and tells only its log ("We are being rate limited. … Retrying in N seconds."), so a
handler on its HTTP logger reads those lines; nothing else is done with them."""

from __future__ import annotations

import logging

from bot import metrics

#: The logger discord.py's HTTP client writes to.
HTTP_LOGGER = "discord.http"
_PREFIX = "We are being rate limited."


class RateLimitCounter(logging.Handler):
    """Counts each 429 that discord.py is about to wait out, and the seconds."""

    def emit(self, record: logging.LogRecord) -> None:
        message = str(record.msg)
        args = record.args
        if not (message.startswith(_PREFIX) and "Retrying in" in message):
            return
        if isinstance(args, tuple) and args and isinstance(args[-1], int | float):
            metrics.rate_limited("discord", float(args[-1]))


def count_rate_limits() -> None:
    """Install the counter on discord.py's HTTP logger, once per process."""
    logger = logging.getLogger(HTTP_LOGGER)
    if not any(isinstance(h, RateLimitCounter) for h in logger.handlers):
        logger.addHandler(RateLimitCounter(logging.WARNING))

"""Logging set-up: plain lines or one JSON object per line (CLIPBOT_LOG_FORMAT), and a
filter that keeps secrets out of every line in either format."""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Iterable
from typing import Literal

# Shapes of tokens we know, redacted even when they are not configured secrets
# (a token the backend just issued, a token inside a URL a library logs).
_TOKEN_SHAPES = re.compile(
    r"nmv_usr_[A-Za-z0-9_-]+"  # Nemo user tokens
    # Telegram bot tokens, also right after the "/bot" of a Bot API URL (no \b there)
    r"|(?<![0-9])\d{6,12}:[A-Za-z0-9_-]{30,}"
    # Discord bot tokens: the base64 bot id starts with M, N or O
    r"|[MNO][A-Za-z0-9_-]{23,25}\.[A-Za-z0-9_-]{6}\.[A-Za-z0-9_-]{27,}"
    r"|(?<=Bearer )[A-Za-z0-9._~+/=-]+"
)
REDACTED = "[redacted]"


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with every given secret and every known token shape replaced."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return _TOKEN_SHAPES.sub(REDACTED, text)


class RedactingFilter(logging.Filter):
    """Rewrites each record's final message with secrets redacted."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def add_secret(self, secret: str) -> None:
        """Redact this value too from now on (a token obtained at run time)."""
        if secret and secret not in self.secrets:
            self.secrets.append(secret)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        cleaned = redact(message, self.secrets)
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, None
        if record.exc_text:
            record.exc_text = redact(record.exc_text, self.secrets)
        return True


_FILTER = RedactingFilter()


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, and the
    traceback as `exc` when there is one. Only fields the redaction filter has cleaned go
    out, and the encoded line is redacted once more (a secret split by JSON escapes)."""

    def __init__(self, redactor: RedactingFilter) -> None:
        super().__init__()
        self._redactor = redactor

    def format(self, record: logging.LogRecord) -> str:
        seconds = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        entry: dict[str, object] = {
            "time": f"{seconds}.{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exc"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        line = json.dumps(entry, ensure_ascii=False)
        return redact(line, self._redactor.secrets)


def redaction_filter() -> RedactingFilter:
    """The process-wide filter (so a client can register a token it obtains)."""
    return _FILTER


def setup_logging(
    level: str = "INFO", secrets: Iterable[str] = (), fmt: Literal["text", "json"] = "text"
) -> None:
    """Configure the root logger once: plain lines or JSON, and the redaction filter."""
    for secret in secrets:
        _FILTER.add_secret(secret)
    handler = logging.StreamHandler()
    if fmt == "json":
        handler.setFormatter(JsonFormatter(_FILTER))
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(_FILTER)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # httpx logs every request URL at INFO; keep it at WARNING.
    logging.getLogger("httpx").setLevel(logging.WARNING)

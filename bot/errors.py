"""The error tree of Clipbot. Backends raise these; the engine turns each into one
clear message for the user and one log line for the operator.

    ClipbotError
    ├── BadInput                  the user's file or words cannot be used
    │   └── BadImage              not an image, truncated, a bomb, too small ...
    ├── AdapterStartError         a platform refused the token or cannot be reached
    ├── BackendStartError         the backend cannot start (the model backend: no model, no GPU)
    └── BackendError              a backend could not do what was asked
        ├── TokenError            1001: bad or expired token (after one refresh)
        ├── SessionLost           1002: the backend forgot the session
        ├── NoCredits             2001: out of credits (carries the registration link)
        ├── UnsupportedFile       4001: a format the backend does not take
        ├── FileTooLarge          4002, or refused before sending (carries the limit)
        ├── ExportNotAllowed      HTTP 402: the plan does not allow export
        ├── RateLimited           HTTP 429, still limited after waiting once
        ├── Unavailable           network failure, 5xx, a dropped connection
        │   └── StreamDropped     the chat stream broke off mid-turn
        ├── TurnTimeout           a turn outlasted its limit (or only keep-alives came)
        ├── RenderFailed          an export ended in failure
        │   └── OutOfMemory       the model's device ran out of memory for this clip
        ├── NothingToExport       the draft has no track with segments
        └── ProtocolError         an answer of a shape we do not know (names the field)

Messages never contain a token: errors are built from codes and server messages only.
"""

from __future__ import annotations

from bot.words import Lang, say

#: Formats the Nemo backend accepts (from its documentation).
NEMO_FORMATS = (
    "mp4", "mov", "avi", "webm", "mkv", "jpg", "png", "gif", "webp", "mp3", "wav", "m4a", "aac",
)  # fmt: skip


class ClipbotError(Exception):
    """Base of every error Clipbot raises on purpose."""


class BadInput(ClipbotError):
    """The user's input cannot be used. `key` names the text in `bot.words` that says
    why, filled from `values`; `str(exc)` is its English (for the log)."""

    def __init__(self, key: str, **values: object) -> None:
        self.key = key
        self.values = values
        super().__init__(self.in_language("en"))

    def in_language(self, lang: Lang) -> str:
        """The message in the chat's language."""
        return say(self.key, lang, **self.values)


class BadImage(BadInput):
    """An image that cannot be turned into a clip (the message says why)."""


class AdapterStartError(ClipbotError):
    """A platform adapter could not start; `str(exc)` tells the operator what to check
    and never contains the token."""


class BackendStartError(ClipbotError):
    """The configured backend cannot start; `str(exc)` is one line telling the operator
    what to check (the model backend: the folder, the family, the device)."""


class BackendError(ClipbotError):
    """A backend could not do what was asked."""

    def __init__(self, message: str, *, code: int | None = None, status: int | None = None):
        super().__init__(message)
        self.code = code
        self.status = status


class TokenError(BackendError):
    """The token is bad or expired, and getting a fresh one did not help."""


class SessionLost(BackendError):
    """The backend no longer knows the session; a new one is needed."""


class NoCredits(BackendError):
    """Out of credits. `register_url` is set for anonymous users."""

    def __init__(self, message: str, *, register_url: str | None = None, **kw: int | None):
        super().__init__(message, **kw)
        self.register_url = register_url


class UnsupportedFile(BackendError):
    """The backend does not take this kind of file."""

    def __init__(self, message: str, *, formats: tuple[str, ...] = NEMO_FORMATS, **kw: int | None):
        super().__init__(message, **kw)
        self.formats = formats


class FileTooLarge(BackendError):
    """The file is over the backend's (or the platform's) limit, in bytes."""

    def __init__(self, message: str, *, limit_bytes: int, **kw: int | None):
        super().__init__(message, **kw)
        self.limit_bytes = limit_bytes


class ExportNotAllowed(BackendError):
    """HTTP 402: the plan does not allow export. Not a credits problem."""


class RateLimited(BackendError):
    """HTTP 429, still limited after waiting once."""

    #: The wait the backend asked for (`Retry-After`), when it said.
    retry_after_s: float | None = None


class Unavailable(BackendError):
    """The backend cannot be reached or answered with a server error."""


class StreamDropped(Unavailable):
    """The chat stream closed abnormally while the turn may still be running."""


class TurnTimeout(BackendError):
    """A turn ran past its limit, or only keep-alives came for too long."""


class RenderFailed(BackendError):
    """An export ended in failure."""


class OutOfMemory(RenderFailed):
    """The model's device ran out of memory during a clip; the model stays loaded."""


class NothingToExport(BackendError):
    """The draft has nothing to export yet."""


class ProtocolError(BackendError):
    """The backend answered in a shape we do not know; `field` names what was wrong."""

    def __init__(self, message: str, *, field: str, **kw: int | None):
        super().__init__(f"{message} (field: {field})", **kw)
        self.field = field

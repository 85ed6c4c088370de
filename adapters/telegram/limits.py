"""The file-size limits of the Bot API, public or self-hosted."""

from __future__ import annotations

from dataclasses import dataclass

from bot.config import Settings

MB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class TelegramLimits:
    """How big a file the bot may fetch from users and send to them, in bytes."""

    download_bytes: int
    upload_bytes: int

    @classmethod
    def for_settings(cls, settings: Settings) -> TelegramLimits:
        """20 MB in / 50 MB out on the public API; 200 MB / 2000 MB on a local server."""
        if settings.telegram_local_mode:
            return cls(download_bytes=200 * MB, upload_bytes=2000 * MB)
        return cls(download_bytes=20 * MB, upload_bytes=50 * MB)

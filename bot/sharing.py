"""Share links: a clip too big for its chat is kept for a while and served by the side
server at an unguessable URL that expires.

Each link is two files in `CLIPBOT_DATA_DIR/shared/`: ``<id>.mp4`` and ``<id>.json`` (the
SHA-256 of the link's secret and when it expires). The link and the file live and go
together on the disk that serves them; the secret itself is kept nowhere.

    https://clips.example.com/clips/<id>/<secret>.mp4
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from bot.config import Settings

log = logging.getLogger(__name__)

#: The route the side server serves links on.
ROUTE = "/clips/{link_id}/{secret}.mp4"
_ID = re.compile(r"^[0-9a-f]{16}$")
_SECRET = re.compile(r"^[A-Za-z0-9_-]{20,64}$")
#: A clip file without its record (a crash between the two writes) goes after this.
ORPHAN_AGE_S = 3600.0


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class ShareLinks:
    """Makes, checks and expires share links."""

    def __init__(
        self,
        folder: Path,
        public_url: str,
        ttl_s: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.folder = folder
        self._base = public_url.rstrip("/")
        self.ttl_s = ttl_s
        self._clock = clock

    @classmethod
    def from_settings(cls, settings: Settings) -> ShareLinks | None:
        """Links need both a public address and the side server that answers there."""
        if not settings.public_url or settings.http_port is None:
            return None
        return cls(
            settings.data_dir / "shared", settings.public_url, settings.link_ttl_hours * 3600
        )

    @property
    def ttl_hours(self) -> str:
        """How long a link works, in hours, as said in the chat ("24", "0.5")."""
        return f"{self.ttl_s / 3600:.1f}".removesuffix(".0")

    async def share(self, clip: Path) -> str:
        """Move `clip` to the shared folder and return its link."""
        return await asyncio.to_thread(self._share, clip)

    def _share(self, clip: Path) -> str:
        self.folder.mkdir(parents=True, exist_ok=True)
        self._prune()
        link_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
        target = self.folder / f"{link_id}.mp4"
        shutil.move(clip, target)
        record = {"sha256": _digest(secret), "expires_at": self._clock() + self.ttl_s}
        partial = self.folder / f"{link_id}.json.part"
        partial.write_text(json.dumps(record), encoding="utf-8")
        os.replace(partial, self.folder / f"{link_id}.json")
        log.info("share link %s: %d bytes for %s h", link_id, target.stat().st_size, self.ttl_hours)
        return f"{self._base}/clips/{link_id}/{secret}.mp4"

    def resolve(self, link_id: str, secret: str) -> Path | None:
        """The clip a link names, or None when the link is unknown, wrong or expired."""
        if not _ID.match(link_id) or not _SECRET.match(secret):
            return None
        try:
            record = json.loads((self.folder / f"{link_id}.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        # Constant time: how much of a guessed secret is right must not show in the timing.
        if not hmac.compare_digest(str(record.get("sha256", "")), _digest(secret)):
            return None
        if float(record.get("expires_at", 0)) <= self._clock():
            return None
        clip = self.folder / f"{link_id}.mp4"
        return clip if clip.is_file() else None

    async def prune(self) -> int:
        """Delete expired links and their clips; returns how many went."""
        return await asyncio.to_thread(self._prune)

    def _prune(self) -> int:
        if not self.folder.is_dir():
            return 0
        now, gone = self._clock(), 0
        for record in self.folder.glob("*.json"):
            try:
                expires = float(json.loads(record.read_text(encoding="utf-8"))["expires_at"])
            except (OSError, ValueError, KeyError, TypeError):
                expires = 0.0
            if expires <= now:
                (self.folder / f"{record.stem}.mp4").unlink(missing_ok=True)
                record.unlink(missing_ok=True)
                gone += 1
        for clip in self.folder.glob("*.mp4"):
            orphan = not (self.folder / f"{clip.stem}.json").exists()
            if orphan and time.time() - clip.stat().st_mtime > ORPHAN_AGE_S:
                clip.unlink(missing_ok=True)
        if gone:
            log.info("share links: %d expired and deleted", gone)
        return gone

"""The HTTP side server of a public bot: health, metrics, share links, the status page."""

from __future__ import annotations

from bot.web.server import SideServer

__all__ = ["SideServer"]

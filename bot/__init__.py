"""Clipbot: turn a photo sent to a chat bot into an animated MP4 clip."""

from __future__ import annotations

__version__ = "0.1.0"

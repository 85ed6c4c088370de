"""What the parts of the engine hand each other: the shared dependencies, one queued
request, and the request while it runs."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from bot.config import Settings
from bot.ports.backend import Backend
from bot.ports.chat import ChatKey, IncomingMessage, OutgoingChannel
from bot.ports.store import Store
from bot.progress import StatusReporter
from bot.routing import Route
from bot.sessions import Sessions
from bot.words import Lang


@dataclass(frozen=True, slots=True)
class Deps:
    """What every part of the engine uses."""

    settings: Settings
    backend: Backend
    store: Store
    sessions: Sessions


@dataclass(slots=True)
class Work:
    """One queued request of a chat."""

    message: IncomingMessage
    channel: OutgoingChannel
    route: Route
    lang: Lang
    request_id: int | None = None
    # True while its clip is being rendered (the only part /new may stop).
    exporting: bool = False
    # Both the intake (for a queued request) and the lane may record the request first.
    recording: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def chat(self) -> ChatKey:
        """The chat the request came from."""
        return self.message.chat


@dataclass(slots=True)
class Turn:
    """A request while it runs: the work and its status message."""

    work: Work
    reporter: StatusReporter

    @property
    def chat(self) -> ChatKey:
        """The chat the request came from."""
        return self.work.message.chat

    @property
    def lang(self) -> Lang:
        """The language to answer in."""
        return self.work.lang

    @property
    def channel(self) -> OutgoingChannel:
        """Where the answers go."""
        return self.work.channel

"""What the parts of the engine hand each other: the shared dependencies, one queued
request, and the request while it runs."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from bot.config import Settings
from bot.gate import Gate
from bot.ports.backend import Backend
from bot.ports.chat import ChatKey, IncomingMessage, OutgoingChannel
from bot.ports.store import Store
from bot.progress import StatusReporter
from bot.routing import Route
from bot.sessions import Sessions
from bot.sharing import ShareLinks
from bot.words import Lang


@dataclass(frozen=True, slots=True)
class Deps:
    """What every part of the engine uses."""

    settings: Settings
    backend: Backend
    store: Store
    sessions: Sessions
    #: access, quotas and the usage they count (a public bot)
    gate: Gate
    #: where a clip too big for its chat is shared; None without a side server
    links: ShareLinks | None = None


@dataclass(slots=True)
class Work:
    """One queued request of a chat."""

    message: IncomingMessage
    channel: OutgoingChannel
    route: Route
    lang: Lang
    request_id: int | None = None
    #: when the message arrived (Unix time): the start of the time to the clip
    received_at: float = field(default_factory=time.time)
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

"""What the parts of the engine hand each other: the shared dependencies, a request
while it runs (decoded from the store, with its checkpoint), and its status message."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from bot.config import Settings
from bot.gate import Gate
from bot.ports.backend import Backend
from bot.ports.chat import ChatKey, IncomingMessage, OutgoingChannel, ReplyAddress
from bot.ports.store import Step, Store
from bot.progress import StatusReporter
from bot.routing import Route
from bot.sessions import Sessions
from bot.sharing import ShareLinks
from bot.words import Lang


class LeaseLost(Exception):
    """This process no longer holds the request (its lease ran out and another worker
    took it over): stop here, saying nothing, recording nothing."""


@dataclass(frozen=True, slots=True)
class Received:
    """A request received in this process, while it waits or runs here: the channel it
    came on, and the acknowledgement on its way (its message becomes the status)."""

    channel: OutgoingChannel
    ack: asyncio.Future[str | None] | None = None


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


#: Persists a request's step and checkpoint; raises `LeaseLost` when it is no longer ours.
SaveFn = Callable[["Work", Step], Awaitable[None]]


@dataclass(slots=True)
class Work:
    """One request while it runs: the message, where to answer, how far it got."""

    request_id: int
    message: IncomingMessage
    address: ReplyAddress
    route: Route
    lang: Lang
    channel: OutgoingChannel
    step: Step = "start"
    #: What a resume needs (status message, project before the turn, render id …).
    checkpoint: dict[str, Any] = field(default_factory=dict)
    #: Claimed before (by this process before a restart, or by one that died).
    resumed: bool = False
    saver: SaveFn | None = None
    #: the intake's answer on its way, when received in this process: the status message
    ack: asyncio.Future[str | None] | None = None
    #: when the message arrived (Unix time): the start of the time to the clip
    received_at: float = field(default_factory=time.time)

    @property
    def chat(self) -> ChatKey:
        """The chat the request came from."""
        return self.message.chat

    async def save(self, step: Step, **notes: Any) -> None:
        """Move to `step`, adding `notes` to the checkpoint, durably."""
        self.step = step
        self.checkpoint.update(notes)
        if self.saver is not None:
            await self.saver(self, step)


@dataclass(slots=True)
class Turn:
    """A request while it runs, with its status message."""

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

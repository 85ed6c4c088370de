"""What the gate, `/stats` and the status page see of the chats' queues."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from bot.ports.chat import ChatKey, IncomingMessage


@dataclass(frozen=True, slots=True)
class Pending:
    """A request in a chat's queue: the one running, or one waiting its turn."""

    chat: ChatKey
    #: "platform:user id" of who asked
    user: str
    text: str
    intent: str
    #: when its message arrived (Unix time)
    received_at: float
    running: bool


#: The requests queued or running now, from the durable queue (every process's): those of
#: a message's chat and sender when one is given (what its quotas look at), else all.
PendingFn = Callable[[IncomingMessage | None], Awaitable[Sequence[Pending]]]

"""What the gate, `/stats` and the status page see of the chats' queues."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bot.ports.chat import ChatKey


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


#: Every request in the queues now (the engine's lanes; later the durable queue).
PendingFn = Callable[[], Sequence[Pending]]

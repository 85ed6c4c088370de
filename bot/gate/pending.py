"""What the gate, `/stats` and the status page see of the chats' queues."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from bot.ports.chat import ChatKey, IncomingMessage
from bot.ports.store import StoredRequest


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


def pending_of(requests: Sequence[StoredRequest]) -> list[Pending]:
    """Open requests as the gate and the pages see them."""
    return [
        Pending(r.chat, f"{r.chat.platform}:{r.sender_id}", r.text,
                str(r.payload.get("intent", "agent")), r.created_at, r.state == "running")
        for r in requests
    ]  # fmt: skip

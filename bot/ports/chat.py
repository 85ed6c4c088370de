"""The ports between the engine and the chat platforms.

Adapters turn a platform's update into one `IncomingMessage` and write through an
`OutgoingChannel`. Everything a request needs later is plain data, so it can be stored
and served by any process: the reply goes to a `ReplyAddress`, and an attachment is a
platform reference (a Telegram file id, a Discord attachment URL) that the adapter, as a
`Platform`, fetches when the engine asks. Nothing here knows a platform.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol, get_args

AttachmentKind = Literal["image", "audio", "video", "file"]

#: Stable ids of the buttons on result messages. An adapter turns a press into an
#: `IncomingMessage` whose text is the matching command ("/export", ...), so a button
#: keeps working after a restart: nothing but this id travels with it.
ButtonAction = Literal["export", "status", "credits", "new"]
BUTTON_ACTIONS: tuple[ButtonAction, ...] = get_args(ButtonAction)
_BUTTON_PREFIX = "clipbot:"


def button_id(action: ButtonAction) -> str:
    """The id a platform keeps with a button (Telegram callback data, a Discord custom id)."""
    return f"{_BUTTON_PREFIX}{action}"


def button_action(data: str | None) -> ButtonAction | None:
    """The action of a button id, or None for one this version does not know."""
    action = (data or "").removeprefix(_BUTTON_PREFIX)
    if data and data.startswith(_BUTTON_PREFIX):
        for known in BUTTON_ACTIONS:
            if known == action:
                return known
    return None


@dataclass(frozen=True, slots=True)
class ChatKey:
    """One conversation: a platform and that platform's chat (or channel) id."""

    platform: str
    chat_id: str

    def __str__(self) -> str:
        return f"{self.platform}:{self.chat_id}"

    @classmethod
    def parse(cls, text: str) -> ChatKey:
        """Inverse of `str()`: ``"telegram:123"`` → ``ChatKey("telegram", "123")``."""
        platform, _, chat_id = text.partition(":")
        if not platform or not chat_id:
            raise ValueError(f"not a chat key: {text!r}")
        return cls(platform, chat_id)


@dataclass(frozen=True, slots=True)
class Sender:
    """Who wrote a message; `name` is what the bot calls them in a group."""

    id: str
    name: str
    language_code: str | None = None


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file sent with a message. `ref` is the platform's reference to it (a Telegram
    file id, a Discord attachment URL, a local path); its bytes are fetched only when
    needed, by the platform (`Platform.fetch`), in whichever process runs the request."""

    name: str
    mime_type: str | None
    size: int | None
    kind: AttachmentKind
    ref: str


@dataclass(frozen=True, slots=True)
class ReplyAddress:
    """Where the replies to a message go, as plain data: the platform, the chat, and what
    else the adapter needs to write there again from any process (a forum topic, the
    message to reply to, a Discord interaction's follow-up token while it is valid)."""

    platform: str
    chat_id: str
    #: May hold a credential (a Discord interaction token): never shown in a repr or log.
    extra: Mapping[str, str] = field(default_factory=dict, repr=False)


@dataclass(frozen=True, slots=True)
class IncomingMessage:
    """One platform-neutral message to the bot."""

    chat: ChatKey
    sender: Sender
    text: str = ""
    attachments: tuple[Attachment, ...] = ()
    is_group: bool = False
    #: In a group: the bot was mentioned, replied to, or given a command. Always True
    #: in a private chat.
    addressed: bool = True
    #: The platform's id of the message (for logs and replies); None when there is none.
    message_id: str | None = None
    #: Who wrote the message this one replies to (an admin's `/block` by reply); None
    #: when it is no reply, or a reply to the bot itself.
    replied_to: Sender | None = None


@dataclass(frozen=True, slots=True)
class Button:
    """A button under a message; pressing it sends the matching command."""

    label: str
    action: ButtonAction


@dataclass(frozen=True, slots=True)
class MessageRef:
    """An adapter's handle on a message it sent, so the engine can edit it."""

    id: str


@dataclass(frozen=True, slots=True)
class VideoInfo:
    """What a platform wants to know about a video it is sent."""

    width: int
    height: int
    duration_s: float
    thumbnail: Path | None = None


class OutgoingChannel(Protocol):
    """Where the engine writes to one chat. Each adapter implements it once."""

    #: The biggest file the platform accepts from the bot in this chat, in bytes;
    #: None when there is no limit (the terminal).
    @property
    def max_upload_bytes(self) -> int | None: ...

    #: Where this channel writes, as data a `Platform` can build the channel again from.
    @property
    def address(self) -> ReplyAddress: ...

    async def send_text(self, text: str, buttons: Sequence[Button] = ()) -> MessageRef:
        """Send a text message (plain text, no markup)."""
        ...

    async def edit_text(self, ref: MessageRef, text: str) -> None:
        """Replace the text of a message the channel sent before."""
        ...

    async def send_video(
        self,
        path: Path,
        caption: str,
        info: VideoInfo,
        buttons: Sequence[Button] = (),
        *,
        key: str | None = None,
    ) -> MessageRef:
        """Send an MP4 file that fits `max_upload_bytes`, with a caption. `key`: the
        same key twice is the same delivery (a platform with idempotency keys, such as
        Discord's message nonce, then never shows it twice)."""
        ...

    async def send_link(
        self,
        url: str,
        caption: str,
        buttons: Sequence[Button] = (),
        *,
        key: str | None = None,
    ) -> MessageRef:
        """Send a download link in place of a file that is over the platform's limit."""
        ...

    def working(self) -> AbstractAsyncContextManager[None]:
        """Show "working" (typing, uploading video) for as long as the block runs."""
        ...


class MessageHandler(Protocol):
    """What an adapter calls for each incoming message: the engine's `handle`.

    It returns as soon as the message is accepted (answered at once, or queued behind
    the chat's running turn); the work itself goes on in the engine's per-chat worker.
    """

    async def __call__(self, message: IncomingMessage, channel: OutgoingChannel) -> None: ...


class Platform(Protocol):
    """A chat platform as the engine's workers use it, in any process: a channel built
    again from a stored address, an attachment fetched by its reference."""

    name: str

    def channel_for(self, address: ReplyAddress) -> OutgoingChannel:
        """The channel that writes to `address`."""
        ...

    async def fetch(self, attachment: Attachment, dest: Path) -> None:
        """Download the attachment's bytes into the file `dest`."""
        ...


class Adapter(Platform, Protocol):
    """A platform connection that runs beside the others in one event loop."""

    async def start(self, *, receive: bool = True) -> None:
        """Connect and begin receiving; return once running (never block the loop).
        `receive=False` (a `clipbot worker`): connect for sending only."""
        ...

    async def stop_receiving(self) -> None:
        """Take no new messages, but keep sending (work finishing before a shutdown)."""
        ...

    async def stop(self) -> None:
        """Stop receiving, finish sending, close connections."""
        ...

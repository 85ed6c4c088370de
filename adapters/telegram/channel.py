"""The `OutgoingChannel` of one Telegram chat."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path
from typing import TypeVar

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, InputFile, Message
from telegram.constants import ChatAction, MessageLimit
from telegram.error import BadRequest, TelegramError

from bot.errors import FileTooLarge, Unavailable
from bot.ports.chat import Button, MessageRef, ReplyAddress, VideoInfo, button_id
from bot.words import size as human_size

from .convert import PLATFORM
from .limits import TelegramLimits
from .thumbnail import first_frame_jpeg

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Telegram shows a chat action for about 5 s; refresh a little before it fades.
ACTION_INTERVAL_S = 4.0


def keyboard(buttons: Sequence[Button]) -> InlineKeyboardMarkup | None:
    """Buttons in rows of two; the callback data is only the stable action id."""
    if not buttons:
        return None
    keys = [InlineKeyboardButton(b.label, callback_data=button_id(b.action)) for b in buttons]
    return InlineKeyboardMarkup([keys[i : i + 2] for i in range(0, len(keys), 2)])


def split_text(text: str, size: int = MessageLimit.MAX_TEXT_LENGTH) -> list[str]:
    """Pieces of at most `size` characters, cut at line ends where possible."""
    text = text or "…"
    pieces: list[str] = []
    while len(text) > size:
        cut = text.rfind("\n", 0, size)
        cut = cut if cut > size // 2 else size
        pieces.append(text[:cut])
        text = text[cut:].lstrip("\n")
    pieces.append(text)
    return pieces


def _clip(text: str, size: int) -> str:
    return text if len(text) <= size else text[: size - 1] + "…"


class TelegramChannel:
    """Writes to one chat through the Bot API (flood control: the bot's rate limiter)."""

    def __init__(
        self,
        bot: Bot,
        chat_id: int,
        limits: TelegramLimits,
        *,
        action_interval_s: float = ACTION_INTERVAL_S,
        thread_id: int | None = None,
    ) -> None:
        self._bot = bot
        self._chat_id = chat_id
        # The forum topic the request came from: without it, sends land in "General".
        self._thread_id = thread_id
        self._limits = limits
        self._action_interval_s = action_interval_s
        # Status messages someone deleted, and the message sent in their place.
        self._moved: dict[str, str] = {}

    @property
    def max_upload_bytes(self) -> int | None:
        """50 MB on the public Bot API, 2000 MB on a local server."""
        return self._limits.upload_bytes

    @property
    def address(self) -> ReplyAddress:
        """The chat, and the forum topic when there is one."""
        extra = {} if self._thread_id is None else {"thread": str(self._thread_id)}
        return ReplyAddress(PLATFORM, str(self._chat_id), extra)

    async def _call(self, call: Callable[[], Awaitable[T]], what: str) -> T:
        try:
            # A 429 is waited out by the bot's rate limiter (`flood.py`), inside the call.
            return await call()
        except TelegramError as exc:
            log.warning("Telegram %s failed in chat %s: %s", what, self._chat_id, exc.message)
            raise Unavailable(f"Telegram {what} failed: {exc.message}") from exc

    async def send_text(self, text: str, buttons: Sequence[Button] = ()) -> MessageRef:
        """Send plain text; a text over Telegram's 4096 characters goes in several messages."""
        pieces = split_text(text)
        sent: Message | None = None
        for i, piece in enumerate(pieces):
            markup = keyboard(buttons) if i == len(pieces) - 1 else None
            sent = await self._call(self._sender(piece, markup), "sendMessage")
        assert sent is not None
        return MessageRef(str(sent.message_id))

    def _sender(
        self, text: str, markup: InlineKeyboardMarkup | None
    ) -> Callable[[], Awaitable[Message]]:
        return lambda: self._bot.send_message(
            self._chat_id, text, reply_markup=markup, message_thread_id=self._thread_id
        )

    async def edit_text(self, ref: MessageRef, text: str) -> None:
        """Replace a message's text; the same text again is not an error, and a message
        that was deleted is sent again (later edits go to the new one)."""
        message_id = int(self._moved.get(ref.id, ref.id))
        try:
            await self._bot.edit_message_text(
                _clip(text or "…", MessageLimit.MAX_TEXT_LENGTH),
                chat_id=self._chat_id,
                message_id=message_id,
            )
        except BadRequest as exc:
            reason = exc.message.lower()
            if "not modified" in reason:
                return
            if "message to edit not found" in reason or "can't be edited" in reason:
                sent = await self.send_text(_clip(text, MessageLimit.MAX_TEXT_LENGTH))
                self._moved[ref.id] = sent.id
                return
            log.warning("Telegram editMessageText failed: %s", exc.message)
            raise Unavailable(f"Telegram editMessageText failed: {exc.message}") from exc
        except TelegramError as exc:
            raise Unavailable(f"Telegram editMessageText failed: {exc.message}") from exc

    async def send_video(
        self,
        path: Path,
        caption: str,
        info: VideoInfo,
        buttons: Sequence[Button] = (),
        *,
        key: str | None = None,
    ) -> MessageRef:
        """sendVideo with size, duration, streaming and a first-frame thumbnail (the Bot
        API has no idempotency key: `key` is not used)."""
        size = (await asyncio.to_thread(path.stat)).st_size
        if size > self._limits.upload_bytes:
            raise FileTooLarge(
                f"The video is {human_size(size)}, over Telegram's "
                f"{human_size(self._limits.upload_bytes)} for bots.",
                limit_bytes=self._limits.upload_bytes,
            )
        data = await asyncio.to_thread(path.read_bytes)
        thumb = await asyncio.to_thread(self._thumbnail, path, info)
        markup = keyboard(buttons)

        def send() -> Awaitable[Message]:
            return self._bot.send_video(
                self._chat_id,
                InputFile(data, filename=path.name),
                caption=_clip(caption, MessageLimit.CAPTION_LENGTH) if caption else None,
                width=info.width,
                height=info.height,
                duration=max(1, round(info.duration_s)),
                supports_streaming=True,
                thumbnail=InputFile(thumb, filename="thumb.jpg", attach=True) if thumb else None,
                reply_markup=markup,
                message_thread_id=self._thread_id,
            )

        sent = await self._call(send, "sendVideo")
        return MessageRef(str(sent.message_id))

    @staticmethod
    def _thumbnail(path: Path, info: VideoInfo) -> bytes | None:
        if info.thumbnail is not None and info.thumbnail.suffix.lower() in {".jpg", ".jpeg"}:
            with contextlib.suppress(OSError):
                return info.thumbnail.read_bytes()
        return first_frame_jpeg(path)

    async def send_link(
        self,
        url: str,
        caption: str,
        buttons: Sequence[Button] = (),
        *,
        key: str | None = None,
    ) -> MessageRef:
        """A download link under the caption (which says why it is a link)."""
        return await self.send_text("\n".join(p for p in (caption.strip(), url) if p), buttons)

    @contextlib.asynccontextmanager
    async def working(self) -> AsyncIterator[None]:
        """Keep "sending video…" showing while the block runs; stop at once when it ends."""
        done = asyncio.Event()
        task = asyncio.create_task(self._keep_action(done))
        try:
            yield
        finally:
            done.set()
            # Let a chat action in flight finish briefly, but never hold up the reply.
            _, pending = await asyncio.wait({task}, timeout=1.0)
            for late in pending:
                late.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await late

    async def _keep_action(self, done: asyncio.Event) -> None:
        while not done.is_set():
            try:
                await self._bot.send_chat_action(
                    self._chat_id, ChatAction.UPLOAD_VIDEO, message_thread_id=self._thread_id
                )
            except TelegramError as exc:
                # A missed chat action is cosmetic: never worth failing the work for.
                log.debug("sendChatAction failed: %s", exc.message)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._action_interval_s):
                    await done.wait()

"""The terminal's outgoing channel: lines to a writer, videos saved under the data dir."""

from __future__ import annotations

import asyncio
import itertools
import shutil
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from bot.ports.chat import Button, MessageRef, ReplyAddress, VideoInfo

#: The one chat of the terminal, as a reply address.
TERMINAL_ADDRESS = ReplyAddress("terminal", "local")

#: Where the terminal writes a line (print, a list's append, a stream's write).
Writer = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class Delivered:
    """A video the terminal received: where it was saved, and when (monotonic)."""

    path: Path
    caption: str
    at: float


class TerminalChannel:
    """An `OutgoingChannel` for the terminal (and a test double that keeps a record)."""

    def __init__(
        self,
        write: Writer,
        videos_dir: Path,
        *,
        video_path: Path | None = None,
        show_buttons: bool = True,
        address: ReplyAddress = TERMINAL_ADDRESS,
    ) -> None:
        self._write = write
        self._address = address
        self._videos = videos_dir
        # `clipbot animate`: the clip goes straight to --out, and there is nothing to press.
        self._video_path = video_path
        self._show_buttons = show_buttons
        self._ids = itertools.count(1)
        self._status: dict[str, str] = {}
        #: everything the bot said, in order, as (kind, text)
        self.record: list[tuple[str, str]] = []
        self.delivered: list[Delivered] = []
        self.links: list[str] = []
        self.changed = asyncio.Event()

    @property
    def max_upload_bytes(self) -> int | None:
        """No limit: the file is copied where the user can open it."""
        return None

    @property
    def address(self) -> ReplyAddress:
        """The terminal (or the one-shot run) this channel writes to."""
        return self._address

    def _emit(self, kind: str, text: str) -> None:
        self.record.append((kind, text))
        self._write(text)
        self.changed.set()

    def _buttons(self, buttons: Sequence[Button]) -> str:
        if not buttons or not self._show_buttons:
            return ""
        return "\n   " + "  ".join(f"[{b.label}]" for b in buttons)

    async def send_text(self, text: str, buttons: Sequence[Button] = ()) -> MessageRef:
        ref = MessageRef(str(next(self._ids)))
        self._status[ref.id] = text
        self._emit("text", f"bot> {text}{self._buttons(buttons)}")
        return ref

    async def edit_text(self, ref: MessageRef, text: str) -> None:
        if self._status.get(ref.id) == text:
            return
        self._status[ref.id] = text
        self._emit("edit", f"  … {text}")

    async def send_video(
        self,
        path: Path,
        caption: str,
        info: VideoInfo,
        buttons: Sequence[Button] = (),
        *,
        key: str | None = None,
    ) -> MessageRef:
        if self._video_path is not None:
            dest = self._video_path
        else:
            stamp = time.strftime("%Y%m%d-%H%M%S")
            dest = self._videos / f"clip-{stamp}-{next(self._ids)}.mp4"
        dest.parent.mkdir(parents=True, exist_ok=True)
        await asyncio.to_thread(shutil.copyfile, path, dest)
        self.delivered.append(Delivered(dest, caption, time.monotonic()))
        self._emit("video", f"bot> {caption}\n   🎞 saved to {dest}{self._buttons(buttons)}")
        return MessageRef(str(next(self._ids)))

    async def send_link(
        self,
        url: str,
        caption: str,
        buttons: Sequence[Button] = (),
        *,
        key: str | None = None,
    ) -> MessageRef:
        self.links.append(url)
        self._emit("link", f"bot> {caption}\n   🔗 {url}{self._buttons(buttons)}")
        return MessageRef(str(next(self._ids)))

    @asynccontextmanager
    async def _working(self) -> AsyncIterator[None]:
        yield

    def working(self) -> AbstractAsyncContextManager[None]:
        """The status line already shows the work; nothing more to show."""
        return self._working()

    def texts(self, kind: str = "text") -> list[str]:
        """What the bot said of one kind, without the `bot> ` prefix."""
        return [t.removeprefix("bot> ").removeprefix("  … ") for k, t in self.record if k == kind]

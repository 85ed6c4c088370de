"""The terminal chat's lifecycle: read lines, turn them into messages, hand them on."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import threading
from collections.abc import AsyncIterator
from pathlib import Path

from adapters.terminal.channel import TerminalChannel, Writer
from adapters.terminal.conversion import (
    as_path,
    fetch_local,
    message,
    missing_path,
    split_attach,
)
from bot.ports.chat import Attachment, MessageHandler, ReplyAddress
from bot.words import Lang, say

log = logging.getLogger(__name__)


async def stdin_lines() -> AsyncIterator[str]:
    """Lines typed on stdin, read by a daemon thread so Ctrl-C never waits on it."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[str | None] = asyncio.Queue()

    def reader() -> None:
        for line in sys.stdin:
            loop.call_soon_threadsafe(queue.put_nowait, line.rstrip("\n"))
        loop.call_soon_threadsafe(queue.put_nowait, None)

    threading.Thread(target=reader, name="stdin-reader", daemon=True).start()
    while (line := await queue.get()) is not None:
        yield line


async def queue_lines(queue: asyncio.Queue[str | None]) -> AsyncIterator[str]:
    """Lines from a queue until None: how tests type into the terminal."""
    while (line := await queue.get()) is not None:
        yield line


def print_line(text: str) -> None:
    """Write one line to stdout at once."""
    print(text, flush=True)


class TerminalAdapter:
    """The terminal as an `Adapter`: one chat, driven by lines of input."""

    name = "terminal"

    def __init__(
        self,
        handler: MessageHandler,
        data_dir: Path,
        *,
        lines: AsyncIterator[str] | None = None,
        write: Writer = print_line,
        language: Lang = "en",
    ) -> None:
        self._lang: Lang = language
        self._handler = handler
        self._lines = lines
        self._write = write
        self.channel = TerminalChannel(write, data_dir / "videos")
        self._pending: list[Path] = []
        self._task: asyncio.Task[None] | None = None
        #: set when the input ends (EOF or /quit)
        self.finished = asyncio.Event()

    def channel_for(self, address: ReplyAddress) -> TerminalChannel:
        """The terminal's one channel (whatever the address: there is one chat)."""
        return self.channel

    async def fetch(self, attachment: Attachment, dest: Path) -> None:
        """Copy the local file the attachment names."""
        await fetch_local(attachment, dest)

    async def start(self, *, receive: bool = True) -> None:
        """Begin reading input in a task (the terminal always reads: it is one chat)."""
        self._write(say("terminal_banner", self._lang))
        self._task = asyncio.create_task(self._read(), name="terminal-input")

    async def stop_receiving(self) -> None:
        """Read no more input (the chat's running work finishes)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def stop(self) -> None:
        """Stop reading input."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self.finished.set()

    async def _read(self) -> None:
        lines = self._lines if self._lines is not None else stdin_lines()
        try:
            async for line in lines:
                if line.strip() in ("/quit", "/exit"):
                    break
                try:
                    await self.feed(line)
                except Exception:
                    log.exception("terminal: the line could not be handled")
                    self._write(f"bot> {say('terminal_line_failed', self._lang)}")
        finally:
            self.finished.set()

    async def feed(self, line: str) -> None:
        """Handle one line of input, as if typed."""
        stripped = line.strip()
        if stripped.startswith("/attach"):
            path, caption = split_attach(stripped[len("/attach") :])
            if path is None:
                self._write(f"bot> {say('terminal_attach_usage', self._lang)}")
                return
            self._pending.append(path)
            if caption:
                await self._send(caption)
            else:
                self._note_pending()
            return
        path = as_path(stripped)
        if path is not None:
            self._pending.append(path)
            self._note_pending()
            return
        if not stripped and not self._pending:
            return
        missing = missing_path(stripped)
        if missing is not None:
            self._write(f"bot> {say('terminal_file_missing', self._lang, path=missing)}")
            return
        await self._send(stripped)

    def _note_pending(self) -> None:
        names = ", ".join(p.name for p in self._pending)
        self._write(f"   {say('terminal_attached', self._lang, names=names)}")

    async def _send(self, text: str) -> None:
        paths, self._pending = self._pending, []
        await self._handler(message(text, paths), self.channel)

"""`clipbot animate`: one request through the engine, no conversation."""

from __future__ import annotations

import os
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bot.config import Settings
from bot.ports.backend import Backend
from bot.ports.chat import Attachment, ChatKey, ReplyAddress, Sender

if TYPE_CHECKING:
    from adapters.terminal.channel import TerminalChannel


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one request produced: the MP4 written, or the user-facing message."""

    video: Path | None
    message: str


def default_out(first_image: Path) -> Path:
    """Beside the first image when that folder is writable, else in the cwd."""
    folder = first_image.resolve().parent
    name = f"{first_image.stem}.mp4"
    return folder / name if os.access(folder, os.W_OK) else Path.cwd() / name


class _OneRun:
    """The `Platform` of one `clipbot animate` run: its channel, its local files."""

    def __init__(self, name: str, channel: TerminalChannel) -> None:
        self.name = name
        self._channel = channel

    def channel_for(self, address: ReplyAddress) -> TerminalChannel:
        """The run's one channel."""
        return self._channel

    async def fetch(self, attachment: Attachment, dest: Path) -> None:
        """Copy the photo the attachment names."""
        from adapters.terminal.conversion import fetch_local

        await fetch_local(attachment, dest)


def _progress_line(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


async def animate(
    settings: Settings,
    images: list[Path],
    prompt: str,
    out: Path,
    *,
    backend: Backend | None = None,
    quiet: bool = False,
) -> Outcome:
    """Upload `images`, send `prompt`, wait for the clip and write it to `out`."""
    from adapters.terminal.channel import TerminalChannel
    from adapters.terminal.conversion import message
    from bot.app.core import open_core

    # Progress goes to stderr, with no platform rate limit: a 1 s pace at most, so the
    # final "Done" line (paced like any edit) keeps the exit at most 1 s after the clip,
    # not the chats' 3 s.
    pace = min(settings.status_edit_interval_s, 1.0)
    settings = settings.model_copy(update={"status_edit_interval_s": pace})
    lines: list[str] = []

    def write(text: str) -> None:
        lines.append(text)
        if not quiet:
            _progress_line(text)

    # Nothing of a one-shot run needs keeping, except Nemo's identity: a new anonymous
    # token each run would spend the few an address gets a week.
    memory = backend is None and settings.backend != "nemo"
    async with open_core(settings, backend, memory=memory) as core:
        # A platform of its own: this run serves its one request and no other (a run
        # killed before could have left one in a kept database).
        chat = ChatKey(f"cli-{uuid.uuid4().hex[:12]}", "animate")
        channel = TerminalChannel(
            write,
            settings.data_dir / "videos",
            video_path=out,
            show_buttons=False,
            address=ReplyAddress(chat.platform, chat.chat_id),
        )
        core.engine.add_platform(_OneRun(chat.platform, channel))
        await core.engine.handle(
            message(prompt, images, chat=chat, sender=Sender("cli", "you")), channel
        )
        await core.engine.idle()
    if channel.delivered:
        return Outcome(out, f"wrote {out}")
    said = channel.texts("text") + channel.texts("link")
    return Outcome(None, said[-1] if said else "No clip was made.")

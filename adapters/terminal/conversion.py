"""Terminal input lines → attachments and messages: paths, `/attach`, captions."""

from __future__ import annotations

import asyncio
import mimetypes
import shlex
import shutil
from pathlib import Path
from urllib.parse import unquote, urlparse

from bot.errors import BadInput
from bot.media import AUDIO_SUFFIXES, IMAGE_SUFFIXES, VIDEO_SUFFIXES, kind_of, suffix_of
from bot.ports.chat import Attachment, ChatKey, IncomingMessage, Sender

_FILE_SUFFIXES = IMAGE_SUFFIXES | AUDIO_SUFFIXES | VIDEO_SUFFIXES

#: The one chat of the terminal.
TERMINAL_CHAT = ChatKey("terminal", "local")
TERMINAL_SENDER = Sender("local", "you")


def as_path(text: str) -> Path | None:
    """The existing file a pasted line names (quoted, escaped or a file:// URL), or None."""
    line = text.strip()
    if not line or "\n" in line:
        return None
    if line.startswith("file://"):
        path = Path(unquote(urlparse(line).path))
    else:
        try:
            parts = shlex.split(line)  # handles 'quotes', "quotes" and escaped\ spaces
        except ValueError:
            return None
        if len(parts) != 1:
            return None
        path = Path(parts[0]).expanduser()
    try:
        return path if path.is_file() else None
    except OSError:
        return None


def missing_path(text: str) -> str | None:
    """The path a line names when it looks like a file's path but no such file exists."""
    line = text.strip()
    if not line or "\n" in line or as_path(line) is not None:
        return None
    if line.startswith("file://"):
        return unquote(urlparse(line).path)
    try:
        parts = shlex.split(line)
    except ValueError:
        return None
    if len(parts) != 1:
        return None
    word = parts[0]
    # "/help" is a command; "/tmp/x", "~/x", "./x" and "photo.jpg" are paths.
    pathlike = word.startswith(("~", "./", "../")) or "/" in word[1:]
    return word if pathlike or suffix_of(word) in _FILE_SUFFIXES else None


def _first_token(text: str) -> tuple[str, str]:
    """The first shell-style word (quotes, escaped spaces) and the rest, untouched."""
    text = text.lstrip()
    if text[:1] in ("'", '"'):
        end = text.find(text[0], 1)
        if end > 0:
            return text[1:end], text[end + 1 :].strip()
    word: list[str] = []
    i = 0
    while i < len(text) and not text[i].isspace():
        if text[i] == "\\" and i + 1 < len(text):
            i += 1
        word.append(text[i])
        i += 1
    return "".join(word), text[i:].strip()


def split_attach(arguments: str) -> tuple[Path | None, str]:
    """`/attach PATH [caption…]` → the path (None if no such file) and the caption as typed."""
    first, caption = _first_token(arguments)
    if not first:
        return None, ""
    path = Path(first).expanduser()
    return (path if path.is_file() else None), caption


def attachment(path: Path) -> Attachment:
    """A local file as an attachment: its reference is its absolute path."""
    source = path.resolve()
    mime, _ = mimetypes.guess_type(source.name)
    kind = kind_of(source.name, mime)
    return Attachment(source.name, mime, source.stat().st_size, kind, str(source))


async def fetch_local(attachment: Attachment, dest: Path) -> None:
    """Copy a local attachment (its reference is a path) to `dest`."""
    try:
        await asyncio.to_thread(shutil.copyfile, attachment.ref, dest)
    except FileNotFoundError as exc:
        raise BadInput("terminal_file_missing", path=attachment.ref) from exc


def message(
    text: str,
    paths: list[Path] | tuple[Path, ...] = (),
    *,
    chat: ChatKey = TERMINAL_CHAT,
    sender: Sender = TERMINAL_SENDER,
) -> IncomingMessage:
    """One terminal message: words and the files attached to them."""
    return IncomingMessage(
        chat=chat,
        sender=sender,
        text=text,
        attachments=tuple(attachment(p) for p in paths),
    )

"""Handing a finished MP4 to the chat: the file when it fits, else the link, else words."""

from __future__ import annotations

import logging

from bot import replies
from bot.ports.backend import ExportDone
from bot.ports.chat import MessageRef, OutgoingChannel, VideoInfo

log = logging.getLogger(__name__)


def caption(
    done: ExportDone, lang: str, *, link: str | None = None, for_name: str | None = None
) -> str:
    """The caption under a delivered clip: size, length, who asked, the project link."""
    seconds = f"{done.duration_s:.1f}".rstrip("0").rstrip(".")
    head = replies.text("caption", lang, size=f"{done.width}×{done.height}", duration=seconds)
    if for_name:
        head = f"{head} {replies.text('caption_for', lang, name=for_name)}"
    if link:
        head = f"{head}\n{replies.text('caption_link', lang, link=link)}"
    return head


def _size(done: ExportDone) -> int | None:
    if done.size_bytes is not None:
        return done.size_bytes
    if done.path is not None and done.path.exists():
        return done.path.stat().st_size
    return None


async def deliver(channel: OutgoingChannel, done: ExportDone, text: str, lang: str) -> MessageRef:
    """Send the clip as a file, or as a link when over the limit, or say why not."""
    buttons = replies.result_buttons(lang)
    size = _size(done)
    limit = channel.max_upload_bytes
    fits = size is not None and (limit is None or size <= limit)
    if done.path is not None and fits:
        info = VideoInfo(done.width, done.height, done.duration_s)
        return await channel.send_video(done.path, text, info, buttons)
    mb = f"{(size or 0) / 1_000_000:.0f}"
    if done.url:
        note = replies.text("link_note", lang, mb=mb)
        return await channel.send_link(done.url, f"{text}\n{note}", buttons)
    log.warning("a %s-byte clip is over the limit %s and has no url", size, limit)
    return await channel.send_text(replies.text("too_big", lang, mb=mb), buttons)

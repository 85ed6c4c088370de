"""`OutgoingChannel` over a Discord interaction (follow-ups) or a plain channel."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import discord

from adapters.discord.convert import PLATFORM
from bot.errors import FileTooLarge
from bot.ports.chat import Button, MessageRef, ReplyAddress, VideoInfo
from bot.words import size as human_size

log = logging.getLogger(__name__)

#: Discord's limit when nothing better is known (an ordinary server or a DM).
DEFAULT_UPLOAD_LIMIT = 10 * 1024 * 1024
#: An interaction token lives 15 minutes; keep a margin for the last request.
TOKEN_LIFETIME = timedelta(minutes=14)
#: Discord refuses message content over 2000 characters.
MAX_CONTENT = 2000

ViewFactory = Callable[[Sequence[Button]], discord.ui.View]

# A ref's id says how the message was sent, so it is edited the same way:
# "w:<id>" through the interaction's webhook, "c:<id>" as a channel message.
_WEBHOOK, _CHANNEL = "w", "c"


def _clip(text: str) -> str:
    # The engine writes plain text, which may echo the user's words: Discord must show
    # "*Summer_Sale*" as typed, not as italics (URLs are left as they are).
    text = discord.utils.escape_markdown(text)
    return text if len(text) <= MAX_CONTENT else text[: MAX_CONTENT - 1] + "…"


@dataclass(frozen=True, slots=True)
class FollowUp:
    """An interaction's follow-up webhook while its token is valid (Discord keeps it 15
    minutes; after that the channel takes the answers)."""

    webhook: discord.Webhook
    application_id: int
    token: str = field(repr=False)
    until: datetime

    @classmethod
    def of(cls, interaction: discord.Interaction, lifetime: timedelta) -> FollowUp:
        """The follow-up of an interaction just received."""
        return cls(
            interaction.followup,
            interaction.application_id,
            interaction.token,
            interaction.created_at + lifetime,
        )

    def alive(self) -> bool:
        """The token still takes messages."""
        return discord.utils.utcnow() < self.until


class DiscordChannel:
    """Where the engine writes to one Discord channel, for one request."""

    def __init__(
        self,
        target: discord.PartialMessageable,
        views: ViewFactory,
        *,
        follow_up: FollowUp | None = None,
        upload_limit: int | None = None,
    ) -> None:
        self._target = target
        self._views = views
        self._follow_up = follow_up
        self._limit = upload_limit or DEFAULT_UPLOAD_LIMIT
        # Webhook messages re-sent to the channel once the token expired.
        self._moved: dict[str, str] = {}

    @property
    def max_upload_bytes(self) -> int:
        """The limit the interaction reported, else the server's, else 10 MiB."""
        return self._limit

    @property
    def address(self) -> ReplyAddress:
        """The channel (and server), the upload limit, and the follow-up token while it
        lives: what `DiscordAdapter.channel_for` needs to write here from any process."""
        target = self._target
        extra = {"limit": str(self._limit)}
        if target.guild_id is not None:
            extra["guild"] = str(target.guild_id)
        follow = self._follow_up
        if follow is not None and follow.alive():
            extra |= {
                "app": str(follow.application_id),
                "token": follow.token,
                "until": follow.until.isoformat(),
            }
        return ReplyAddress(PLATFORM, str(target.id), extra)

    def _token_alive(self) -> bool:
        return self._follow_up is not None and self._follow_up.alive()

    async def _send(
        self,
        content: str,
        buttons: Sequence[Button],
        file: discord.File | None = None,
        nonce: str | None = None,
    ) -> MessageRef:
        view = self._views(buttons) if buttons else None
        kwargs: dict[str, object] = {"content": _clip(content)}
        if view is not None:
            kwargs["view"] = view
        if file is not None:
            kwargs["file"] = file
        if self._follow_up is not None and self._token_alive():
            sent = await self._follow_up.webhook.send(wait=True, **kwargs)  # type: ignore[call-overload]
            return MessageRef(f"{_WEBHOOK}:{sent.id}")
        if nonce is not None:
            # Discord keeps the nonce a few minutes: the same delivery twice is one message.
            kwargs["nonce"] = nonce
        message = await self._target.send(**kwargs)  # type: ignore[call-overload]
        return MessageRef(f"{_CHANNEL}:{message.id}")

    async def send_text(self, text: str, buttons: Sequence[Button] = ()) -> MessageRef:
        """Send a message (a follow-up while the interaction token lives)."""
        return await self._send(text, buttons)

    async def edit_text(self, ref: MessageRef, text: str) -> None:
        """Edit a message in place; one whose token expired, or that someone deleted, is
        sent again, once (later edits go to the new message)."""
        ref_id = self._moved.get(ref.id, ref.id)
        kind, _, raw_id = ref_id.partition(":")
        try:
            if kind == _WEBHOOK:
                if self._follow_up is not None and self._token_alive():
                    await self._follow_up.webhook.edit_message(int(raw_id), content=_clip(text))
                    return
                moved = await self._target.send(content=_clip(text))
                self._moved[ref.id] = f"{_CHANNEL}:{moved.id}"
                return
            await self._target.get_partial_message(int(raw_id)).edit(content=_clip(text))
        except discord.NotFound:
            log.info("discord: status message %s is gone; sending it again", raw_id)
            self._moved[ref.id] = (await self._send(text, ())).id

    async def send_video(
        self,
        path: Path,
        caption: str,
        info: VideoInfo,
        buttons: Sequence[Button] = (),
        *,
        key: str | None = None,
    ) -> MessageRef:
        """Attach the MP4; over the limit it is refused before any upload. `key` becomes
        the message nonce (enforced), so a delivery repeated after a crash is one message."""
        size = await asyncio.to_thread(os.path.getsize, path)
        if size > self._limit:
            raise FileTooLarge(
                f"the clip is {human_size(size)}, over Discord's {human_size(self._limit)} here",
                limit_bytes=self._limit,
            )
        return await self._send(caption, buttons, discord.File(path, filename=path.name), key)

    async def send_link(
        self,
        url: str,
        caption: str,
        buttons: Sequence[Button] = (),
        *,
        key: str | None = None,
    ) -> MessageRef:
        """The download link under the caption (the engine's note on the size)."""
        text = "\n".join(part for part in (caption.strip(), url) if part)
        return await self._send(text, buttons, nonce=key)

    @asynccontextmanager
    async def working(self) -> AsyncIterator[None]:
        """The typing indicator for as long as the block runs (best effort)."""
        typing = self._target.typing()
        try:
            await typing.__aenter__()
        except discord.HTTPException as exc:
            log.warning("discord: typing indicator refused: %s", exc.status)
            yield
            return
        try:
            yield
        finally:
            await typing.__aexit__(None, None, None)

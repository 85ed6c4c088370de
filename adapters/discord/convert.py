"""Discord messages and interactions → platform-neutral `IncomingMessage`s."""

from __future__ import annotations

import re
from collections.abc import Sequence

import discord

from bot.media import kind_of
from bot.ports.chat import Attachment, AttachmentKind, ChatKey, IncomingMessage, Sender

PLATFORM = "discord"


def chat_key(channel_id: int) -> ChatKey:
    """One project per channel (a DM is a channel too)."""
    return ChatKey(PLATFORM, str(channel_id))


def attachment_kind(content_type: str | None, filename: str) -> AttachmentKind:
    """What a file is, from its content type first and its extension second."""
    return kind_of(filename, content_type)


def to_attachment(attachment: discord.Attachment) -> Attachment:
    """A Discord attachment, referred to by its CDN URL (fetched only when the engine asks,
    in whichever process runs the request; the URL stays valid for about a day)."""
    return Attachment(
        name=attachment.filename,
        mime_type=attachment.content_type,
        size=attachment.size,
        kind=attachment_kind(attachment.content_type, attachment.filename),
        ref=attachment.url,
    )


def sender_of(user: discord.User | discord.Member, locale: discord.Locale | None = None) -> Sender:
    """The author of a message or interaction, named as the server shows them."""
    language = str(locale.value).split("-", 1)[0] if locale is not None else None
    return Sender(id=str(user.id), name=user.display_name, language_code=language)


def strip_mentions(text: str, bot_id: int, role_ids: Sequence[int] = ()) -> str:
    """The text without mentions of the bot (`<@id>`, the older `<@!id>`, and `<@&role>`
    for the bot's own role)."""
    for role_id in role_ids:
        text = text.replace(f"<@&{role_id}>", " ")
    return re.sub(rf"<@!?{bot_id}>", " ", text).strip()


def _bot_roles(message: discord.Message, bot_id: int) -> list[int]:
    """Mentioned roles that are the bot's own (the managed role Discord gives a bot)."""
    return [r.id for r in message.role_mentions if r.tags is not None and r.tags.bot_id == bot_id]


def is_addressed(message: discord.Message, bot_id: int) -> bool:
    """In a DM always; in a server when the bot (or its role) is mentioned or replied to."""
    if message.guild is None:
        return True
    if any(user.id == bot_id for user in message.mentions) or _bot_roles(message, bot_id):
        return True
    reference = message.reference
    resolved = reference.resolved if reference is not None else None
    return isinstance(resolved, discord.Message) and resolved.author.id == bot_id


def replied_sender(message: discord.Message, bot_id: int) -> Sender | None:
    """Who wrote the message this one replies to; None for no reply or a reply to the bot."""
    reference = message.reference
    resolved = reference.resolved if reference is not None else None
    if not isinstance(resolved, discord.Message) or resolved.author.id == bot_id:
        return None
    return sender_of(resolved.author)


def from_message(message: discord.Message, bot_id: int) -> IncomingMessage | None:
    """The message as the engine sees it; None for messages of bots (ours included)."""
    if message.author.bot or message.author.id == bot_id:
        return None
    return IncomingMessage(
        chat=chat_key(message.channel.id),
        sender=sender_of(message.author),
        text=strip_mentions(message.content, bot_id, _bot_roles(message, bot_id)),
        attachments=tuple(to_attachment(a) for a in message.attachments),
        is_group=message.guild is not None,
        addressed=is_addressed(message, bot_id),
        message_id=str(message.id),
        replied_to=replied_sender(message, bot_id),
    )


def from_interaction(
    interaction: discord.Interaction,
    text: str,
    attachments: Sequence[discord.Attachment] = (),
) -> IncomingMessage:
    """A slash command or a button press: always addressed to the bot."""
    channel_id = interaction.channel_id
    if channel_id is None:  # Discord always sends one for commands and components.
        raise ValueError("interaction without a channel")
    return IncomingMessage(
        chat=chat_key(channel_id),
        sender=sender_of(interaction.user, interaction.locale),
        text=text,
        attachments=tuple(to_attachment(a) for a in attachments),
        is_group=interaction.guild_id is not None,
        addressed=True,
        message_id=str(interaction.id),
    )


def fold_instruction(prompt: str, aspect: str | None, duration_s: int | None) -> str:
    """`/animate`'s options as one instruction in words, as if typed."""
    parts = [prompt.strip() or "Animate this photo"]
    extras = []
    if aspect:
        extras.append(f"aspect ratio {aspect}")
    if duration_s:
        extras.append(f"{duration_s} seconds long")
    if extras:
        parts.append(", ".join(extras))
    return ". ".join(p.rstrip(".") for p in parts)

"""Telegram objects → platform-neutral `IncomingMessage`s (no I/O but the lazy fetch)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from telegram import Bot, Chat, Message, MessageEntity, User
from telegram.error import BadRequest, NetworkError, TelegramError

from bot.errors import BadInput, Unavailable
from bot.media import kind_of
from bot.ports.chat import Attachment, AttachmentKind, ChatKey, IncomingMessage, Sender

from .flood import with_flood_retry

log = logging.getLogger(__name__)

PLATFORM = "telegram"
GROUP_TYPES = frozenset({Chat.GROUP, Chat.SUPERGROUP})


@dataclass(frozen=True, slots=True)
class BotIdentity:
    """Who the bot is, to tell whether a group message is meant for it."""

    id: int
    username: str

    @classmethod
    def of(cls, user: User) -> BotIdentity:
        """From the `getMe` answer."""
        return cls(id=user.id, username=user.username or "")

    @property
    def mention(self) -> str:
        """``@username``, lowercased for comparison."""
        return f"@{self.username}".lower()


def chat_key(chat: Chat) -> ChatKey:
    """One project per chat: a group's key is the group's chat id, not the sender's."""
    return ChatKey(PLATFORM, str(chat.id))


def sender_of(user: User, on_behalf_of: Chat | None = None) -> Sender:
    """The sender, named the way a group would call them (an anonymous admin: the chat)."""
    if on_behalf_of is not None:
        title = on_behalf_of.title or on_behalf_of.effective_name or str(on_behalf_of.id)
        return Sender(id=str(on_behalf_of.id), name=title, language_code=user.language_code)
    name = user.full_name or (f"@{user.username}" if user.username else str(user.id))
    return Sender(id=str(user.id), name=name, language_code=user.language_code)


def is_group(chat: Chat) -> bool:
    """A group or supergroup (channels never reach the bot: not in allowed_updates)."""
    return chat.type in GROUP_TYPES


def topic_of(message: Message) -> int | None:
    """The forum topic a message was sent in (replies must go there), if any."""
    # Outside forums message_thread_id also marks reply threads: only topics count.
    return message.message_thread_id if message.is_topic_message else None


def _entities(message: Message) -> dict[MessageEntity, str]:
    if message.text is not None:
        return message.parse_entities()
    return message.parse_caption_entities()


def _command_for_us(entity_text: str, me: BotIdentity) -> bool:
    _, at, name = entity_text.partition("@")
    return not at or name.lower() == me.username.lower()


def is_addressed(message: Message, me: BotIdentity) -> bool:
    """Private chats always; in a group: a command, an @mention, or a reply to the bot."""
    if not is_group(message.chat):
        return True
    for entity, text in _entities(message).items():
        command = entity.type == MessageEntity.BOT_COMMAND and entity.offset == 0
        named = entity.type == MessageEntity.TEXT_MENTION and entity.user is not None
        if (
            (command and _command_for_us(text, me))
            or (entity.type == MessageEntity.MENTION and text.lower() == me.mention)
            or (named and entity.user is not None and entity.user.id == me.id)
        ):
            return True
    replied = message.reply_to_message
    return bool(replied and replied.from_user and replied.from_user.id == me.id)


def clean_text(message: Message, me: BotIdentity) -> str:
    """The text or caption, with ``/cmd@bot`` → ``/cmd`` and the bot's @mention removed."""
    text = message.text if message.text is not None else (message.caption or "")
    for entity, part in sorted(
        _entities(message).items(), key=lambda item: item[0].offset, reverse=True
    ):
        if entity.type == MessageEntity.BOT_COMMAND and "@" in part and _command_for_us(part, me):
            text = text.replace(part, part.partition("@")[0], 1)
        elif entity.type == MessageEntity.MENTION and part.lower() == me.mention:
            text = text.replace(part, "", 1)
    return " ".join(text.split())


def attachments_of(message: Message) -> list[Attachment]:
    """The files of one message, each referred to by its Telegram file id (fetched only
    when the engine asks, by `fetch_file`, in whichever process runs the request)."""

    def make(
        file_id: str, name: str, mime: str | None, size: int | None, kind: AttachmentKind
    ) -> Attachment:
        return Attachment(name=name, mime_type=mime, size=size, kind=kind, ref=file_id)

    found: list[Attachment] = []
    if message.photo:
        largest = max(message.photo, key=lambda p: (p.width * p.height, p.file_size or 0))
        found.append(
            make(largest.file_id, f"photo_{largest.file_unique_id}.jpg", "image/jpeg",
                 largest.file_size, "image")
        )  # fmt: skip
    if message.animation:
        a = message.animation
        name = a.file_name or f"animation_{a.file_unique_id}.mp4"
        found.append(make(a.file_id, name, a.mime_type, a.file_size, "video"))
    elif message.document:
        d = message.document
        name = d.file_name or f"file_{d.file_unique_id}"
        found.append(make(d.file_id, name, d.mime_type, d.file_size,
                          kind_of(name, d.mime_type)))  # fmt: skip
    if message.video:
        v = message.video
        name = v.file_name or f"video_{v.file_unique_id}.mp4"
        found.append(make(v.file_id, name, v.mime_type or "video/mp4", v.file_size, "video"))
    if message.audio:
        au = message.audio
        name = au.file_name or f"audio_{au.file_unique_id}.mp3"
        found.append(make(au.file_id, name, au.mime_type, au.file_size, "audio"))
    if message.voice:
        vo = message.voice
        found.append(make(vo.file_id, f"voice_{vo.file_unique_id}.ogg",
                          vo.mime_type or "audio/ogg", vo.file_size, "audio"))  # fmt: skip
    return found


def replied_sender(message: Message, me: BotIdentity) -> Sender | None:
    """Who wrote the message this one replies to; None for no reply or a reply to the bot."""
    replied = message.reply_to_message
    # In a forum every message "replies" to its topic's opening: that is no reply.
    if replied is None or replied.from_user is None or replied.forum_topic_created:
        return None
    if replied.from_user.id == me.id:
        return None
    return sender_of(replied.from_user, replied.sender_chat)


def to_incoming(messages: Sequence[Message], me: BotIdentity) -> IncomingMessage:
    """One `IncomingMessage` for one message, or for every message of an album."""
    ordered = sorted(messages, key=lambda m: m.message_id)
    first = ordered[0]
    if first.from_user is None:
        raise ValueError("a message without a sender")
    attachments = [a for m in ordered for a in attachments_of(m)]
    texts = [t for t in (clean_text(m, me) for m in ordered) if t]
    addressed = any(is_addressed(m, me) for m in ordered)
    replied = first.reply_to_message
    if (
        not attachments
        and addressed
        and replied is not None
        and not (replied.from_user and replied.from_user.id == me.id)
    ):
        # "@bot animate this" as a reply to someone's photo: the photo is the input.
        attachments = attachments_of(replied)
    return IncomingMessage(
        chat=chat_key(first.chat),
        sender=sender_of(first.from_user, first.sender_chat),
        text=texts[0] if texts else "",
        attachments=tuple(attachments),
        is_group=is_group(first.chat),
        addressed=addressed,
        message_id=str(first.message_id),
        replied_to=replied_sender(first, me),
    )


def oversized(message: IncomingMessage, limit_bytes: int) -> Attachment | None:
    """The first attachment bigger than the bot may download, if any."""
    return next((a for a in message.attachments if a.size and a.size > limit_bytes), None)


async def fetch_file(bot: Bot, file_id: str, path: Path) -> None:
    """getFile and download one file into `path`, with flood control."""
    try:
        tg_file = await with_flood_retry(lambda: bot.get_file(file_id), "getFile")
        await with_flood_retry(lambda: tg_file.download_to_drive(custom_path=path), "file download")
    except BadRequest as exc:
        log.warning("Telegram refused a file: %s", exc.message)
        raise BadInput("file_refused_by_platform") from exc
    except NetworkError as exc:
        raise Unavailable(f"Telegram could not be reached: {exc.message}") from exc
    except TelegramError as exc:
        raise Unavailable(f"Telegram error while fetching a file: {exc.message}") from exc

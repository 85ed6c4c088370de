"""Who may use the bot: the admins, the allow lists (users and chats), and the block list
the admins keep from the chat. Someone turned away is told once, then silence."""

from __future__ import annotations

import logging
from typing import Literal

from bot.config import Settings
from bot.ports.chat import IncomingMessage
from bot.ports.store import Store

log = logging.getLogger(__name__)

#: Platforms where whoever types is the operator at the keyboard (the terminal chat,
#: `clipbot animate`): they are admins.
OPERATOR_PLATFORMS = frozenset({"terminal", "cli"})

Refusal = Literal["blocked", "not_allowed"]


def user_key(message: IncomingMessage) -> str:
    """Who sent a message, across platforms: ``"telegram:123"``."""
    return f"{message.chat.platform}:{message.sender.id}"


class Access:
    """Answers "may this sender use the bot?" from the settings and the store."""

    def __init__(self, settings: Settings, store: Store) -> None:
        self._store = store
        self._admins = frozenset(settings.admins)
        self._users = frozenset(settings.allowed_users)
        self._chats = frozenset(settings.allowed_chats)

    def is_admin(self, message: IncomingMessage) -> bool:
        """Listed in CLIPBOT_ADMINS, or the operator at the keyboard."""
        return message.chat.platform in OPERATOR_PLATFORMS or user_key(message) in self._admins

    def is_admin_key(self, user: str) -> bool:
        """Whether "platform:id" is listed in CLIPBOT_ADMINS."""
        return user in self._admins

    def refusal(self, message: IncomingMessage, *, blocked: bool) -> Refusal | None:
        """Why the sender may not use the bot (`blocked`: whether the store lists them),
        or None when they may."""
        if self.is_admin(message):
            return None
        if blocked:
            return "blocked"
        if not (self._users or self._chats):
            return None  # no allow list: everyone
        if user_key(message) in self._users or str(message.chat) in self._chats:
            return None
        return "not_allowed"

    async def first_refusal(self, message: IncomingMessage) -> bool:
        """True the first time this sender is turned away (they are told, once); the
        mark is the store's record of handled updates, so it lasts across restarts."""
        try:
            return await self._store.mark_update(
                f"{message.chat.platform}/refused", message.sender.id
            )
        except Exception:
            # Telling twice beats a store failure making the bot answer nothing at all.
            log.exception("could not record that %s was turned away", user_key(message))
            return True

"""The admins' commands: `/block` and `/unblock` (by reply or by id) and `/stats`. Only
admins get an answer; to everyone else these commands do not exist."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

from bot import stats
from bot.gate.access import Access, user_key
from bot.gate.pending import PendingFn
from bot.ports.backend import Backend
from bot.ports.chat import IncomingMessage
from bot.ports.store import Store
from bot.routing import Route
from bot.words import Lang, say

log = logging.getLogger(__name__)

#: The intents only admins may use.
ADMIN_INTENTS = frozenset({"stats", "block", "unblock"})

# "123", "telegram:123", or a Discord mention "<@123>" / "<@!123>".
_MENTION = re.compile(r"^<@!?(\d+)>$")
_KEY = re.compile(r"^(?:([a-z]+):)?(-?[0-9A-Za-z_]+)$")


def target_of(message: IncomingMessage, route: Route) -> tuple[str, str] | None:
    """Whom `/block` or `/unblock` names: ("platform:id", how to show them), from the
    replied-to message or the first word (an id, "platform:id", or a mention)."""
    if message.replied_to is not None:
        key = f"{message.chat.platform}:{message.replied_to.id}"
        return key, f"{message.replied_to.name} ({key})"
    words = route.text.split()
    if not words:
        return None
    word = words[0]
    if mention := _MENTION.match(word):
        word = mention.group(1)
    found = _KEY.match(word)
    if found is None:
        return None
    key = f"{found.group(1) or message.chat.platform}:{found.group(2)}"
    return key, key


class AdminCommands:
    """Answers an admin's `/block`, `/unblock` and `/stats`."""

    def __init__(
        self,
        access: Access,
        store: Store,
        backend: Backend,
        pending: PendingFn,
        clock: Callable[[], float],
    ) -> None:
        self._access = access
        self._store = store
        self._backend = backend
        self._pending = pending
        self._clock = clock

    async def answer(self, message: IncomingMessage, route: Route, lang: Lang) -> str:
        """The answer to one admin command."""
        if route.intent == "stats":
            pending = await self._pending(None)
            figures = await stats.today(self._store, self._backend, pending, self._clock)
            return stats.summary(figures, lang)
        target = target_of(message, route)
        if target is None:
            blocked = ", ".join(await self._store.blocked_users()) or "-"
            return say("block_usage", lang, users=blocked)
        key, shown = target
        if route.intent == "unblock":
            lifted = await self._store.unblock_user(key)
            log.info("%s unblocked %s", user_key(message), key)
            return say("unblock_done" if lifted else "unblock_none", lang, user=shown)
        if self._access.is_admin_key(key):
            return say("block_admin", lang, user=shown)
        await self._store.block_user(key, by=user_key(message))
        log.info("%s blocked %s", user_key(message), key)
        return say("block_done", lang, user=shown)

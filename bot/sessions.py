"""One backend session per chat: created on first need, kept in the store, recreated
once when the backend says it lost it."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from bot.errors import SessionLost
from bot.ports.backend import Backend, BackendSession
from bot.ports.chat import ChatKey
from bot.ports.store import Store
from bot.words import Lang

log = logging.getLogger(__name__)
T = TypeVar("T")


class Sessions:
    """Finds or opens the session of a chat, and retries a call once on a lost one."""

    def __init__(self, backend: Backend, store: Store) -> None:
        self._backend = backend
        self._store = store

    async def existing(self, chat: ChatKey) -> BackendSession | None:
        """The chat's stored session, if there is one."""
        return await self._store.get_session(chat, self._backend.name)

    async def get(self, chat: ChatKey, language: Lang) -> BackendSession:
        """The chat's session, opened and stored on first need."""
        session = await self.existing(chat)
        if session is None:
            session = await self._backend.open_session(language)
            await self._store.save_session(chat, self._backend.name, session)
            log.info("chat %s: opened a %s session", chat, self._backend.name)
        return session

    async def renew(self, chat: ChatKey, language: Lang) -> BackendSession:
        """Forget the chat's session and open a new one."""
        await self.forget(chat)
        return await self.get(chat, language)

    async def forget(self, chat: ChatKey) -> None:
        """Drop the stored session (the backend lost it)."""
        await self._store.delete_session(chat, self._backend.name)

    async def discard(self, chat: ChatKey) -> None:
        """Leave the chat's project for a new one (`/new`): forget it, and let the backend
        free what it keeps for it (a failure there is logged, never shown)."""
        session = await self.existing(chat)
        await self.forget(chat)
        if session is None:
            return
        try:
            await self._backend.discard(session)
        except Exception:
            log.warning(
                "chat %s: could not free session %s", chat, session.session_id, exc_info=True
            )

    async def call(
        self,
        chat: ChatKey,
        language: Lang,
        fn: Callable[[BackendSession], Awaitable[T]],
    ) -> T:
        """`fn(session)`; on `SessionLost`, a new session and `fn` again, once."""
        session = await self.get(chat, language)
        try:
            return await fn(session)
        except SessionLost:
            log.warning(
                "chat %s: the backend lost session %s; opening a new one", chat, session.session_id
            )
            session = await self.renew(chat, language)
            return await fn(session)

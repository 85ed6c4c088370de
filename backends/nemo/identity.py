"""Who Clipbot is to Nemo: the client id (made once, kept for good), the bearer token
(configured, or anonymous and renewed when it expires) and the user behind it.

The store keeps the client id and an anonymous token, so every process of one database
shares one identity (`bot.ports.store.IdentityStore`, the part of `Store` it needs).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable

from backends.nemo.wire import AnonymousToken
from bot.errors import TokenError
from bot.logs import redaction_filter
from bot.ports.store import Identity, IdentityStore

log = logging.getLogger(__name__)

BACKEND = "nemo"

#: Asks Nemo for an anonymous token for the current client id.
FetchAnonymous = Callable[[], Awaitable[AnonymousToken]]


class NemoIdentity:
    """The client id, the token and the user, found or made on first need."""

    def __init__(
        self,
        store: IdentityStore,
        fetch_anonymous: FetchAnonymous,
        *,
        token: str | None = None,
        client_id: str | None = None,
    ) -> None:
        self._store = store
        self._fetch = fetch_anonymous
        self._configured_token = token
        self._token = token
        self._client_id = client_id
        self._lock = asyncio.Lock()
        #: The Nemo user behind the token, once known (for the registration link).
        self.user_id: str | None = None
        if token:
            redaction_filter().add_secret(token)

    @property
    def anonymous(self) -> bool:
        """True when anonymous tokens are used (no NEMO_TOKEN configured)."""
        return not self._configured_token

    @property
    def known_client_id(self) -> str | None:
        """The client id if it is known yet (for the X-Client-Id header)."""
        return self._client_id

    def secrets(self) -> tuple[str, ...]:
        """The tokens in use, for redaction."""
        return tuple(s for s in (self._token, self._configured_token) if s)

    async def client_id(self) -> str:
        """The client id: configured, stored, or made now and kept for good."""
        if self._client_id:
            return self._client_id
        stored = await self._store.get_identity(BACKEND)
        if stored and stored.client_id:
            self._client_id = stored.client_id
            if stored.token and not self._token:
                self._use(stored.token)
            return stored.client_id
        self._client_id = str(uuid.uuid4())
        await self._save()
        return self._client_id

    async def token(self) -> str:
        """The bearer token: configured, stored, or a new anonymous one."""
        if self._token:
            return self._token
        async with self._lock:
            if self._token:
                return self._token
            await self.client_id()
            if not self._token:
                await self._new_anonymous()
            assert self._token is not None
            return self._token

    async def refresh(self, failed_token: str | None) -> None:
        """Nemo rejected `failed_token`: get a fresh anonymous one (once per failure)."""
        if not self.anonymous:
            raise TokenError("Nemo rejected the configured NEMO_TOKEN", code=1001)
        async with self._lock:
            if self._token and self._token != failed_token:
                return  # another task refreshed it meanwhile
            # Another process of the same database may have: its token is shared there
            # (a new one for each process would spend the few an address gets a week).
            stored = await self._store.get_identity(BACKEND)
            if stored and stored.token and stored.token != failed_token:
                self._use(stored.token)
                return
            self._token = None
            await self._new_anonymous()

    def _use(self, token: str) -> None:
        redaction_filter().add_secret(token)
        self._token = token

    async def _save(self) -> None:
        assert self._client_id is not None
        token = self._token if self.anonymous else None
        await self._store.save_identity(BACKEND, Identity(self._client_id, token))

    async def _new_anonymous(self) -> None:
        answer = await self._fetch()
        self._use(answer.token)
        if answer.user_id:
            self.user_id = answer.user_id
        await self._save()
        log.info("Nemo: obtained an anonymous token (user %s)", answer.user_id)

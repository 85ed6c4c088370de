"""What the Nemo client needs of the store: where its identity (the client id, kept for
good, and the token) is kept. `bot.ports.store.Store` fits, so every process of one
database shares one identity."""

from __future__ import annotations

from typing import Protocol

from bot.ports.store import Identity


class IdentityStore(Protocol):
    """The part of `bot.ports.store.Store` the Nemo client needs."""

    async def get_identity(self, backend: str) -> Identity | None:
        """The stored identity for a backend."""
        ...

    async def save_identity(self, backend: str, identity: Identity) -> None:
        """Create or replace the identity for a backend."""
        ...

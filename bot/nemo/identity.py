"""Where the Nemo identity (client id, kept for good, and the anonymous token) is kept."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Protocol

from storage.base import Identity


class IdentityStore(Protocol):
    """The part of `storage.base.Store` the Nemo client needs (the SQLite store fits)."""

    async def get_identity(self, backend: str) -> Identity | None:
        """The stored identity for a backend."""
        ...

    async def save_identity(self, backend: str, identity: Identity) -> None:
        """Create or replace the identity for a backend."""
        ...


class MemoryIdentityStore:
    """Identities kept in memory only (tests, one-off tools)."""

    def __init__(self) -> None:
        self.identities: dict[str, Identity] = {}

    async def get_identity(self, backend: str) -> Identity | None:
        """The stored identity for a backend."""
        return self.identities.get(backend)

    async def save_identity(self, backend: str, identity: Identity) -> None:
        """Create or replace the identity for a backend."""
        self.identities[backend] = identity


class FileIdentityStore:
    """Identities in one JSON file (mode 0600: it holds a token)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = asyncio.Lock()

    def _read(self) -> dict[str, dict[str, str | None]]:
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except ValueError:
            return {}
        return raw if isinstance(raw, dict) else {}

    def _write(self, data: dict[str, dict[str, str | None]]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh)
        os.chmod(tmp, 0o600)
        os.replace(tmp, self.path)

    async def get_identity(self, backend: str) -> Identity | None:
        """The stored identity for a backend."""
        entry = self._read().get(backend)
        if not isinstance(entry, dict) or not entry.get("client_id"):
            return None
        return Identity(client_id=str(entry["client_id"]), token=entry.get("token"))

    async def save_identity(self, backend: str, identity: Identity) -> None:
        """Create or replace the identity for a backend."""
        async with self._lock:
            data = self._read()
            data[backend] = {"client_id": identity.client_id, "token": identity.token}
            self._write(data)

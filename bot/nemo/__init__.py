"""The Nemo cloud backend: the HTTP client, the chat stream parser and the backend."""

from __future__ import annotations

from bot.nemo.backend import NemoBackend, create_backend
from bot.nemo.client import ClientConfig, NemoClient
from bot.nemo.identity import FileIdentityStore, IdentityStore, MemoryIdentityStore

__all__ = [
    "ClientConfig",
    "FileIdentityStore",
    "IdentityStore",
    "MemoryIdentityStore",
    "NemoBackend",
    "NemoClient",
    "create_backend",
]

"""The Nemo cloud backend: the HTTP client, the chat stream parser and the backend."""

from __future__ import annotations

from backends.nemo.backend import NemoBackend, create_backend
from backends.nemo.client import ClientConfig, NemoClient

__all__ = [
    "ClientConfig",
    "NemoBackend",
    "NemoClient",
    "create_backend",
]

"""The core every way of running Clipbot shares: store, backend and engine, opened
together and closed in reverse order."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from bot.config import Settings
from bot.engine import Engine
from bot.errors import BackendStartError
from bot.ports.backend import Backend
from bot.ports.store import Store


def make_backend(settings: Settings, store: Store) -> Backend:
    """The configured backend (imported lazily: each pulls in heavy libraries)."""
    if settings.backend == "model":
        raise BackendStartError("The model backend loads its weights first: use start_backend.")
    if settings.backend == "nemo":
        from backends.nemo import create_backend

        return create_backend(settings, store)
    from backends.local.backend import LocalBackend

    return LocalBackend(settings, store)


async def start_backend(settings: Settings, store: Store) -> Backend:
    """The configured backend, ready to work: the model backend loads its weights first
    (in a thread) and raises `BackendStartError` with one line when it cannot."""
    if settings.backend == "model":
        from backends.model import open_backend

        return await open_backend(settings)
    return make_backend(settings, store)


async def open_store(settings: Settings, *, memory: bool = False) -> Store:
    """PostgreSQL when `CLIPBOT_DATABASE_URL` names one, else the SQLite database in the
    data dir; or (`memory`) a store that keeps nothing."""
    if memory:
        from storage.memory import MemoryStore

        return MemoryStore()
    if settings.database_url is not None and settings.database_url.get_secret_value():
        from storage.postgres import PostgresStore

        return await PostgresStore.open(settings.database_url.get_secret_value())
    from storage.sqlite import SqliteStore

    return await SqliteStore.open(settings.db_path)


#: The garbage collector's thresholds for a long-running bot (CPython's are 700, 10, 10).
#: With many chats at once most objects (a request's coroutines, tasks, connections) live
#: for seconds: they outlive the young generations, and the default made a collection of
#: the whole heap about every second, 25-350 ms each, 12-20 % of the bot's CPU at 1000
#: chats (bench.load). One full collection for 100 middle ones instead of 10.
GC_THRESHOLDS = (700, 10, 100)


def tune_gc() -> None:
    """Set `GC_THRESHOLDS` (`clipbot run` and `clipbot worker` do, at start)."""
    gc.set_threshold(*GC_THRESHOLDS)


@dataclass(slots=True)
class Core:
    """What every way of running Clipbot shares."""

    settings: Settings
    store: Store
    backend: Backend
    engine: Engine


@asynccontextmanager
async def open_core(
    settings: Settings, backend: Backend | None = None, *, memory: bool = False
) -> AsyncIterator[Core]:
    """Open the store, the backend and the engine; close them in reverse order. `memory`:
    a store that keeps nothing (a one-shot run)."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = await open_store(settings, memory=memory)
    try:
        backend = backend or await start_backend(settings, store)
        engine = Engine(settings, backend, store)
        try:
            yield Core(settings, store, backend, engine)
        finally:
            await engine.aclose()
            await backend.aclose()
    finally:
        await store.close()

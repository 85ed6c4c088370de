"""Retention: what ended long ago is pruned, so the data dir does not grow for ever —
finished requests, render jobs, handled updates, and projects nobody touched."""

from __future__ import annotations

import asyncio
import logging
import time

from bot.ports.backend import Backend
from bot.ports.store import Store

log = logging.getLogger(__name__)

#: How often the periodic task runs.
EVERY_S = 3600.0


async def prune_once(store: Store, backend: Backend, days: float) -> dict[str, int]:
    """Prune everything older than `days`; returns how many of each kind went."""
    before = time.time() - days * 86400
    counts = dict(await store.prune(before))
    projects = 0
    for chat, session in await store.stale_sessions(backend.name, before):
        try:
            await backend.discard(session)
        except Exception:
            log.warning("retention: could not free session %s", session.session_id)
            continue
        await store.delete_session(chat, backend.name)
        projects += 1
    counts["projects"] = projects
    if any(counts.values()):
        log.info("retention: pruned %s (older than %g days)", counts, days)
    return counts


async def keep_pruning(store: Store, backend: Backend, days: float) -> None:
    """Prune at start and then every hour, until cancelled."""
    while True:
        try:
            await prune_once(store, backend, days)
        except Exception:
            log.exception("retention: pruning failed; trying again later")
        await asyncio.sleep(EVERY_S)

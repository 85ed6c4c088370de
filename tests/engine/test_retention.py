"""Retention: requests, jobs, updates and projects nobody touched are pruned."""

from __future__ import annotations

import asyncio

from bot.ports.backend import BackendSession
from bot.ports.chat import ChatKey
from bot.ports.store import NewRequest, RenderJob
from bot.retention import prune_once
from storage.memory import MemoryStore
from tests.engine.doubles import ScriptedBackend

OLD, ACTIVE = ChatKey("test", "old"), ChatKey("test", "active")


async def test_what_ended_before_the_window_goes_and_the_rest_stays() -> None:
    store, backend = MemoryStore(), ScriptedBackend()
    await store.save_session(OLD, backend.name, BackendSession("s-old"))
    done = await store.add_request(NewRequest(OLD, "u", "old clip"))
    await store.claim_requests("w", ["test"], 1, 30)
    await store.finish_request(done, "w", "done")
    await store.save_job(RenderJob("j-old", OLD, backend.name, "completed"))
    await asyncio.sleep(0.05)
    # A window of 0.02 s: everything above is older than that.
    await store.save_session(ACTIVE, backend.name, BackendSession("s-active"))
    counts = await prune_once(store, backend, days=0.02 / 86400)
    assert counts == {"requests": 1, "jobs": 1, "updates": 0, "inbox": 0, "projects": 1}
    assert backend.discarded == ["s-old"]  # the backend freed the old project
    assert await store.get_session(OLD, backend.name) is None
    assert await store.get_session(ACTIVE, backend.name) == BackendSession("s-active")
    assert await store.get_request(done) is None

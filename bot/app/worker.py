"""`clipbot worker`: only works — claims requests from the shared queue (Nemo turns,
renders, deliveries) and answers through the platforms' HTTP APIs, from the reply
addresses in the store. It receives nothing: `clipbot run` does that."""

from __future__ import annotations

import asyncio
import logging

from bot.app.core import open_core, tune_gc
from bot.app.serve import platform_adapters, stop_on_signals
from bot.config import Settings
from bot.errors import AdapterStartError
from bot.ports.chat import Adapter
from bot.retention import keep_pruning

log = logging.getLogger(__name__)


async def work(settings: Settings, *, stop: asyncio.Event | None = None) -> int:
    """Run the workers until SIGTERM / Ctrl-C (or `stop`); then let running requests
    finish for the grace period and leave the rest to the other processes."""
    if settings.database_url is None or not settings.database_url.get_secret_value():
        raise AdapterStartError(
            "A worker shares the queue of `clipbot run` through PostgreSQL: set "
            "CLIPBOT_DATABASE_URL (the same for every process; see docs/deploy.md). "
            "With SQLite, one `clipbot run` does all the work."
        )
    if stop is None:
        stop = asyncio.Event()
        stop_on_signals(stop)
    tune_gc()
    async with open_core(settings) as core:
        adapters = platform_adapters(core)
        if not adapters:
            raise AdapterStartError(
                "A worker answers on Telegram or Discord: set TELEGRAM_BOT_TOKEN or "
                "DISCORD_BOT_TOKEN (the same as the `clipbot run` it works for)."
            )
        started: list[Adapter] = []
        upkeep = asyncio.create_task(
            keep_pruning(core.store, core.backend, settings.retention_days), name="retention"
        )
        try:
            for adapter in adapters:
                await adapter.start(receive=False)
                started.append(adapter)
                core.engine.add_platform(adapter)
            core.engine.start()
            log.info("worker %s running for %s", core.engine.workers.owner,
                     ", ".join(a.name for a in started))  # fmt: skip
            await stop.wait()
        finally:
            upkeep.cancel()
            await core.engine.aclose(settings.shutdown_grace_s if stop.is_set() else 0.0)
            for adapter in reversed(started):
                try:
                    await adapter.stop()
                except Exception:
                    log.exception("stopping the %s adapter failed", adapter.name)
    return 0

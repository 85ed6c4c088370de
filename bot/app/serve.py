"""`clipbot run`: every configured adapter side by side in one event loop."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import signal
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.app.core import Core, open_core, tune_gc
from bot.app.side import start_side_server
from bot.config import Settings
from bot.ports.chat import Adapter
from bot.retention import keep_pruning

if TYPE_CHECKING:
    from adapters.terminal import TerminalAdapter

log = logging.getLogger(__name__)


def platform_adapters(core: Core) -> list[Adapter]:
    """An adapter for each platform whose token is configured (imported lazily)."""
    adapters: list[Adapter] = []
    for package, token in (
        ("adapters.telegram", core.settings.telegram_bot_token),
        ("adapters.discord", core.settings.discord_bot_token),
    ):
        if token is not None and token.get_secret_value():
            module: Any = importlib.import_module(package)
            adapters.append(module.create_adapter(core.settings, core.engine.handle, core.store))
    return adapters


def logs_to_file(path: Path) -> bool:
    """Send the log lines meant for the console to `path` instead, keeping their format
    and filters: in the terminal chat they would land between the bot's replies."""
    root = logging.getLogger()
    moved = False
    for handler in list(root.handlers):
        if type(handler) is logging.StreamHandler and handler.stream in (
            sys.stderr,
            sys.__stderr__,
        ):
            path.parent.mkdir(parents=True, exist_ok=True)
            to_file = logging.FileHandler(path, encoding="utf-8")
            to_file.setFormatter(handler.formatter)
            to_file.setLevel(handler.level)
            for filt in handler.filters:
                to_file.addFilter(filt)
            root.removeHandler(handler)
            root.addHandler(to_file)
            moved = True
    return moved


def stop_on_signals(stop: asyncio.Event) -> None:
    """Set `stop` on SIGINT and SIGTERM."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)


async def serve(
    settings: Settings, *, terminal: bool | None = None, stop: asyncio.Event | None = None
) -> int:
    """Run every configured adapter side by side until Ctrl-C / SIGTERM, `stop` (for an
    embedding program or a test), or the end of the terminal's input. With no platform
    token, the terminal chat runs.

    Requests queued or interrupted before (a crash, a deploy) resume at start. At the
    stop, intake ends first, running requests may finish for `CLIPBOT_SHUTDOWN_GRACE`
    seconds, and the rest stay queued where they got to, for the next start.
    """
    from adapters.terminal import TerminalAdapter

    if stop is None:
        stop = asyncio.Event()
        stop_on_signals(stop)
    tune_gc()
    async with open_core(settings) as core:
        adapters = [] if terminal else platform_adapters(core)
        term: TerminalAdapter | None = None
        log_file = settings.data_dir / "clipbot.log"
        log_note = False
        if terminal or not adapters:
            term = TerminalAdapter(
                core.engine.handle, settings.data_dir, language=settings.default_language
            )
            adapters.append(term)
            log_note = logs_to_file(log_file)
        for adapter in adapters:
            core.engine.add_platform(adapter)
        started: list[Adapter] = []
        upkeep = asyncio.create_task(
            keep_pruning(core.store, core.backend, settings.retention_days), name="retention"
        )
        side = await start_side_server(core)
        try:
            for adapter in adapters:
                await adapter.start()
                started.append(adapter)
                log.info("%s adapter running", adapter.name)
            core.engine.start()
            if log_note:
                print(f"(The bot's log goes to {log_file}.)", flush=True)
            await _until_stopped(stop, term, core.engine.idle)
        finally:
            upkeep.cancel()
            # Intake ends first; running work gets what is left of its grace period
            # (counted from the signal, as `docker stop` and Kubernetes count it) while
            # the adapters can still send; what is left stays queued for the next start.
            loop = asyncio.get_running_loop()
            deadline = loop.time() + (settings.shutdown_grace_s if stop.is_set() else 0.0)
            for adapter in started:
                try:
                    await adapter.stop_receiving()
                except Exception:
                    log.exception("stopping the %s adapter's intake failed", adapter.name)
            if stop.is_set():
                log.info("shutdown: intake stopped in %.1f s",
                         loop.time() - deadline + settings.shutdown_grace_s)  # fmt: skip
            await core.engine.aclose(max(0.0, deadline - loop.time()))
            for adapter in reversed(started):
                try:
                    await adapter.stop()
                except Exception:
                    log.exception("stopping the %s adapter failed", adapter.name)
            if side is not None:
                await side.stop()
    return 0


async def _until_stopped(
    stop: asyncio.Event, term: TerminalAdapter | None, idle: Callable[[], Coroutine[Any, Any, None]]
) -> None:
    waiters = [asyncio.create_task(stop.wait())]
    if term is not None:
        waiters.append(asyncio.create_task(term.finished.wait()))
    await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    for waiter in waiters:
        waiter.cancel()
    if term is not None and term.finished.is_set() and not stop.is_set():
        # The input ended (a piped script): let the last requests finish.
        finishing = asyncio.create_task(idle())
        halt = asyncio.create_task(stop.wait())
        await asyncio.wait([finishing, halt], return_when=asyncio.FIRST_COMPLETED)
        finishing.cancel()
        halt.cancel()

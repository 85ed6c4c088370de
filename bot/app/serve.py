"""`clipbot run`: every configured adapter side by side in one event loop."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import signal
import sys
from pathlib import Path
from typing import Any

from bot.app.core import Core, open_core
from bot.app.side import start_side_server
from bot.config import Settings
from bot.ports.chat import Adapter

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


def _stop_on_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)


async def serve(
    settings: Settings, *, terminal: bool | None = None, stop: asyncio.Event | None = None
) -> int:
    """Run every configured adapter side by side until Ctrl-C / SIGTERM, `stop` (for an
    embedding program or a test), or the end of the terminal's input. With no platform
    token, the terminal chat runs."""
    from adapters.terminal import TerminalAdapter

    if stop is None:
        stop = asyncio.Event()
        _stop_on_signals(stop)
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
        started: list[Adapter] = []
        side = await start_side_server(core)
        try:
            for adapter in adapters:
                await adapter.start()
                started.append(adapter)
                log.info("%s adapter running", adapter.name)
            if log_note:
                print(f"(The bot's log goes to {log_file}.)", flush=True)
            waiters = [asyncio.create_task(stop.wait())]
            if term is not None:
                waiters.append(asyncio.create_task(term.finished.wait()))
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            for waiter in waiters:
                waiter.cancel()
            if term is not None and term.finished.is_set() and not stop.is_set():
                # The input ended (a piped script): let the last requests finish.
                idle = asyncio.create_task(core.engine.idle())
                halt = asyncio.create_task(stop.wait())
                await asyncio.wait([idle, halt], return_when=asyncio.FIRST_COMPLETED)
                idle.cancel()
                halt.cancel()
        finally:
            # Work in flight ends first (cancelled, its requests marked failed), so that
            # nothing tries to send through an adapter whose connection is closing.
            await core.engine.aclose()
            for adapter in reversed(started):
                try:
                    await adapter.stop()
                except Exception:
                    log.exception("stopping the %s adapter failed", adapter.name)
            if side is not None:
                await side.stop()
    return 0

"""The status reporter: one status message per request, edited in place by a worker.

The code that waits on the backend only calls `stage()` and `percent()`; a worker task
turns those into edits at a throttled pace (at most one edit per interval per chat,
never the same text twice) and adds the elapsed time and "⏳ Still working…" marks.
While the reporter is open the channel shows "working".
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack, suppress
from dataclasses import dataclass
from types import TracebackType

from bot.ports.chat import MessageRef, OutgoingChannel
from bot.words import Lang, say

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Pace:
    """When a chat's status was last edited (shared by its reporters, loop time)."""

    last_edit: float = -math.inf


def format_elapsed(seconds: float) -> str:
    """`0:07`, `2:05`, `1:02:03`."""
    total = int(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class StatusReporter:
    """An async context manager that keeps one status message up to date."""

    def __init__(
        self,
        channel: OutgoingChannel,
        lang: Lang,
        *,
        edit_interval_s: float,
        still_working_s: float,
        pace: Pace | None = None,
        message: MessageRef | None = None,
        on_message: Callable[[MessageRef], Awaitable[None]] | None = None,
        adopt: Awaitable[str | None] | None = None,
    ) -> None:
        """`message`: a status message sent before (a resumed request) to carry on;
        `on_message`: told the status message once it is sent (to keep it for a resume);
        `adopt`: a message on its way (the intake's answer; its id, or None if it could
        not be sent) to carry on once it is out, instead of sending one."""
        self._channel = channel
        self._lang = lang
        self._interval = edit_interval_s
        self._still = still_working_s
        self._pace = pace or Pace()
        self._stage = ""
        self._percent: float | None = None
        self._note = ""
        self._final: str | None = None
        self._ref: MessageRef | None = message
        self._on_message = on_message
        self._adopt = adopt
        self._shown = ""
        self._changed = asyncio.Event()
        self._stack = AsyncExitStack()
        self._worker: asyncio.Task[None] | None = None
        self._started = 0.0
        self.edits = 0  # how many edits were made, for tests and the bench

    # --- what the waiting code calls ----------------------------------------------------

    def stage(self, text: str) -> None:
        """Show a new stage (already in the user's language); clears the percentage."""
        if text != self._stage or self._percent is not None:
            self._stage, self._percent = text, None
            self._changed.set()

    def note(self, text: str) -> None:
        """A line kept above the stage until the end (a resumed request says so)."""
        if text != self._note:
            self._note = text
            self._changed.set()

    def percent(self, value: float | None) -> None:
        """Show progress of the current stage, 0-100."""
        value = None if value is None else max(0.0, min(100.0, value))
        if value != self._percent:
            self._percent = value
            self._changed.set()

    @property
    def message(self) -> MessageRef | None:
        """The status message, once sent."""
        return self._ref

    # --- lifecycle ----------------------------------------------------------------------

    async def __aenter__(self) -> StatusReporter:
        loop = asyncio.get_running_loop()
        self._started = loop.time()
        await self._stack.enter_async_context(self._channel.working())
        self._worker = asyncio.create_task(self._run(), name="status-reporter")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        key = "stage_done" if exc_type is None else "stage_failed"
        self._final = say(key, self._lang)
        self._changed.set()
        try:
            if self._worker is not None:
                if exc_type is asyncio.CancelledError:
                    self._worker.cancel()
                await asyncio.gather(self._worker, return_exceptions=True)
        finally:
            await self._stack.aclose()

    # --- the worker ---------------------------------------------------------------------

    def _elapsed(self) -> float:
        return asyncio.get_running_loop().time() - self._started

    def _render(self) -> str:
        elapsed = self._elapsed()
        head = self._final or self._stage
        if self._final is None and self._percent is not None:
            head = f"{head} {self._percent:.0f}%"
        if elapsed >= 1:
            head = f"{head} ({format_elapsed(elapsed)})"
        if self._final is None and self._still > 0 and elapsed >= self._still:
            head = f"{say('still_working', self._lang)}\n{head}"
        if self._final is None and self._note:
            head = f"{self._note}\n{head}"
        return head

    def _until_next_tick(self) -> float:
        # The text changes by itself when the shown elapsed time does.
        step = max(1.0, self._interval)
        elapsed = self._elapsed()
        until = (math.floor(elapsed / step) + 1) * step - elapsed
        if self._still > 0:
            until = min(until, (math.floor(elapsed / self._still) + 1) * self._still - elapsed)
        return max(0.01, until)

    async def _adopt_message(self, adopt: Awaitable[str | None]) -> None:
        try:
            ref = await adopt
        except Exception:
            ref = None
        if ref is None:
            return
        self._ref = MessageRef(ref)
        if self._on_message is not None:
            try:
                await self._on_message(self._ref)
            except Exception:  # kept for a resume only: never worth stopping the work
                log.warning("could not record the status message", exc_info=True)

    async def _show(self, text: str) -> None:
        loop = asyncio.get_running_loop()
        try:
            if self._ref is None:
                self._ref = await self._channel.send_text(text)
                if self._on_message is not None:
                    await self._on_message(self._ref)
            else:
                await self._channel.edit_text(self._ref, text)
                self.edits += 1
        except Exception:  # a failed status edit must never stop the work
            log.warning("status message update failed", exc_info=True)
        self._shown = text
        self._pace.last_edit = loop.time()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        if self._adopt is not None and self._ref is None:
            await self._adopt_message(self._adopt)
        while True:
            if self._final is not None and self._ref is None:
                return  # nothing was ever shown: no "done" message out of the blue
            if self._stage or self._final:
                if self._ref is not None:
                    wait = self._pace.last_edit + self._interval - loop.time()
                    if wait > 0:
                        await asyncio.sleep(wait)
                text = self._render()
                if text != self._shown:
                    await self._show(text)
            if self._final is not None:
                return
            self._changed.clear()
            with suppress(TimeoutError):
                async with asyncio.timeout(self._until_next_tick()):
                    await self._changed.wait()

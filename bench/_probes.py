"""Where the time goes in a load run: per-call latencies, the event loop's lag, and the
CPU of the bot's process against the emulator's."""

from __future__ import annotations

import asyncio
import gc
import os
import resource
import statistics
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any


def pct(values: list[float], q: float) -> float:
    """The `q` quantile (nearest rank) of `values`."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


@dataclass
class CallTimes:
    """Durations of each named call, in seconds."""

    seconds: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))

    def wrap(self, owner: Any, name: str, label: str | None = None) -> None:
        """Time every call of the coroutine method `owner.name`."""
        method: Callable[..., Awaitable[Any]] = getattr(owner, name)

        async def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return await method(*args, **kwargs)
            finally:
                self.seconds[label or name].append(time.perf_counter() - started)

        setattr(owner, name, timed)

    def wrap_stream(self, owner: Any, name: str, label: str | None = None) -> None:
        """Time every async-generator call of `owner.name`, first item to last."""
        method: Callable[..., AsyncIterator[Any]] = getattr(owner, name)

        async def timed(*args: Any, **kwargs: Any) -> AsyncIterator[Any]:
            started = time.perf_counter()
            try:
                async for item in method(*args, **kwargs):
                    yield item
            finally:
                self.seconds[label or name].append(time.perf_counter() - started)

        setattr(owner, name, timed)

    def lines(self) -> list[str]:
        """One line per call: how many, median, p99, and the total time spent waiting."""
        out = []
        for label, values in sorted(self.seconds.items(), key=lambda kv: -sum(kv[1])):
            median = statistics.median(values) * 1000
            out.append(
                f"    {label:<16} n={len(values):<5} median {median:7.1f} ms"
                f"  p99 {pct(values, 0.99) * 1000:7.1f} ms  total {sum(values):7.1f} s"
            )
        return out


class LoopLag:
    """How late the event loop wakes a task that asked to sleep `tick_s`: when the loop
    is busy, every callback in it (every reply) waits that long too."""

    def __init__(self, tick_s: float = 0.05) -> None:
        self.tick_s = tick_s
        self.lags: list[float] = []
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            asked = loop.time()
            await asyncio.sleep(self.tick_s)
            self.lags.append(max(0.0, loop.time() - asked - self.tick_s))

    def start(self) -> None:
        """Start measuring."""
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        """Stop measuring."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def line(self) -> str:
        """Median, p99 and worst lag."""
        if not self.lags:
            return "  event loop lag: no samples"
        return (
            f"  event loop lag: median {statistics.median(self.lags) * 1000:.1f} ms, "
            f"p99 {pct(self.lags, 0.99) * 1000:.1f} ms, max {max(self.lags) * 1000:.0f} ms"
        )


class GcPauses:
    """Time spent in the garbage collector: every collection stops the event loop."""

    def __init__(self) -> None:
        self.pauses: dict[int, list[float]] = defaultdict(list)
        self._started = 0.0

    def _on(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.pauses[info["generation"]].append(time.perf_counter() - self._started)

    def start(self) -> None:
        """Start timing collections."""
        gc.callbacks.append(self._on)

    def stop(self) -> None:
        """Stop timing collections."""
        gc.callbacks.remove(self._on)

    def line(self) -> str:
        """Collections per generation: how many, the total and the longest pause."""
        parts = [
            f"gen {g}: {len(p)}× total {sum(p):.2f} s max {max(p) * 1000:.0f} ms"
            for g, p in sorted(self.pauses.items())
        ]
        return "  garbage collector: " + ("; ".join(parts) or "no collections")


def own_cpu_s() -> float:
    """CPU seconds used by this process so far (all threads)."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def process_cpu_s(pid: int) -> float | None:
    """CPU seconds used by process `pid` so far (Linux), or None where unreadable."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks  # utime, stime

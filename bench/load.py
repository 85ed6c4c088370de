"""Load benchmark: many chats at once against the Nemo emulator.

Each chat sends one photo with a caption: upload → instruction → export → MP4 handed to
the channel. The agent answers instantly; renders take `--render-s` seconds on the
emulator, and the backend polls them at its production pace (first check after
`NEMO_RENDER_POLL_FIRST`, backing off to `NEMO_RENDER_POLL_MAX`).

Prints the time from each incoming message to the first reply (median, p99), the total
time, the peak memory of the bot's process (the emulator runs in its own), and the time
from "render completed" on the emulator to the MP4 handed to the channel; then where the
time goes: that delay split into its steps, every Nemo call's latency, the event loop's
lag, and the CPU of the bot against the emulator's (when the emulator is the one near a
full core, the run measures the emulator and says so).

    python -m bench.load [--chats 200] [--render-s 3]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import logging
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench._probes import CallTimes, GcPauses, LoopLag, own_cpu_s, pct, process_cpu_s
from bot.app.core import open_core, tune_gc
from bot.ports.backend import Backend, BackendSession, ExportDone, ExportEvent, ProjectState
from bot.ports.chat import (
    Attachment,
    Button,
    ChatKey,
    MessageRef,
    ReplyAddress,
    Sender,
    VideoInfo,
)
from bot.ports.store import Store


@dataclass
class BenchChannel:
    """An outgoing channel that notes when things arrive (wall clock, like the emulator)."""

    chat_id: str = "0"
    first_reply: float | None = None
    delivered: float | None = None
    texts: list[str] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=itertools.count)

    @property
    def max_upload_bytes(self) -> int | None:
        return 50 * 1024 * 1024

    @property
    def address(self) -> ReplyAddress:
        return ReplyAddress("bench", self.chat_id)

    def _reply(self) -> MessageRef:
        if self.first_reply is None:
            self.first_reply = time.time()
        return MessageRef(str(next(self._ids)))

    async def send_text(self, text: str, buttons: Sequence[Button] = ()) -> MessageRef:
        self.texts.append(text)
        return self._reply()

    async def edit_text(self, ref: MessageRef, text: str) -> None:
        return None

    async def send_video(
        self,
        path: Path,
        caption: str,
        info: VideoInfo,
        buttons: Sequence[Button] = (),
        *,
        key: str | None = None,
    ) -> MessageRef:
        self.delivered = time.time()
        return self._reply()

    async def send_link(
        self,
        url: str,
        caption: str,
        buttons: Sequence[Button] = (),
        *,
        key: str | None = None,
    ) -> MessageRef:
        self.texts.append(url)
        return self._reply()

    @asynccontextmanager
    async def _working(self) -> AsyncIterator[None]:
        yield

    def working(self) -> AbstractAsyncContextManager[None]:
        return self._working()


def _note_fetched(backend: Backend) -> dict[str, float]:
    """Note when the backend has the MP4 on disk (per session), to split the delay."""
    fetched: dict[str, float] = {}
    export = backend.export

    async def timed(
        session: BackendSession,
        state: ProjectState,
        dest_dir: Path,
        *,
        max_bytes: int | None = None,
        resume: str | None = None,
    ) -> AsyncIterator[ExportEvent]:
        async for event in export(session, state, dest_dir, max_bytes=max_bytes, resume=resume):
            if isinstance(event, ExportDone):
                fetched[session.session_id] = time.time()
            yield event

    backend.export = timed  # type: ignore[method-assign]
    return fetched


def _note_read(store: Store) -> dict[str, float]:
    """Note when each chat's intake has its one read back from the store."""
    read: dict[str, float] = {}
    screening = store.screening

    async def timed(chat: ChatKey, sender: tuple[str, str], user: str, since: float) -> Any:
        found = await screening(chat, sender, user, since)
        read[chat.chat_id] = time.time()
        return found

    store.screening = timed  # type: ignore[method-assign]
    return read


class _BenchPlatform:
    """The bench's chats: their channels, and local files as attachments."""

    name = "bench"

    def __init__(self, channels: list[BenchChannel]) -> None:
        self._channels = channels

    def channel_for(self, address: ReplyAddress) -> BenchChannel:
        return self._channels[int(address.chat_id)]

    async def fetch(self, attachment: Attachment, dest: Path) -> None:
        from adapters.terminal.conversion import fetch_local

        await fetch_local(attachment, dest)


def _time_calls(backend: Backend) -> tuple[CallTimes, dict[str, float]]:
    """Time the Nemo backend's calls; note when each render was first seen completed."""
    calls = CallTimes()
    seen: dict[str, float] = {}
    client = getattr(backend, "client", None)
    if client is None:
        return calls, seen
    for name in ("create_session", "upload", "state", "submit_render", "download"):
        calls.wrap(client, name)
    calls.wrap(client, "claim_token", "claim (link)")
    calls.wrap_stream(backend, "instruct", "turn (stream)")
    status = client.render_status

    async def render_status(job_id: str) -> Any:
        started = time.perf_counter()
        try:
            found = await status(job_id)
        finally:
            calls.seconds["render_status"].append(time.perf_counter() - started)
        if found.status == "completed":
            seen.setdefault(job_id, time.time())
        return found

    client.render_status = render_status
    return calls, seen


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


_EMULATOR_CONFIG = {
    "text_s": 0.0,
    "edit_s": 0.0,
    "generation_s": 0.0,
    "keepalive_interval_s": 0.5,
    "partial_chunks": 1,
    "render_pending_s": 0.0,
    "initial_credits": 10**9,
}


async def _serve_emulator(render_s: float) -> None:
    """The child process: an emulator with instant answers, until stdin closes."""
    from fakes.nemo.server import NemoEmulator

    emu = NemoEmulator()
    emu.config.update({**_EMULATOR_CONFIG, "render_s": render_s})
    url = await emu.start()
    print(url, flush=True)
    await asyncio.to_thread(sys.stdin.read)
    await emu.stop()


@asynccontextmanager
async def _emulator_process(render_s: float) -> AsyncIterator[tuple[str, int]]:
    """The emulator in its own process, so the numbers are the bot's alone."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.load", "--serve-emulator", "--render-s", str(render_s),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 60)
        if not line:
            raise RuntimeError("the emulator did not start")
        yield line.decode().strip(), proc.pid
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            await asyncio.wait_for(proc.wait(), 10)
        except TimeoutError:
            proc.kill()
            await proc.wait()


async def run(
    chats: int, render_s: float, poll_max_s: float | None = None, report: list[str] | None = None
) -> dict[str, float]:
    """Run the benchmark and return its numbers; `report` receives where the time went."""
    import httpx
    from PIL import Image

    from adapters.terminal.conversion import message
    from bot.config import Settings

    async with _emulator_process(render_s) as (url, emulator_pid):
        with tempfile.TemporaryDirectory(prefix="clipbot-bench-") as tmp:
            root = Path(tmp)
            photo = root / "photo.png"
            Image.new("RGB", (320, 240), (40, 90, 160)).save(photo)
            settings = Settings.load(
                None,
                backend="nemo",
                data_dir=root / "data",
                nemo_base_url=url,
                log_level="WARNING",
                **({"nemo_render_poll_max_s": poll_max_s} if poll_max_s else {}),
            )
            tune_gc()  # as `clipbot run` does
            async with open_core(settings) as core:
                fetched = _note_fetched(core.backend)
                read = _note_read(core.store)
                calls, seen = _time_calls(core.backend)
                channels = [BenchChannel(str(i)) for i in range(chats)]
                # Made before the clock starts: the terminal's conversion of a file path
                # (resolve, stat, MIME type) is not what an update costs on a platform.
                incoming = [
                    message(
                        "a 5-second zoom-in, 9:16",
                        [photo],
                        chat=ChatKey("bench", str(i)),
                        sender=Sender(str(i), "b"),
                    )
                    for i in range(chats)
                ]
                core.engine.add_platform(_BenchPlatform(channels))
                sent: list[float] = [0.0] * chats
                lag, collections = LoopLag(), GcPauses()
                lag.start()
                collections.start()
                cpu0, emu0 = own_cpu_s(), process_cpu_s(emulator_pid)
                started = time.time()

                async def one(i: int) -> None:
                    sent[i] = time.time()
                    await core.engine.handle(incoming[i], channels[i])

                await asyncio.gather(*(one(i) for i in range(chats)))
                await core.engine.idle()
                total = time.time() - started
                bot_cpu, emu1 = own_cpu_s() - cpu0, process_cpu_s(emulator_pid)
                await lag.stop()
                collections.stop()
                sessions = {
                    i: await core.store.get_session(ChatKey("bench", str(i)), "nemo")
                    for i in range(chats)
                }
        async with httpx.AsyncClient(timeout=30) as http:
            renders = (await http.post(f"{url}/_emulator/renders", json={})).json()
    first = [
        (c.first_reply - t0) * 1000
        for c, t0 in zip(channels, sent, strict=True)
        if c.first_reply is not None
    ]
    completed = {
        job["session_id"]: float(job["completed_at"])
        for job in renders.values()
        if job.get("completed_at")
    }
    seen_by_session = {
        job["session_id"]: seen[job_id] for job_id, job in renders.items() if job_id in seen
    }
    to_delivery, to_fetched, to_seen = [], [], []
    for i, channel in enumerate(channels):
        session = sessions[i]
        done_at = completed.get(session.session_id) if session else None
        if session is not None and done_at is not None and channel.delivered is not None:
            to_delivery.append(channel.delivered - done_at)
            if session.session_id in fetched:
                to_fetched.append(fetched[session.session_id] - done_at)
            if session.session_id in seen_by_session:
                to_seen.append(seen_by_session[session.session_id] - done_at)
    emulator_cpu = emu1 - emu0 if emu0 is not None and emu1 is not None else -1.0
    # The first reply in two: the intake's one read of the store, then the rest to the
    # answer (the gate, the language, the request handed to the store, the send).
    to_read = [
        (read[c.chat_id] - t0) * 1000 for c, t0 in zip(channels, sent, strict=True)
        if c.chat_id in read and c.first_reply is not None
    ]  # fmt: skip
    read_to_reply = [
        (c.first_reply - read[c.chat_id]) * 1000 for c in channels
        if c.chat_id in read and c.first_reply is not None
    ]  # fmt: skip
    if report is not None:
        report.append("where the first reply's time goes:")
        report.append(_steps("message → the intake's one read of the store back", to_read, "ms"))
        report.append(_steps("read back → first reply sent", read_to_reply, "ms"))
        report.extend(_where(to_seen, to_fetched, to_delivery, calls, lag, total))
        report.append(collections.line())
        report.extend(_cpu_lines(bot_cpu, emulator_cpu, total))
    failed = [c.texts[-1] for c in channels if c.delivered is None and c.texts]
    if failed:
        print(f"{len(failed)} chats got no clip; e.g. {failed[0]!r}", file=sys.stderr)
    return {
        "chats": chats,
        "delivered": sum(c.delivered is not None for c in channels),
        "first_reply_median_ms": statistics.median(first),
        "first_reply_p99_ms": pct(first, 0.99),
        "total_s": total,
        "peak_memory_mb": _peak_mb(),
        "render_to_delivery_median_s": statistics.median(to_delivery) if to_delivery else -1,
        "render_to_delivery_p99_s": pct(to_delivery, 0.99) if to_delivery else -1,
        "render_to_fetched_median_s": statistics.median(to_fetched) if to_fetched else -1,
        "render_to_seen_median_s": statistics.median(to_seen) if to_seen else -1,
        "bot_cpu_s": bot_cpu,
        "emulator_cpu_s": emulator_cpu,
        "loop_lag_p99_ms": pct(lag.lags, 0.99) * 1000 if lag.lags else -1,
    }


def _steps(label: str, values: list[float], unit: str = "s") -> str:
    if not values:
        return f"  {label}: no samples"
    digits = 1 if unit == "ms" else 2
    median, p99 = statistics.median(values), pct(values, 0.99)
    return f"  {label}: median {median:.{digits}f} {unit}, p99 {p99:.{digits}f} {unit}"


def _where(
    to_seen: list[float],
    to_fetched: list[float],
    to_delivery: list[float],
    calls: CallTimes,
    lag: LoopLag,
    total: float,
) -> list[str]:
    """Where the time went: the delivery delay in steps, each call, the loop's lag."""
    fetch = [f - s for s, f in zip(to_seen, to_fetched, strict=False)]
    hand = [d - f for f, d in zip(to_fetched, to_delivery, strict=False)]
    return [
        "where the time goes:",
        _steps("render completed → seen by a status poll", to_seen),
        _steps("seen → MP4 fetched and probed", fetch),
        _steps("fetched → handed to the channel", hand),
        "  Nemo calls, as the bot waited for them (sorted by total time):",
        *calls.lines(),
        lag.line(),
    ]


def _cpu_lines(bot_cpu: float, emulator_cpu: float, wall: float) -> list[str]:
    """The CPU of each process, as a share of one core over the run."""
    lines = [
        f"  CPU over the {wall:.1f} s run: bot {bot_cpu:.1f} s ({bot_cpu / wall:.0%} of a core), "
        f"emulator {emulator_cpu:.1f} s ({emulator_cpu / wall:.0%} of a core)"
    ]
    if emulator_cpu / wall >= 0.8:
        lines.append(
            "  NOTE: the emulator was near a full core: it may be what limits this run, "
            "not the bot."
        )
    if bot_cpu / wall >= 0.8:
        lines.append(
            "  NOTE: the bot's process was near a full core: its event loop is the limit "
            "(see the lag above)."
        )
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    """Run and print the benchmark."""
    parser = argparse.ArgumentParser(prog="python -m bench.load")
    parser.add_argument("--chats", type=int, default=200)
    parser.add_argument("--render-s", type=float, default=3.0)
    parser.add_argument(
        "--poll-max", type=float, default=None, help="override NEMO_RENDER_POLL_MAX (s)"
    )
    parser.add_argument("--serve-emulator", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_emulator:
        asyncio.run(_serve_emulator(args.render_s))
        return 0
    logging.basicConfig(level=logging.WARNING)
    report: list[str] = []
    numbers = asyncio.run(run(args.chats, args.render_s, args.poll_max, report))
    print(f"chats: {numbers['chats']:.0f}, clips delivered: {numbers['delivered']:.0f}")
    print(
        "message → first reply: "
        f"median {numbers['first_reply_median_ms']:.1f} ms, "
        f"p99 {numbers['first_reply_p99_ms']:.1f} ms (target p99 < 100 ms)"
    )
    print(f"total time: {numbers['total_s']:.2f} s")
    print(f"peak memory: {numbers['peak_memory_mb']:.0f} MB (target < 250 MB)")
    print(
        "render completed → MP4 handed to the channel: "
        f"median {numbers['render_to_delivery_median_s']:.2f} s, "
        f"p99 {numbers['render_to_delivery_p99_s']:.2f} s "
        "(target < 2.5 s; fixed 30 s polling averages 15 s)"
    )
    print(
        "  of which render completed → MP4 fetched by the backend: "
        f"median {numbers['render_to_fetched_median_s']:.2f} s"
    )
    print("\n".join(report))
    ok = numbers["delivered"] == numbers["chats"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

"""Scale-out: throughput and time to the clip with 1, 2 and 3 worker processes.

`python -m bench.scale [--requests 60] [--concurrency 6]` runs the real bot processes on
the fake Telegram Bot API and the Nemo emulator (both in this process; the emulator's
turns and renders take a second each, so the work is waiting, not CPU):

- SQLite, one `clipbot run` (SQLite is the one-process default);
- PostgreSQL (`CLIPBOT_BENCH_DATABASE_URL`, or the tests' `CLIPBOT_TEST_DATABASE_URL`, a
  server URL: a fresh database is made), one `clipbot run` plus 0, 1, 2 `clipbot worker`.

Each process runs at most `--concurrency` requests at once, so adding workers adds
capacity. It prints requests per second and p50/p99 from the message to the clip for each,
then how long one claim takes on each store with 1000 requests queued over 200 chats.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench._pg import database_on
from bench._process import BotProcess, bot_env, jpeg
from bot.ports.chat import ChatKey
from bot.ports.store import NewRequest, Store
from fakes.nemo.server import NemoEmulator
from fakes.telegram.api import FakeBotApi
from fakes.telegram.updates import message, photo_sizes, private_chat, update, user


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


async def _run_once(
    requests: int, concurrency: int, workers: int, database: str | None
) -> tuple[float, list[float]]:
    """One configuration: (requests per second, seconds from message to clip each)."""
    api, emulator = FakeBotApi(), NemoEmulator()
    await api.start()
    await emulator.start()
    emulator.config.update(
        {"generation_s": 1.0, "edit_s": 1.0, "text_s": 0.05, "render_s": 1.0,
         "initial_credits": 10**9, "keepalive_interval_s": 0.5}
    )  # fmt: skip
    processes: list[BotProcess] = []
    with tempfile.TemporaryDirectory(prefix="clipbot-scale-") as tmp:
        root = Path(tmp)

        def env(name: str) -> dict[str, str]:
            extra = {"CLIPBOT_DATABASE_URL": database} if database else {}
            return bot_env(
                api, root / name / "data", CLIPBOT_BACKEND="nemo",
                NEMO_BASE_URL=emulator.base_url, NEMO_RENDER_POLL_FIRST="0.2",
                NEMO_RENDER_POLL_MAX="0.5", CLIPBOT_CONCURRENCY=str(concurrency),
                CLIPBOT_STATUS_EDIT_INTERVAL="2", CLIPBOT_LOG_LEVEL="WARNING", **extra,
            )  # fmt: skip

        processes.append(BotProcess(env("run"), root / "run", root / "run.log"))
        for i in range(workers - 1):
            processes.append(
                BotProcess(env(f"w{i}"), root / f"w{i}", root / f"w{i}.log", command="worker")
            )
        try:
            for process in processes:
                await process.start()
            await api.wait_for(lambda: api.calls_to("getUpdates"), wait_s=60)
            await asyncio.sleep(2.0)  # every worker up
            photo = api.add_file(jpeg(1))
            people = [user(9000 + i, f"S{i}") for i in range(requests)]
            sent: dict[str, float] = {}
            started = time.monotonic()
            for person in people:
                sent[str(person["id"])] = time.monotonic()
                api.push_update(
                    update(
                        message(private_chat(person), person, caption="animate it",
                                photo=photo_sizes(photo))
                    )
                )  # fmt: skip
            await api.wait_for(lambda: len(api.calls_to("sendVideo")) >= requests, wait_s=600)
            elapsed = time.monotonic() - started
        finally:
            for process in processes:
                await process.stop()
            await emulator.stop()
            await api.stop()
    videos = api.calls_to("sendVideo")
    to_clip = [c.at - sent[c.params["chat_id"]] for c in videos if c.params["chat_id"] in sent]
    return requests / elapsed, to_clip


async def _claim_times(store: Store) -> float:
    """Median seconds of one claim (of one request) with 1000 queued over 200 chats."""
    for i in range(1000):
        await store.add_request(NewRequest(ChatKey("bench", str(i % 200)), "u", "r"))
    seconds = []
    for _ in range(200):
        began = time.perf_counter()
        [claimed] = await store.claim_requests("w", ["bench"], 1, 60)
        seconds.append(time.perf_counter() - began)
        await store.finish_request(claimed.id, "w", "done")
    return statistics.median(seconds)


async def run(requests: int, concurrency: int) -> None:
    """Run every configuration and print its figures."""
    from storage.sqlite import SqliteStore

    server = os.environ.get("CLIPBOT_BENCH_DATABASE_URL") or os.environ.get(
        "CLIPBOT_TEST_DATABASE_URL", ""
    )
    rows: list[tuple[str, int, float, list[float]]] = []
    rate, times = await _run_once(requests, concurrency, 1, None)
    rows.append(("SQLite", 1, rate, times))
    if server:
        for workers in (1, 2, 3):
            async with database_on(server, "clipbot_bench") as url:
                rate, times = await _run_once(requests, concurrency, workers, url)
            rows.append(("PostgreSQL", workers, rate, times))
    print(f"{requests} requests (one per chat), at most {concurrency} at once per process;")
    print("the emulator's turns and renders take about a second each")
    print(f"{'store':<11} {'processes':>9} {'req/s':>7} {'p50 to clip':>12} {'p99 to clip':>12}")
    for store, workers, rate, times in rows:
        print(
            f"{store:<11} {workers:>9} {rate:>7.2f} {_pct(times, 0.5):>11.2f}s "
            f"{_pct(times, 0.99):>11.2f}s"
        )
    if not server:
        print("PostgreSQL: skipped (set CLIPBOT_BENCH_DATABASE_URL to a server's URL)")
    with tempfile.TemporaryDirectory() as tmp:
        sqlite = await SqliteStore.open(Path(tmp) / "claims.sqlite3")
        try:
            print(f"one claim, SQLite: {await _claim_times(sqlite) * 1000:.2f} ms (median)")
        finally:
            await sqlite.close()
    if server:
        from storage.postgres import PostgresStore

        async with database_on(server, "clipbot_bench") as url:
            pg = await PostgresStore.open(url)
            try:
                print(f"one claim, PostgreSQL: {await _claim_times(pg) * 1000:.2f} ms (median)")
            finally:
                await pg.close()


def main() -> None:
    """Run with the command line's options."""
    parser = argparse.ArgumentParser(prog="python -m bench.scale")
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--concurrency", type=int, default=6)
    args = parser.parse_args(sys.argv[1:])
    asyncio.run(run(args.requests, args.concurrency))


if __name__ == "__main__":
    main()

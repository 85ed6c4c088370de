"""Telegram adapter overhead: update → handler latency and reply round trips, measured
with the real python-telegram-bot against the loopback fake Bot API."""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from adapters.telegram import TelegramAdapter
from bot.config import Settings
from bot.ports.chat import IncomingMessage, OutgoingChannel
from fakes.telegram.api import TOKEN, FakeBotApi
from fakes.telegram.updates import message as text_message
from fakes.telegram.updates import private_chat, update, user
from storage.sqlite import SqliteStore


async def _run(count: int) -> None:
    api = FakeBotApi()
    await api.start()
    arrived: asyncio.Queue[tuple[float, OutgoingChannel]] = asyncio.Queue()

    async def handler(message: IncomingMessage, channel: OutgoingChannel) -> None:
        arrived.put_nowait((time.perf_counter(), channel))

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings.load(
            None,
            telegram_bot_token=TOKEN,
            telegram_api_base_url=api.base_url,
            telegram_file_base_url=api.file_base_url,
            data_dir=Path(tmp),
        )
        store = await SqliteStore.open(settings.db_path)
        adapter = TelegramAdapter(settings, handler, store, poll_timeout_s=5.0)
        await adapter.start()
        ada = user()
        latencies: list[float] = []
        replies: list[float] = []
        try:
            for i in range(count):
                pushed = time.perf_counter()
                api.push_update(update(text_message(private_chat(ada), ada, text=f"m{i}")))
                got, channel = await arrived.get()
                latencies.append(got - pushed)
                started = time.perf_counter()
                await channel.send_text(f"r{i}")
                replies.append(time.perf_counter() - started)
        finally:
            await adapter.stop()
            await store.close()
            await api.stop()
    for name, values in (("update → handler", latencies), ("sendMessage round trip", replies)):
        ms = sorted(v * 1000 for v in values)
        print(
            f"{name}: median {statistics.median(ms):.1f} ms, "
            f"p90 {ms[int(len(ms) * 0.9) - 1]:.1f} ms (n={len(ms)})"
        )


def main() -> None:
    """Print the medians (`--count N` messages, default 100)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=100)
    asyncio.run(_run(parser.parse_args().count))


if __name__ == "__main__":
    main()

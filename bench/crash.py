"""Crashes: 100 requests over 20 chats, the bot killed with SIGKILL at random moments.

`python -m bench.crash [--chats 20] [--per-chat 5] [--kills 10] [--seed 1]` runs the real
bot (`clipbot run`) as a child process on the fake Telegram Bot API and the Nemo
emulator (both in this process), sends every chat its requests (a photo, then edits),
kills the bot at random moments at least `--kills` times, starting it again each time on
the same data dir, and then lets it finish. It prints:

- requests lost (never delivered) — target 0;
- clips sent twice (the window between the platform's answer and its record) — target:
  at most one per kill;
- Nemo turns sent twice — target 0;
- chats whose clips arrived out of order — target 0;
- the time from a restart to its first resumed delivery (median, max).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import logging
import os
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from PIL import Image

from bench._process import BotProcess, bot_env
from fakes.nemo.server import NemoEmulator
from fakes.telegram.api import FakeBotApi
from fakes.telegram.updates import message, photo_sizes, private_chat, update, user

#: Each request of a chat leaves a clip of a different (seconds, width, height): that is
#: how a delivered clip is told apart. The emulator renders 320 px on the long side.
STEPS = (
    ("animate it, 1 seconds", (1, 320, 180)),
    ("make it 2 seconds", (2, 320, 180)),
    ("make it 3 seconds", (3, 320, 180)),
    ("make it 9:16", (3, 180, 320)),
    ("make it 1:1", (3, 320, 320)),
)


def _jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (320, 240), (40, 90, 160)).save(buffer, "JPEG")
    return buffer.getvalue()


async def run(chats: int, per_chat: int, kills: int, seed: int) -> dict[str, float]:
    """Run the benchmark; its figures."""
    rng = random.Random(seed)
    steps = STEPS[:per_chat]
    api, emulator = FakeBotApi(), NemoEmulator()
    await api.start()
    await emulator.start()
    # Turns and renders of a few seconds (the real ones take minutes): long enough for
    # the kills to land in every step, short enough to finish in a couple of minutes.
    emulator.config.update(
        {"generation_s": 3.0, "edit_s": 2.0, "text_s": 0.05, "render_s": 2.0,
         "initial_credits": 10**9, "keepalive_interval_s": 0.5}
    )  # fmt: skip
    people = [user(1000 + i, f"User{i}") for i in range(chats)]
    photo = api.add_file(_jpeg())
    with tempfile.TemporaryDirectory(prefix="clipbot-crash-") as tmp:
        root = Path(tmp)
        env = bot_env(
            api,
            root / "data",
            CLIPBOT_BACKEND="nemo",
            NEMO_BASE_URL=emulator.base_url,
            NEMO_RENDER_POLL_FIRST="0.1",
            NEMO_RENDER_POLL_MAX="0.3",
            CLIPBOT_RECOVERY_FIRST_CHECK="1",
            CLIPBOT_RECOVERY_INTERVAL="1",
            CLIPBOT_RECOVERY_MAX_CHECKS="30",
            CLIPBOT_STATUS_EDIT_INTERVAL="1",
            # Each chat sends all its requests at once: no queue limit turns some away.
            CLIPBOT_MAX_QUEUED_PER_CHAT="0",
            CLIPBOT_LOG_LEVEL=os.environ.get("CRASH_LOG_LEVEL", "WARNING"),
        )
        bot = BotProcess(env, root / "run", root / "bot.log")
        await bot.start()
        for person in people:  # every chat's requests, in order, at once
            chat = private_chat(person)
            first, *rest = (text for text, _ in steps)
            api.push_update(update(message(chat, person, caption=first, photo=photo_sizes(photo))))
            for text in rest:
                api.push_update(update(message(chat, person, text=text)))
        wanted = chats * per_chat
        starts: list[tuple[float, int]] = []  # (when, clips delivered by then)
        done_kills = 0
        try:
            while done_kills < kills and _delivered(api, steps) < wanted:
                await asyncio.sleep(rng.uniform(1.0, 6.0))  # in any step, start-up included
                await bot.kill()
                done_kills += 1
                await bot.start()
                starts.append((time.monotonic(), len(api.calls_to("sendVideo"))))
            try:
                await api.wait_for(lambda: _delivered(api, steps) >= wanted, wait_s=300)
            except TimeoutError:
                print(f"not every clip came: {_delivered(api, steps)} of {wanted}; the log:")
                print(bot.log()[-20000:])
                raise
        finally:
            await bot.stop()
            await emulator.stop()
            await api.stop()
    return _figures(api, emulator, steps, people, done_kills, _to_delivery(api, starts))


def _to_delivery(api: FakeBotApi, starts: list[tuple[float, int]]) -> list[float]:
    """Seconds from each restart to the first clip delivered after it, for the restarts
    that delivered one before the next kill."""
    videos = api.calls_to("sendVideo")
    found = []
    for i, (at, before) in enumerate(starts):
        until = starts[i + 1][0] if i + 1 < len(starts) else float("inf")
        after = [c.at for c in videos[before:] if at <= c.at < until]
        if after:
            found.append(after[0] - at)
    return found


def _key(params: dict[str, str]) -> tuple[int, int, int]:
    return int(params["duration"]), int(params["width"]), int(params["height"])


def _delivered(api: FakeBotApi, steps: tuple[tuple[str, tuple[int, int, int]], ...]) -> int:
    index = {shape: i for i, (_, shape) in enumerate(steps)}
    return len(
        {(c.params["chat_id"], index.get(_key(c.params))) for c in api.calls_to("sendVideo")}
    )


def _figures(
    api: FakeBotApi,
    emulator: NemoEmulator,
    steps: tuple[tuple[str, tuple[int, int, int]], ...],
    people: list[dict[str, object]],
    kills: int,
    restarts: list[float],
) -> dict[str, float]:
    index = {shape: i for i, (_, shape) in enumerate(steps)}
    lost = duplicates = out_of_order = 0
    for person in people:
        got = [
            index.get(_key(c.params), -1)
            for c in api.calls_to("sendVideo")
            if c.params["chat_id"] == str(person["id"])
        ]
        firsts = list(dict.fromkeys(got))
        lost += len(steps) - len({g for g in got if g >= 0})
        duplicates += len(got) - len(firsts)
        out_of_order += firsts != sorted(firsts)
    turns = Counter((t.session_id, t.message) for t in emulator.turns)
    twice = sum(n - 1 for n in turns.values() if n > 1)
    resumed = restarts
    return {
        "requests": float(len(people) * len(steps)),
        "kills": float(kills),
        "lost": float(lost),
        "sent_twice": float(duplicates),
        "turns_twice": float(twice),
        "out_of_order": float(out_of_order),
        "restart_to_delivery_median_s": statistics.median(resumed) if resumed else 0.0,
        "restart_to_delivery_max_s": max(resumed, default=0.0),
    }


def main() -> None:
    """Run with the command line's options and print the figures."""
    parser = argparse.ArgumentParser(prog="python -m bench.crash")
    parser.add_argument("--chats", type=int, default=20)
    parser.add_argument("--per-chat", type=int, default=5, choices=range(1, len(STEPS) + 1))
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(sys.argv[1:])
    # A killed bot leaves requests half-read: the fake servers' reports of it are noise.
    logging.getLogger("aiohttp.server").setLevel(logging.CRITICAL)
    f = asyncio.run(run(args.chats, args.per_chat, args.kills, args.seed))
    print(
        f"requests: {f['requests']:.0f} over {args.chats} chats, kills (SIGKILL): {f['kills']:.0f}"
    )
    print(f"requests lost: {f['lost']:.0f}   (target 0)")
    print(f"clips sent twice: {f['sent_twice']:.0f}   (target: at most one per kill)")
    print(f"Nemo turns sent twice: {f['turns_twice']:.0f}   (target 0)")
    print(f"chats with clips out of order: {f['out_of_order']:.0f}")
    print(
        f"restart → first resumed delivery: median {f['restart_to_delivery_median_s']:.2f} s, "
        f"max {f['restart_to_delivery_max_s']:.2f} s"
    )


if __name__ == "__main__":
    main()

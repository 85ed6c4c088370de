"""A shutdown cancels a Nemo turn in the middle of its stream, every time.

Python 3.11's `asyncio.wait_for` loses a cancellation that arrives as the awaited event
does; read_turn must not: the request would run on past the shutdown's grace (and a
worker whose lease was lost would go on in parallel with the one that took it over).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from backends.nemo.stream import EventParser, read_turn

_FRAME = b'data: {"type":"heartbeat"}\n\n'


async def _endless() -> AsyncIterator[bytes]:
    while True:
        await asyncio.sleep(0)  # an event ready at every turn of the loop
        yield _FRAME


async def _read_forever(seen: list[int], enough: int, reached: asyncio.Event) -> None:
    async for _ in read_turn(
        _endless(), EventParser(), turn_timeout_s=60, keepalive_only_timeout_s=60
    ):
        seen[0] += 1
        if seen[0] >= enough:
            reached.set()


async def test_a_cancelled_turn_stops_however_the_events_fall() -> None:
    for trial in range(150):
        reached = asyncio.Event()
        task = asyncio.create_task(_read_forever([0], 1 + trial % 7, reached))
        await reached.wait()
        for _ in range(trial % 3):
            await asyncio.sleep(0)  # land the cancel at different points of a read
        task.cancel()
        done, _ = await asyncio.wait([task], timeout=2.0)
        while not task.done():  # lost: stop it for good before failing
            task.cancel()
            await asyncio.wait([task], timeout=0.1)
        assert done, f"trial {trial}: the cancellation was lost; the turn read on"
        assert task.cancelled()

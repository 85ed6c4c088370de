"""The render poll pace: backing off, but aimed just past the predicted finish."""

from __future__ import annotations

import time
from pathlib import Path

from backends.nemo import create_backend
from backends.nemo.pace import MARGIN_S, PollPacer
from bot.ports.backend import BackendSession
from fakes.nemo.server import NemoEmulator
from storage.memory import MemoryStore
from tests.nemo.test_export import _drafted, _export
from tests.nemo_fixtures import nemo_settings


def test_without_progress_it_backs_off_to_the_maximum() -> None:
    pacer = PollPacer(first_s=1.0, max_s=15.0)
    delays = [pacer.first_delay()] + [pacer.next_delay(float(t), None) for t in range(10)]
    assert delays[:4] == [1.0, 1.5, 2.25, 3.375]
    assert delays[-1] == 15.0
    assert delays == sorted(delays)


def test_progress_aims_just_past_the_predicted_finish() -> None:
    pacer = PollPacer(first_s=1.0, max_s=15.0)
    # Looks at t=9 (0 %), t=11 (20 %: it changed at about t=10), t=19 and t=21 (40 %:
    # about t=20): 2 %/s, so 100 % at about t=50.
    pacer.next_delay(9.0, 0.0)
    pacer.next_delay(11.0, 20.0)
    for _ in range(4):  # let the back-off grow past the gap to the finish
        pacer.next_delay(11.0, 20.0)
    pacer.next_delay(19.0, 20.0)
    assert pacer.next_delay(21.0, 40.0) == 15.0  # the finish (t=50) is further than 15 s
    pacer.next_delay(39.0, 40.0)
    assert pacer.next_delay(41.0, 80.0) == 50.0 - 41.0 + MARGIN_S  # 80 % at about t=40


def test_a_stalled_render_is_not_hammered() -> None:
    pacer = PollPacer(first_s=1.0, max_s=8.0)
    pacer.next_delay(0.0, 10.0)
    pacer.next_delay(2.0, 50.0)  # 10 % at t=0, 50 % at t=1: predicted finish t=2.25
    stalled = [pacer.next_delay(3.0 + i, 50.0) for i in range(6)]
    assert stalled[0] == 1.0  # overdue: the floor, doubled once
    assert stalled == sorted(stalled)
    assert stalled[-1] == 8.0


async def test_a_finished_render_is_seen_soon_after(
    nemo_emulator: NemoEmulator, tmp_path: Path, photo: Path
) -> None:
    settings = nemo_settings(
        nemo_emulator, tmp_path, nemo_render_poll_first_s=0.2, nemo_render_poll_max_s=15.0
    )
    nemo = create_backend(settings, MemoryStore())
    # Backing off alone (0.2 s ×1.5) looks at 4.2 s, then 6.4 s: about 2 s late here.
    nemo_emulator.config.render_s = 4.0
    try:
        session, state = await _drafted(nemo, photo)
        await _export(nemo, session, state, tmp_path)
        [completed_at] = nemo_emulator.render_completed_at.values()
        polls = [r.at for r in nemo_emulator.received("/api/render/proxy/lambda/")]
        seen = min(at for at in polls if at >= completed_at)
        # Backing off alone would look about 2 s late; the bound leaves room for a busy
        # machine.
        assert seen - completed_at < 1.5, f"seen {seen - completed_at:.2f} s after finishing"
        assert len(polls) < 20  # and without polling all the time
        assert time.time() >= seen
    finally:
        await nemo.aclose()


async def test_many_running_turns_do_not_block_other_calls(
    nemo_emulator: NemoEmulator, tmp_path: Path, photo: Path
) -> None:
    """Each turn holds a connection for its whole stream; 120 at once must leave room."""
    import asyncio

    nemo = create_backend(nemo_settings(nemo_emulator, tmp_path), MemoryStore())
    nemo_emulator.config.generation_s = 3.0
    nemo_emulator.config.keepalive_interval_s = 0.5
    nemo_emulator.config.initial_credits = 10**6
    try:
        sessions = await asyncio.gather(*(nemo.open_session("en") for _ in range(120)))
        for session in sessions:
            await nemo.upload(session, photo, "p.png")

        async def turn(session: BackendSession) -> None:
            [e async for e in nemo.instruct(session, "animate it", "en")]

        turns = [asyncio.create_task(turn(s)) for s in sessions]

        async def all_open() -> None:
            while len(nemo_emulator.turns) < len(sessions):  # noqa: ASYNC110 (no event to wait on)
                await asyncio.sleep(0.05)

        await asyncio.wait_for(all_open(), 10)
        started = time.monotonic()
        await nemo.credits()
        waited = time.monotonic() - started
        assert not any(t.done() for t in turns)  # the streams were still running
        # Behind the streams it would wait about 3 s (their length).
        assert waited < 2.0, f"a credits call waited {waited:.1f} s behind the streams"
        await asyncio.gather(*turns)
    finally:
        await nemo.aclose()

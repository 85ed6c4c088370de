"""A tiny run of the load benchmark: it works end to end and its numbers are sane."""

from __future__ import annotations

from bench.load import run


async def test_a_tiny_load_run_delivers_every_clip() -> None:
    numbers = await run(chats=3, render_s=0.05)
    assert numbers["delivered"] == 3
    assert 0 < numbers["first_reply_median_ms"] < 5000
    assert 0 <= numbers["render_to_delivery_median_s"] < 10
    assert numbers["peak_memory_mb"] > 0

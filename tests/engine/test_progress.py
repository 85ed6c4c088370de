"""The status reporter: throttled edits, no duplicates, still-working marks, working()."""

from __future__ import annotations

import asyncio
import itertools

from bot.progress import Pace, StatusReporter, format_elapsed
from tests.engine.doubles import RecordingChannel


async def test_edits_are_throttled_and_never_repeat() -> None:
    channel = RecordingChannel()
    interval = 0.1
    async with StatusReporter(
        channel, "en", edit_interval_s=interval, still_working_s=0
    ) as reporter:
        assert channel.working_depth == 1
        for i in range(40):
            reporter.stage(f"stage {i // 4}")
            reporter.percent(float(i))
            await asyncio.sleep(0.015)
    assert channel.working_depth == 0
    shown = [s for s in channel.sent if s.kind in ("text", "edit")]
    assert shown[0].kind == "text"
    assert len({s.ref for s in shown}) == 1  # one status message, edited in place
    gaps = [b.at - a.at for a, b in itertools.pairwise(shown)]
    assert all(gap >= interval * 0.95 for gap in gaps), gaps
    texts = [s.text for s in shown]
    assert all(a != b for a, b in itertools.pairwise(texts))
    # 0.6 s of work at one edit per 0.1 s: a handful of edits, not forty
    assert 3 <= len(shown) <= 9
    assert texts[-1].startswith("✅ Done")


async def test_percent_and_still_working_marks() -> None:
    channel = RecordingChannel()
    async with StatusReporter(
        channel, "en", edit_interval_s=0.01, still_working_s=0.15
    ) as reporter:
        reporter.stage("🎬 Rendering…")
        reporter.percent(42)
        await asyncio.sleep(0.05)
        assert channel.sent[-1].text == "🎬 Rendering… 42%"
        await asyncio.sleep(0.2)
    texts = [s.text for s in channel.sent]
    assert any(t.startswith("⏳ Still working…") for t in texts)


async def test_the_pace_is_shared_by_a_chat() -> None:
    channel = RecordingChannel()
    pace = Pace()
    loop = asyncio.get_running_loop()
    pace.last_edit = loop.time()
    async with StatusReporter(
        channel, "en", edit_interval_s=0.2, still_working_s=0, pace=pace
    ) as reporter:
        reporter.stage("one")
        await asyncio.sleep(0.01)
        reporter.stage("two")
        await asyncio.sleep(0.05)
        assert [s.kind for s in channel.sent] == ["text"]  # the edit waits its turn


async def test_nothing_is_sent_when_nothing_was_staged() -> None:
    channel = RecordingChannel()
    async with StatusReporter(channel, "en", edit_interval_s=0.01, still_working_s=0):
        await asyncio.sleep(0.02)
    assert channel.sent == []
    assert channel.working_entries == 1


async def test_a_failure_is_shown_as_stopped() -> None:
    channel = RecordingChannel()
    try:
        async with StatusReporter(
            channel, "zh", edit_interval_s=0.01, still_working_s=0
        ) as reporter:
            reporter.stage("处理中")
            await asyncio.sleep(0.02)
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    assert channel.sent[-1].text.startswith("⚠️ 已停止")


def test_format_elapsed() -> None:
    assert format_elapsed(7.9) == "0:07"
    assert format_elapsed(125) == "2:05"
    assert format_elapsed(3723) == "1:02:03"

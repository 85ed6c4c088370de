"""The Telegram benchmark still runs (a tiny version of it)."""

from __future__ import annotations

import pytest

from bench import telegram_roundtrip


async def test_roundtrip_benchmark_runs(capsys: pytest.CaptureFixture[str]) -> None:
    await telegram_roundtrip._run(3)
    out = capsys.readouterr().out
    assert "update → handler: median" in out
    assert "(n=3)" in out

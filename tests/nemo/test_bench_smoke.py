"""A tiny run of the transfer benchmark (the real one is `python -m bench.nemo_transfer`)."""

from __future__ import annotations

import pytest

from bench.nemo_transfer import _run


async def test_transfer_bench_runs(capsys: pytest.CaptureFixture[str]) -> None:
    await _run(2)
    out = capsys.readouterr().out
    assert "upload" in out
    assert "download" in out
    assert "MB/s" in out

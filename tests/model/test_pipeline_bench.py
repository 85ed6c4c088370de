"""A tiny run of the model benchmark, so it keeps working."""

from __future__ import annotations

from pathlib import Path

from bench.model import report, run
from tests.local.conftest import probe


def test_the_model_bench_times_steps_and_memory(tmp_path: Path) -> None:
    figures = run("ltx", tmp_path, steps=3, size=32, seconds=1.0)
    assert len(figures.step_s) == 2
    assert all(s > 0 for s in figures.step_s)
    assert figures.peak_bytes > 10 * 2**20
    assert "seconds per denoising step: median" in report(figures)
    clip = probe(tmp_path / "ltx.mp4")
    assert (clip.width, clip.height) == (1280, 720)

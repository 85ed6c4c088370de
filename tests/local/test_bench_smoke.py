"""A tiny run of the render benchmark's parts, so the benchmark keeps working."""

from __future__ import annotations

from pathlib import Path

from backends.local import motion
from bench.render import jitter, ready_frames, run_floor, run_ours, run_zoompan, spec_for
from bot.config import Settings
from tests.local.conftest import probe


def test_bench_parts_run_at_a_tiny_size(photos: dict[str, Path], tmp_path: Path) -> None:
    spec = spec_for(photos["exif"], 0.5, Settings.load(None), size=(160, 288), fps=20)
    outs = {name: tmp_path / f"{name}.mp4" for name in ("ours", "floor", "zoompan")}
    run_ours(spec, outs["ours"])
    run_floor(spec, ready_frames(spec, spec.frames), outs["floor"])
    run_zoompan(photos["exif"], spec, outs["zoompan"])
    for out in outs.values():
        p = probe(out)
        assert (p.codec, p.pix_fmt, p.width, p.height, p.frames) == (
            "h264", "yuv420p", 160, 288, 10,
        )  # fmt: skip
    rms, worst = jitter(outs["ours"], lambda k: motion.camera_at("zoom_in", k / 9).zoom, 4)
    assert 0.0 <= rms <= worst

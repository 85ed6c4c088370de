"""Model backend benchmark: one clip from a tiny random pipeline of each family, loaded
through the product's own loader, on CUDA when there is one (else the CPU).

Prints for each family: the load time, seconds per denoising step (median, fastest,
slowest; the first step, which also encodes the photo and the prompt, apart), the whole
generation, the finishing (lossless footage, then the local renderer's 720p clip), and
peak memory: the device's (`torch.cuda.max_memory_allocated`) on CUDA, the process's
resident peak during the clip (VmHWM, reset first) on the CPU.

The tiny models say what the machinery costs, not what a real model does: for those,
see the time per clip by GPU in docs/model.md.

    python -m bench model [--family ltx|svd] [--steps 8] [--size 32] [--seconds 2]
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import tempfile
import threading
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from bot.config import Settings


@dataclass(frozen=True, slots=True)
class Figures:
    """What one clip cost."""

    family: str
    device: str
    load_s: float
    first_step_s: float
    step_s: list[float]
    generate_s: float
    finish_s: float
    peak_bytes: int
    peak_kind: str


def _reset_peak_rss() -> bool:
    """Reset the process's resident peak (Linux: writing 5 to clear_refs)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _peak_rss() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def run(family: str, workdir: Path, *, steps: int, size: int, seconds: float) -> Figures:
    """Build, save, load and run the tiny `family` pipeline once; its figures."""
    import torch
    from PIL import Image

    from backends.local.clip import ClipSettings, Media
    from backends.model import finish, footage
    from backends.model.families import frame_count, generation_size
    from backends.model.generate import Job, generate
    from backends.model.loader import load
    from fakes.models import save

    folder = save(family, workdir / family)
    cuda = torch.cuda.is_available()
    settings = Settings.load(
        None,
        data_dir=workdir / "data",
        model_path=str(folder),
        model_device="cuda" if cuda else "cpu",
        model_steps=steps,
        model_resolution=size,
        model_frames=25,
        model_fps=8,
        render_preset="ultrafast",
    )
    started = time.perf_counter()
    model = load(settings)
    load_s = time.perf_counter() - started
    photo = workdir / "photo.png"
    Image.linear_gradient("L").resize((4 * size, 3 * size)).convert("RGB").save(photo)
    width, height = generation_size(model.family, model.short_side, (16, 9))
    frames_n = frame_count(model.family, seconds, model.fps, model.frames)
    job = Job(photo, "water flows slowly", width, height, frames_n, seed=0)
    marks: list[float] = []
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    rss = not cuda and _reset_peak_rss()
    started = time.perf_counter()
    frames = generate(
        model, job, lambda done, total: marks.append(time.perf_counter()), threading.Event()
    )
    generate_s = time.perf_counter() - started
    made = time.perf_counter()
    kept = footage.write(frames, Fraction(model.fps), workdir / family / "footage.mkv")
    media = Media(photo.name, photo.name, width=4 * size, height=3 * size)
    plan = finish.Finish(
        ClipSettings(move="still", duration_s=seconds, aspect="16:9", resolution=720),
        media,
        None,
        workdir,
        preset="ultrafast",
        crf=21,
        max_bitrate_kbps=7000,
    )
    finish.render_clip(plan, kept, workdir / f"{family}.mp4", lambda done, total: None)
    finish_s = time.perf_counter() - made
    if cuda:
        peak, kind = int(torch.cuda.max_memory_allocated()), "CUDA allocated"
    else:
        peak, kind = _peak_rss(), "process RSS" if rss else "process RSS since start"
    gaps = [b - a for a, b in itertools.pairwise(marks)]
    return Figures(
        family,
        model.device,
        load_s,
        marks[0] - started if marks else 0.0,
        gaps,
        generate_s,
        finish_s,
        peak,
        kind,
    )


def report(f: Figures) -> str:
    """The figures as the lines the benchmark prints."""
    steps = f.step_s or [f.first_step_s]
    return "\n".join(
        [
            f"{f.family} on {f.device}: load {f.load_s:.2f} s",
            f"  seconds per denoising step: median {statistics.median(steps):.3f}, "
            f"fastest {min(steps):.3f}, slowest {max(steps):.3f} "
            f"(first step, with the encoders: {f.first_step_s:.3f})",
            f"  generation {f.generate_s:.2f} s, "
            f"finishing (footage + 720p clip) {f.finish_s:.2f} s",
            f"  peak memory ({f.peak_kind}): {f.peak_bytes / 2**20:.0f} MiB",
        ]
    )


def main() -> None:
    """Parse the arguments, run each family once, print the figures."""
    parser = argparse.ArgumentParser(prog="python -m bench model")
    parser.add_argument("--family", choices=["ltx", "svd"], action="append")
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--size", type=int, default=32, help="short side of the generation")
    parser.add_argument("--seconds", type=float, default=2.0)
    args = parser.parse_args()
    try:
        import diffusers  # noqa: F401
    except ImportError:
        print("bench model needs the [model] extra: pip install -e '.[model]'")
        return
    with tempfile.TemporaryDirectory() as tmp:
        for family in args.family or ["ltx", "svd"]:
            figures = run(family, Path(tmp), steps=args.steps, size=args.size, seconds=args.seconds)
            print(report(figures), flush=True)


if __name__ == "__main__":
    main()

"""Local render benchmark: a 5 s 1080×1920 30 fps clip from a 12-megapixel photo.

Prints, from one run, medians over a few repetitions taken in turn (ours, floor,
zoompan, ours, …) so that drift on a shared machine hits all three alike:

- ours: `backends.local.render.render` (decode with `Image.draft`, still built once,
  separable sub-pixel warp (`backends.local.warp`) in a producer thread, x264 through PyAV);
- the floor: the same encoder and settings fed the same number of ready-made frames
  from memory (all of our clip's frames, made beforehand);
- zoompan: ffmpeg's `zoompan` filter making the same eased zoom from the same photo,
  through PyAV's own filter graph (`av.filter.Graph`, the libavfilter in PyAV's wheel),
  encoded the same way;
- whole process: `clipbot animate PHOTO --prompt "9:16, 5 seconds, zoom in" --quiet`
  from start to exit, beside a process that makes the zoompan clip (`bench._zoompan`,
  which imports only PyAV and the encoder settings), taken in turn;
- peak memory: VmHWM of a fresh process that makes one clip;
- jitter: frame-to-frame motion of the two outputs fitted (ECC) against each one's
  intended smooth path.

    python -m bench.render [--reps 5] [--seconds 5] [--photo PATH]
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from backends.local import motion
from backends.local.render import RenderSpec, Slide, _Frames, open_output, render
from bench._zoompan import ZOOM, run_zoompan
from bot.config import Settings

W, H, FPS = 1080, 1920, 30
#: What `clipbot animate` is asked for: the benchmark clip (zoom in is the default move).
PROMPT = "9:16, 5 seconds, zoom in"

__all__ = ["ZOOM", "run_zoompan"]


def make_photo(folder: Path) -> Path:
    """A 3000×4000 (12 MP) JPEG: a sample photo upscaled, with a little sensor grain."""
    import cv2
    import skimage.data

    src = np.rot90(skimage.data.coffee()).copy()  # type: ignore[no-untyped-call]
    big = cv2.resize(src, (3000, 4000), interpolation=cv2.INTER_CUBIC)
    rng = np.random.default_rng(0)
    big = np.clip(big + rng.normal(0, 3, big.shape), 0, 255).astype(np.uint8)
    path = folder / "photo-12mp.jpg"
    cv2.imwrite(str(path), big[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 92])
    return path


def spec_for(
    photo: Path, seconds: float, settings: Settings, size: tuple[int, int] = (W, H), fps: int = FPS
) -> RenderSpec:
    """The benchmark clip: a centred eased zoom in, as the default clip."""
    return RenderSpec(
        slides=(Slide(photo, "zoom_in"),),
        width=size[0],
        height=size[1],
        fps=fps,
        duration_s=seconds,
        preset=settings.render_preset,
        crf=settings.render_crf,
        max_bitrate_kbps=settings.render_max_bitrate_kbps,
    )


def _size(photo: Path) -> str:
    from PIL import Image

    with Image.open(photo) as img:
        return f"{img.width}×{img.height}"


def _cpu() -> float:
    """CPU seconds used by this process so far, all threads."""
    import resource

    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def run_ours(spec: RenderSpec, out: Path) -> None:
    render(spec, out)


def run_floor(spec: RenderSpec, frames: list[Any], out: Path) -> None:
    """Encode `spec.frames` ready-made frames with the same encoder settings."""
    container, stream = open_output(out, spec)
    with container:
        for k in range(spec.frames):
            vf = frames[k % len(frames)]
            vf.pts = k
            container.mux(stream.encode(vf))
        container.mux(stream.encode(None))


def ready_frames(spec: RenderSpec, count: int) -> list[Any]:
    """`count` of our clip's frames, spread over it, as encoder-ready frames."""
    import av

    maker = _Frames(spec)
    out = []
    for i in range(count):
        vf = av.VideoFrame.from_ndarray(maker.frame(i * spec.frames // count), format="nv12")
        vf.time_base = Fraction(1, spec.fps)
        vf.color_range = 1
        vf.colorspace = 1
        out.append(vf)
    return out


def jitter(path: Path, zoom_at: Callable[[int], float], pairs: int = 24) -> tuple[float, float]:
    """RMS and max error (px) of frame-to-frame motion against a centred zoom path,
    fitted with ECC on a square region off-centre, over the first `pairs` pairs."""
    import av
    import cv2

    ys: list[np.ndarray] = []
    with av.open(str(path)) as c:
        w, h = c.streams.video[0].codec_context.width, c.streams.video[0].codec_context.height
        size = min(512, w // 2, h // 2)
        # Up and left of the centre, where a zoom moves things.
        x0, y0 = max(0, w // 2 - size - w // 20), max(0, h // 2 - size - h // 20)
        for k, f in enumerate(c.decode(video=0)):
            if k >= pairs + 1:
                break
            plane = f.to_ndarray(format="gray")
            ys.append(plane[y0 : y0 + size, x0 : x0 + size].astype(np.float32))
    criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 60, 1e-5)
    corners = np.array([[0, 0, 1], [size, 0, 1], [0, size, 1], [size, size, 1]], float).T
    cx, cy = w / 2 - x0, h / 2 - y0
    errors = []
    for k in range(len(ys) - 1):
        _, warp = cv2.findTransformECC(
            ys[k + 1], ys[k], np.eye(2, 3, dtype=np.float32), cv2.MOTION_AFFINE, criteria
        )
        # Intended: content scales by z_k/z_{k+1} about the frame centre.
        s = zoom_at(k) / zoom_at(k + 1)
        intended = np.array([[cx], [cy]]) + (corners[:2] - [[cx], [cy]]) * s
        measured = np.asarray(warp, dtype=np.float64) @ corners
        errors.append(float(np.hypot(*(measured - intended)).max()))
    e = np.array(errors)
    return float(np.sqrt((e**2).mean())), float(e.max())


def _timed_process(args: list[str], cwd: Path, env: dict[str, str]) -> float:
    """Seconds from starting a process to its exit (it must succeed)."""
    started = time.perf_counter()
    subprocess.run(args, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def whole_process(photo: Path, seconds: float, folder: Path, reps: int) -> dict[str, list[float]]:
    """Start-to-exit seconds of `clipbot animate` and of a zoompan process, in turn."""
    import os

    root = Path(__file__).resolve().parents[1]
    script = Path(sys.executable).with_name("clipbot")
    animate = [str(script)] if script.exists() else [sys.executable, "-m", "bot.cli"]
    env = dict(os.environ, CLIPBOT_DATA_DIR=str(folder / "data"), CLIPBOT_LOG_LEVEL="WARNING")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(root), env.get("PYTHONPATH")) if p)
    size = f"{W}x{H}"
    runs = {
        "clipbot animate": [*animate, "animate", str(photo), "--prompt", PROMPT,
                            "--out", str(folder / "cli.mp4"), "--quiet"],
        "zoompan": [sys.executable, "-m", "bench._zoompan", str(photo), str(folder / "zp.mp4"),
                    "--size", size, "--fps", str(FPS), "--seconds", str(seconds)],
    }  # fmt: skip
    # A first run of each, untimed: compiled kernels and the page cache as a user has them.
    for args in runs.values():
        _timed_process(args, folder, env)
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(reps):
        for name, args in runs.items():
            times[name].append(_timed_process(args, folder, env))
    return times


def peak_memory_mb(photo: Path, seconds: float, out: Path) -> float:
    """VmHWM of a fresh Python process that renders the benchmark clip once."""
    code = (
        "import re\n"
        "from pathlib import Path\n"
        "from bot.config import Settings\n"
        "from bench.render import spec_for\n"
        "from backends.local.render import render\n"
        f"render(spec_for(Path({str(photo)!r}), {seconds}, Settings.load(None)), "
        f"Path({str(out)!r}))\n"
        "print('HWM', re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read())[1])\n"
    )
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True
    )
    found = re.search(r"HWM (\d+)", done.stdout)
    return int(found[1]) / 1024 if found else float("nan")


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(prog="python -m bench.render")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--photo", type=Path, default=None, help="a real photo to use instead")
    args = parser.parse_args(sys.argv[1:])
    settings = Settings.load(None)
    with tempfile.TemporaryDirectory(prefix="clipbot-bench-") as tmp:
        folder = Path(tmp)
        photo = args.photo or make_photo(folder)
        spec = spec_for(photo, args.seconds, settings)
        print(
            f"clip: {W}×{H} {FPS} fps {args.seconds:g} s ({spec.frames} frames), "
            f"photo {photo.name} {_size(photo)}, x264 preset {spec.preset} crf {spec.crf} "
            f"maxrate {spec.max_bitrate_kbps}k, {args.reps} repetitions"
        )
        frames = ready_frames(spec, spec.frames)
        times: dict[str, list[float]] = {"ours": [], "floor": [], "zoompan": []}
        cpu: dict[str, list[float]] = {"ours": [], "floor": [], "zoompan": []}
        runs: dict[str, Callable[[Path], None]] = {
            "ours": lambda out: run_ours(spec, out),
            "floor": lambda out: run_floor(spec, frames, out),
            "zoompan": lambda out: run_zoompan(photo, spec, out),
        }
        sizes: dict[str, int] = {}
        for rep in range(args.reps):
            for name, run in runs.items():
                out = folder / f"{name}.mp4"
                started, cpu0 = time.perf_counter(), _cpu()
                run(out)
                times[name].append(time.perf_counter() - started)
                cpu[name].append(_cpu() - cpu0)
                sizes[name] = out.stat().st_size
            print(
                f"  rep {rep + 1}: " + ", ".join(f"{n} {t[-1]:.2f} s" for n, t in times.items()),
                flush=True,
            )
        med = {n: statistics.median(t) for n, t in times.items()}
        mcpu = {n: statistics.median(t) for n, t in cpu.items()}
        for name in ("floor", "ours", "zoompan"):
            print(
                f"{name:>8}: wall {med[name]:.2f} s ({med[name] / med['floor']:.2f}× the floor, "
                f"{spec.frames / med[name]:.1f} fps); CPU {mcpu[name]:.2f} s "
                f"({mcpu[name] / mcpu['floor']:.2f}× the floor); {sizes[name] / 1e6:.2f} MB"
            )
        print(
            f"ours / zoompan: wall {med['ours'] / med['zoompan']:.2f}, "
            f"CPU {mcpu['ours'] / mcpu['zoompan']:.2f} (medians, side by side, same run)"
        )
        frames.clear()
        n = spec.frames

        def ours_zoom(k: int) -> float:
            return motion.camera_at("zoom_in", k / (n - 1)).zoom

        def zp_zoom(k: int) -> float:
            return 1.0 + (ZOOM - 1.0) * motion.ease(k / (n - 1))

        # The first pairs barely move (eased start); measure mid-clip where it moves most.
        rms, mx = jitter(folder / "ours.mp4", ours_zoom)
        zrms, zmx = jitter(folder / "zoompan.mp4", zp_zoom)
        print(f"  jitter over the first 24 frame pairs: ours RMS {rms:.3f} px (max {mx:.3f})")
        print(f"  jitter: zoompan RMS {zrms:.3f} px (max {zmx:.3f})")
        whole = whole_process(photo, args.seconds, folder, args.reps)
        cli, zp = (statistics.median(whole[n]) for n in ("clipbot animate", "zoompan"))
        print(
            f"whole process, start to exit (medians of {args.reps}, in turn): "
            f"clipbot animate {cli:.2f} s, zoompan {zp:.2f} s; "
            f"clipbot animate / zoompan {cli / zp:.2f}"
        )
        peak = peak_memory_mb(photo, args.seconds, folder / "mem.mp4")
        print(f"peak memory (VmHWM of a fresh process making one clip): {peak:.0f} MB")
        print("note: the 2 cores are shared with other work; compare the ratios, not seconds.")


if __name__ == "__main__":
    main()

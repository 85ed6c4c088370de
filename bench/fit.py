"""Size benchmark: 60 s 1080×1920 slideshows with music, made for each chat's limit.

For Discord (10 MiB), Telegram (50 MB) and no limit (the terminal), prints the frame the
clip was made at, its size against the limit, its bitrates and the render time. The
photos are the scikit-image samples upscaled to 12 megapixels with sensor grain (grain
is what makes photos expensive to encode); the music is a track of the bundled library.

    python -m bench.fit [--seconds 60] [--photos 12] [--fps 30] [--only Discord]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from backends.local import library
from backends.local.render import RenderSpec, Slide, render
from bot.config import Settings

LIMITS: tuple[tuple[str, int | None], ...] = (
    ("Discord", 10 * 1024 * 1024),
    ("Telegram", 50_000_000),
    ("none", None),
)
SAMPLES = ("coffee", "astronaut", "chelsea", "rocket", "immunohistochemistry", "cat")


def make_photos(folder: Path, count: int) -> list[Path]:
    """`count` 3000×4000 JPEGs from the scikit-image samples, with a little grain."""
    import cv2
    import skimage.data

    rng = np.random.default_rng(0)
    paths = []
    for i in range(count):
        src = getattr(skimage.data, SAMPLES[i % len(SAMPLES)])()
        big = cv2.resize(np.rot90(src), (3000, 4000), interpolation=cv2.INTER_CUBIC)
        big = np.clip(big + rng.normal(0, 3, big.shape), 0, 255).astype(np.uint8)
        paths.append(folder / f"photo{i}.jpg")
        cv2.imwrite(str(paths[-1]), big[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 92])
    return paths


def main() -> None:
    """Print each limit's clip: frame, size, bitrates, time."""
    parser = argparse.ArgumentParser(prog="python -m bench.fit")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--photos", type=int, default=12)
    parser.add_argument("--fps", type=int, default=30)
    parser.add_argument("--only", choices=[name for name, _ in LIMITS], default=None)
    args = parser.parse_args()
    settings = Settings.load(None)
    track = library.pick("calm")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        photos = make_photos(folder, args.photos)
        print(f"slideshow: {args.photos} photos, {args.seconds:g} s, 1080×1920 {args.fps} fps, "
              f"music {track.name if track else 'none'}")  # fmt: skip
        for name, limit in LIMITS:
            if args.only not in (None, name):
                continue
            spec = RenderSpec(
                tuple(Slide(p) for p in photos), width=1080, height=1920, fps=args.fps,
                duration_s=args.seconds, music=track.path if track else None,
                preset=settings.render_preset, crf=settings.render_crf,
                max_bitrate_kbps=settings.render_max_bitrate_kbps, max_bytes=limit,
            )  # fmt: skip
            started = time.perf_counter()
            result = render(spec, folder / f"{name}.mp4")
            took = time.perf_counter() - started
            mb = result.size_bytes / 1_000_000
            room = f"{result.size_bytes / limit:.1%} of {limit:,} bytes" if limit else "no limit"
            rate = result.size_bytes * 8 / result.duration_s / 1000
            print(f"  {name:8} {result.width}×{result.height}  {mb:6.2f} MB ({room}), "
                  f"{rate:.0f} kbit/s overall, {took:.1f} s")  # fmt: skip


if __name__ == "__main__":
    main()

"""ffmpeg's `zoompan` making the benchmark's clip, through PyAV's own filter graph.

Also a process of its own (`python -m bench._zoompan PHOTO OUT [options]`) that imports
only what zoompan needs, so `bench.render` can time it start to exit beside
`clipbot animate`.
"""

from __future__ import annotations

import argparse
import itertools
import math
import sys
from fractions import Fraction
from pathlib import Path

from backends.local.motion import BASE_ZOOM
from backends.local.render import RenderSpec, Slide, open_output

ZOOM = 1.0 + BASE_ZOOM


def zoompan_expr(frames: int) -> str:
    """zoompan's zoom for frame `on`, with our quintic ease."""
    t = f"(on/{frames - 1})"
    return f"1+{ZOOM - 1.0:.4f}*({t}*{t}*{t}*({t}*(6*{t}-15)+10))"


def run_zoompan(photo: Path, spec: RenderSpec, out: Path) -> None:
    """The same move with ffmpeg's zoompan, through PyAV's filter graph, same encoder."""
    import av

    w, h = spec.width, spec.height
    sw, sh = even_up(w * ZOOM), even_up(h * ZOOM)
    with av.open(str(photo)) as src:
        frame = next(src.decode(video=0))
    graph = av.filter.Graph()
    buf = graph.add_buffer(
        width=frame.width, height=frame.height, format=frame.format, time_base=Fraction(1, 1)
    )
    chain = [
        buf,
        # Cover-scale and crop to the output's aspect, as large as the deepest zoom needs
        # (the same head room ours gets).
        graph.add("scale", f"w={sw}:h={sh}:force_original_aspect_ratio=increase"),
        graph.add("crop", f"{sw}:{sh}"),
        graph.add(
            "zoompan",
            f"z='{zoompan_expr(spec.frames)}':x='iw/2-(iw/zoom/2)':y='ih/2-(ih/zoom/2)'"
            f":d={spec.frames}:s={w}x{h}:fps={spec.fps}",
        ),
        # zoompan from a JPEG emits full range BT.601: convert to what we tag.
        graph.add("scale", "out_color_matrix=bt709:out_range=tv"),
        graph.add("format", "nv12"),
        graph.add("buffersink"),
    ]
    for a, b in itertools.pairwise(chain):
        a.link_to(b)
    graph.configure()
    graph.push(frame)
    graph.push(None)
    container, stream = open_output(out, spec)
    with container:
        k = 0
        while True:
            try:
                zf = graph.pull()
            except (av.error.EOFError, BlockingIOError):
                break
            assert isinstance(zf, av.VideoFrame)
            zf.pts = k
            zf.time_base = Fraction(1, spec.fps)
            zf.color_range = 1
            zf.colorspace = 1
            container.mux(stream.encode(zf))
            k += 1
        container.mux(stream.encode(None))
    if k != spec.frames:
        raise RuntimeError(f"zoompan made {k} frames, not {spec.frames}")


def even_up(x: float) -> int:
    """The even integer at or above `x`."""
    n = math.ceil(x)
    return n + (n & 1)


def main(argv: list[str]) -> None:
    """Make one zoompan clip: PHOTO OUT, with the benchmark's size, rate and encoder."""
    parser = argparse.ArgumentParser(prog="python -m bench._zoompan")
    parser.add_argument("photo", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--size", default="1080x1920")
    parser.add_argument("--fps", type=int, default=30)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--preset", default="veryfast")
    parser.add_argument("--crf", type=int, default=21)
    parser.add_argument("--maxrate", type=int, default=7000)
    args = parser.parse_args(argv)
    width, height = (int(v) for v in args.size.split("x"))
    spec = RenderSpec(
        slides=(Slide(args.photo, "zoom_in"),),
        width=width,
        height=height,
        fps=args.fps,
        duration_s=args.seconds,
        preset=args.preset,
        crf=args.crf,
        max_bitrate_kbps=args.maxrate,
    )
    run_zoompan(args.photo, spec, args.out)


if __name__ == "__main__":
    main(sys.argv[1:])

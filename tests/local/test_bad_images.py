"""Bad input: each case gets `BadImage` with a clear message, in bounded memory."""

from __future__ import annotations

import re
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
from PIL import Image

from backends.local import images
from backends.local.still import build
from bot.errors import BadImage


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _huge_png(path: Path, width: int, height: int) -> None:
    """A valid 1-bit PNG of zeros, compressed row block by row block (never in memory)."""
    comp = zlib.compressobj(9)
    row = b"\x00" * (1 + (width + 7) // 8)
    block = row * 256
    parts = []
    for _ in range(height // 256):
        parts.append(comp.compress(block))
    parts.append(comp.compress(row * (height % 256)))
    parts.append(comp.flush())
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", ihdr)
        + _chunk(b"IDAT", b"".join(parts))
        + _chunk(b"IEND", b"")
    )


@pytest.fixture(scope="module")
def bad(tmp_path_factory: pytest.TempPathFactory, photos: dict[str, Path]) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("bad")
    out = {
        "not_an_image": d / "letter.jpg",
        "truncated": d / "cut.jpg",
        "zero_bytes": d / "empty.png",
        "bomb": d / "bomb.png",
        "tiny": d / "pixel.png",
        "huge": d / "huge.png",
    }
    out["not_an_image"].write_text("Dear Sir, this is not a photo.\n" * 20)
    data = photos["jpeg"].read_bytes()
    out["truncated"].write_bytes(data[: len(data) // 2])
    out["zero_bytes"].write_bytes(b"")
    _huge_png(out["bomb"], 12_000, 12_000)  # 144 megapixels in a few kilobytes
    Image.new("RGB", (1, 1), (255, 0, 0)).save(out["tiny"])
    _huge_png(out["huge"], 20_000, 20_000)
    return out


MESSAGES = {
    "not_an_image": "not a picture",
    "truncated": "incomplete or damaged",
    "zero_bytes": "empty",
    "bomb": "too large (12000×12000",
    "tiny": "too small (1×1",
    "huge": "too large",
}


@pytest.mark.parametrize("case", sorted(MESSAGES))
def test_bad_images_are_refused_with_a_clear_message(bad: dict[str, Path], case: str) -> None:
    with pytest.raises(BadImage, match=r"(?i)" + MESSAGES[case].replace("(", r"\(")):
        images.inspect(bad[case])
    with pytest.raises(BadImage):
        build(bad[case], 160, 288, 1.2)


def _peak_rss_mb(code: str) -> tuple[int, float]:
    """Run `code` in a fresh interpreter; its exit status and peak memory (VmHWM) in MB.

    VmHWM is read by the child itself: it belongs to the new process image, unlike
    `ru_maxrss`, which would count the forked copy of this test process.
    """
    root = Path(__file__).resolve().parents[2]
    wrapped = (
        "import atexit, re\n"
        "def _hwm():\n"
        "    text = open('/proc/self/status').read()\n"
        "    print('HWM', re.search(r'VmHWM:\\s+(\\d+)', text).group(1))\n"
        "atexit.register(_hwm)\n" + code
    )
    proc = subprocess.run(
        [sys.executable, "-c", wrapped], cwd=root, capture_output=True, text=True, timeout=60
    )
    found = re.search(r"HWM (\d+)", proc.stdout)
    assert found, proc.stderr
    return proc.returncode, int(found.group(1)) / 1024


@pytest.mark.parametrize("case", ["bomb", "huge"])
def test_big_images_are_never_decoded(bad: dict[str, Path], case: str) -> None:
    code = (
        "from pathlib import Path\n"
        "from bot.errors import BadImage\n"
        "from backends.local.still import build\n"
        "try:\n"
        f"    build(Path({str(bad[case])!r}), 1080, 1920, 1.2)\n"
        "except BadImage:\n"
        "    raise SystemExit(3)\n"
    )
    status, peak = _peak_rss_mb(code)
    assert status == 3
    # Decoding would need 144-400 MB for the pixels alone.
    print(f"peak {peak:.0f} MB")
    assert peak < 120, f"peak {peak:.0f} MB"


def test_a_large_jpeg_is_decoded_reduced(tmp_path: Path) -> None:
    import numpy as np

    # 6000×4000 (24 MP): 72 MB as RGB; for a 320×180 clip it is decoded at 1/8 scale.
    big = tmp_path / "big.jpg"
    rng = np.random.default_rng(1)
    small = rng.integers(0, 255, (400, 600, 3), dtype=np.uint8)
    Image.fromarray(small).resize((6000, 4000)).save(big, quality=80)
    code = (
        "from pathlib import Path\n"
        "from backends.local.still import build\n"
        f"s = build(Path({str(big)!r}), 320, 180, 1.2)\n"
        "assert (s.width, s.height) == (384, 216), (s.width, s.height)\n"
    )
    status, peak = _peak_rss_mb(code)
    assert status == 0
    print(f"peak {peak:.0f} MB")
    assert peak < 120, f"peak {peak:.0f} MB"

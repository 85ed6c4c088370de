"""The render kernels load when the bot starts, not on its first clip: checked in a fresh
process, where nothing else has loaded them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROGRAM = """
import asyncio, json, sys
from pathlib import Path

from bot.app.core import open_core
from bot.config import Settings

async def main() -> None:
    settings = Settings.load(None, data_dir=Path(sys.argv[1]))
    async with open_core(settings):
        from backends.local import warp

        kernels = (warp._taps, warp._columns, warp._rows)
        # Only waiting here: whatever loads them is the bot's own start.
        for _ in range(1200):
            if all(k.signatures for k in kernels):
                break
            await asyncio.sleep(0.05)
        loaded = [len(k.signatures) for k in kernels]
        # A render now finds every version it needs already there.
        from backends.local.render import RenderSpec, Slide, render
        from PIL import Image

        photo = Path(sys.argv[1]) / "photo.jpg"
        Image.new("RGB", (320, 240), (40, 90, 160)).save(photo)
        spec = RenderSpec((Slide(photo, "zoom_in"),), 160, 288, fps=10, duration_s=0.3)
        render(spec, Path(sys.argv[1]) / "clip.mp4")
        after = [len(k.signatures) for k in kernels]
        print(json.dumps({"loaded": loaded, "after_render": after}))

asyncio.run(main())
"""


def test_the_bot_loads_its_kernels_at_start_not_on_the_first_clip(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM, str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["loaded"] == [1, 1, 1]  # before any clip
    assert found["after_render"] == found["loaded"]  # nothing more to load or compile

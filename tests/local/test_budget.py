"""Always fits: clips made for a chat's upload limit stay under it, measured on real MP4s."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from backends.local import budget
from backends.local.render import RenderSpec, Slide, render
from tests.local.conftest import probe

DISCORD = 10 * 1024 * 1024
TELEGRAM = 50_000_000


@pytest.mark.parametrize(
    ("seconds", "fps", "limit", "size"),
    [
        (5, 30, DISCORD, (1080, 1920)),  # short: the configured cap is already under
        (30, 30, DISCORD, (1080, 1920)),
        (60, 30, DISCORD, (1080, 1920)),
        (60, 60, DISCORD, (720, 1280)),  # too few bits a pixel at 1080p: a smaller frame
        (60, 30, TELEGRAM, (1080, 1920)),
    ],
)
def test_plans_share_the_limit_between_music_and_picture(
    seconds: float, fps: int, limit: int, size: tuple[int, int]
) -> None:
    p = budget.plan(1080, 1920, fps, seconds, True, 7000, limit)
    assert p.fits
    assert (p.width, p.height) == size
    assert p.video_kbps <= 7000
    # What x264 and the AAC encoder may spend at most (a one-second buffer, 90 % full at
    # the start; AAC 5 % over), in bytes, stays under the limit with room for the index.
    worst = (p.video_kbps * (seconds + 0.9) + p.audio_kbps * 1.05 * seconds) * 1000 / 8
    assert worst + 16_384 + 40 * 30 * seconds <= limit
    assert p.video_kbps * 1000 / (p.width * p.height * fps) >= budget.MIN_BPP


def test_a_limit_nothing_fits_gives_the_smallest_clip_and_says_so() -> None:
    p = budget.plan(1080, 1920, 30, 60, True, 7000, 300_000)
    assert not p.fits
    assert (p.width, p.height, p.audio_kbps) == (360, 640, 96)


def test_no_limit_keeps_the_full_quality(photos: dict[str, Path]) -> None:
    spec = RenderSpec((Slide(photos["jpeg"]),), width=1080, height=1920, duration_s=60.0)
    assert budget.fit(spec) == spec


@pytest.fixture(scope="module")
def grainy(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Six photos of pure sensor noise: the hardest thing there is to compress."""
    from PIL import Image

    d = tmp_path_factory.mktemp("grain")
    rng = np.random.default_rng(3)
    paths = []
    for i in range(6):
        noise = rng.integers(0, 256, (640, 400, 3), dtype=np.uint8)
        paths.append(d / f"grain{i}.png")
        Image.fromarray(noise).save(paths[-1])
    return paths


def test_a_60_s_slideshow_for_discord_is_under_10_mib(
    grainy: list[Path], music: Path, tmp_path: Path
) -> None:
    # Small frames keep the test quick; noise photos make them cost what big ones do.
    base = RenderSpec(
        tuple(Slide(p) for p in grainy), width=288, height=512, fps=10, duration_s=60.0,
        music=music,
    )  # fmt: skip
    # Without a limit, 6 s of it already take over a tenth of 10 MiB: 60 s would not fit.
    unlimited = render(RenderSpec(base.slides[:1], 288, 512, fps=10, duration_s=6.0),
                       tmp_path / "unlimited.mp4")  # fmt: skip
    assert unlimited.size_bytes > DISCORD / 10
    out = tmp_path / "discord.mp4"
    result = render(replace(base, max_bytes=DISCORD), out)
    assert result.size_bytes == out.stat().st_size < DISCORD
    assert result.size_bytes > DISCORD * 0.6  # the budget is used, not thrown away
    p = probe(out)
    assert (p.width, p.height, p.frames, p.audio_codec) == (288, 512, 600, "aac")
    assert p.duration_s == pytest.approx(60.0, abs=0.2)


async def test_the_backend_makes_the_clip_fit_the_chats_limit(
    settings: object, photos: dict[str, Path], tmp_path: Path
) -> None:
    from backends.local.backend import LocalBackend
    from bot.config import Settings
    from bot.ports.backend import ExportDone
    from storage.memory import MemoryStore

    assert isinstance(settings, Settings)
    backend = LocalBackend(settings, MemoryStore())
    session = await backend.open_session("en")
    await backend.upload(session, photos["jpeg"], "coffee.jpg")
    _ = [e async for e in backend.instruct(session, "square, 720p, 3 seconds", "en")]
    state = await backend.state(session)
    tight = 60_000
    done = [e async for e in backend.export(session, state, tmp_path, max_bytes=tight)][-1]
    assert isinstance(done, ExportDone)
    assert done.path is not None
    assert done.size_bytes is not None
    assert done.size_bytes <= tight
    assert (done.width, done.height) == (360, 360)  # 720p could not look right in 60 kB
    free = [e async for e in backend.export(session, state, tmp_path)][-1]
    assert isinstance(free, ExportDone)
    assert (free.width, free.height) == (720, 720)

"""The model backend end to end through the real engine: photo + caption → MP4, progress
in the status message, the line across chats, /new and shutdown stopping a generation,
out of memory, and the local renderer finishing the clip."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path

import numpy as np

from backends.local.overlay import make_title
from backends.model import open_backend
from backends.model.backend import ModelBackend
from bot.config import Settings
from bot.engine import Engine
from bot.ports.chat import Platform
from storage.memory import MemoryStore
from tests.engine.conftest import msg, photo
from tests.engine.doubles import RecordingPlatform
from tests.local.conftest import probe
from tests.model.conftest import KeepingChannel, leftovers, model_settings, photo_bytes


@asynccontextmanager
async def running(
    settings: Settings, store: MemoryStore | None = None, platform: RecordingPlatform | None = None
) -> AsyncIterator[tuple[Engine, ModelBackend]]:
    """The engine on the model backend, closed as the app closes them."""
    backend = await open_backend(settings)
    platforms: dict[str, Platform] = {"test": platform or RecordingPlatform()}
    engine = Engine(settings, backend, store or MemoryStore(), platforms)
    try:
        yield engine, backend
    finally:
        await engine.aclose()
        await backend.aclose()


def luma_at(path: Path, at_s: float) -> np.ndarray:
    """The luma of the frame shown at `at_s` seconds."""
    import av

    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            if frame.time is not None and frame.time >= at_s - 1e-3:
                return np.asarray(frame.to_ndarray(format="gray"), dtype=np.int16)
    raise AssertionError(f"no frame at {at_s} s")


def _percents(texts: list[str]) -> list[int]:
    return [int(m.group(1)) for t in texts if (m := re.search(r"Rendering… (\d+)%", t))]


async def test_photo_and_caption_make_a_clip_with_title_the_prompt_and_progress(
    tiny_models: dict[str, Path], tmp_path: Path
) -> None:
    settings = model_settings(tiny_models["ltx"], tmp_path / "data", model_steps=6)
    channel = KeepingChannel(tmp_path / "kept")
    caption = "waves crashing on the rocks, 9:16, 2 seconds, 720p, title 'Sale'"
    async with running(settings) as (engine, _):
        await engine.handle(msg(caption, photo("shop.png", photo_bytes())), channel)
        await engine.idle()
        echo = "prompt “waves crashing on the rocks” · 9:16 · 2 s · 720p · title “Sale”"
        assert any(t.startswith(echo) for t in channel.texts())
        [titled] = channel.videos
        clip = probe(titled)
        assert (clip.codec, clip.width, clip.height) == ("h264", 720, 1280)
        assert abs(clip.duration_s - 2.0) < 0.1
        # Progress per denoising step reached the status message, in order.
        shown = _percents(channel.edits())
        assert any(0 < p < 85 for p in shown)
        assert shown == sorted(shown)
        footage = next((settings.data_dir / "model").glob("*/footage-*.mkv"))
        made = footage.stat().st_mtime_ns
        # Without the title: the same footage, finished again (not generated again).
        await engine.handle(msg("no title"), channel)
        await engine.idle()
        assert footage.stat().st_mtime_ns == made
    _, untitled = channel.videos
    title = make_title("Sale", 720, 1280)
    box = (
        slice(title.y, title.y + title.luma.shape[0]),
        slice(title.x, title.x + title.luma.shape[1]),
    )
    a, b = luma_at(titled, 1.0), luma_at(untitled, 1.0)
    inside = np.abs(a[box] - b[box]).mean()
    outside = np.abs(a[: title.y - 8] - b[: title.y - 8]).mean()
    assert inside > 10 * max(outside, 0.5)
    assert leftovers(settings.data_dir) == []


async def test_stable_video_diffusion_ignores_words_and_says_so(
    tiny_models: dict[str, Path], tmp_path: Path
) -> None:
    settings = model_settings(tiny_models["svd"], tmp_path / "data", model_frames=4)
    channel = KeepingChannel(tmp_path / "kept")
    async with running(settings) as (engine, _):
        await engine.handle(
            msg("the dog runs, zoom in, 1:1, 1 second, 720p", photo("dog.png", photo_bytes())),
            channel,
        )
        await engine.idle()
    said = "\n".join(channel.texts())
    assert "takes no words, so “the dog runs” was not used" in said
    assert "camera moves (zoom, pan, slower) are not used" in said
    [clip] = channel.videos
    assert (probe(clip).width, probe(clip).height) == (720, 720)


async def test_clips_of_several_chats_wait_in_line_and_are_told_their_place(
    tiny_models: dict[str, Path], tmp_path: Path
) -> None:
    settings = model_settings(tiny_models["ltx"], tmp_path / "data", model_steps=4)
    channels = [KeepingChannel(tmp_path / f"kept{i}", chat_id=str(i)) for i in range(3)]
    async with running(settings) as (engine, _):
        for i, channel in enumerate(channels):
            message = msg("water flows, 1 second, 720p", photo("p.png", photo_bytes()), chat=str(i))
            await engine.handle(message, channel)
        await engine.idle()
    waits = [" ".join(t for t in c.edits() if "Waiting for the GPU" in t) for c in channels]
    assert any("2 clips ahead of yours" in w for w in waits)
    assert any("1 clip ahead of yours" in w for w in waits)
    assert all(len(c.videos) == 1 for c in channels)


async def test_new_during_a_generation_stops_it_between_steps_and_leaves_nothing(
    tiny_models: dict[str, Path], tmp_path: Path
) -> None:
    settings = model_settings(tiny_models["ltx"], tmp_path / "data", model_steps=400)
    channel = KeepingChannel(tmp_path / "kept")
    async with running(settings) as (engine, backend):
        await engine.handle(msg("water flows, 2 seconds", photo("p.png", photo_bytes())), channel)
        while not any(p > 0 for p in _percents(channel.edits())):
            await asyncio.wait_for(channel.changed.wait(), 30)
            channel.changed.clear()
        folders = list((settings.data_dir / "model").iterdir())
        started = asyncio.get_running_loop().time()
        await engine.handle(msg("/new"), channel)
        await engine.idle()
        took = asyncio.get_running_loop().time() - started
        assert "Stopping the clip being made" in "\n".join(channel.texts())
        assert channel.texts()[-1].startswith("Fresh project")
        assert channel.videos == []
        assert took < 20  # 400 steps would take minutes
        assert not any(f.exists() for f in folders)  # the old project is gone
        assert backend._running == {}
    assert leftovers(settings.data_dir) == []
    assert list((settings.data_dir / "exports").rglob("*.mp4")) == []


async def test_shutdown_during_a_generation_stops_it_and_the_next_start_makes_the_clip(
    tiny_models: dict[str, Path], tmp_path: Path
) -> None:
    data, store = tmp_path / "data", MemoryStore()
    channel = KeepingChannel(tmp_path / "kept")
    async with running(model_settings(tiny_models["ltx"], data, model_steps=400), store) as (
        engine,
        backend,
    ):
        await engine.handle(msg("water flows", photo("p.png", photo_bytes())), channel)
        while not any(p > 0 for p in _percents(channel.edits())):
            await asyncio.wait_for(channel.changed.wait(), 30)
            channel.changed.clear()
    assert backend._running == {}
    assert channel.videos == []
    assert list((data / "model").rglob("footage-*")) == []
    assert leftovers(data) == []
    # The next start resumes the request where it got to, and the clip comes.
    platform = RecordingPlatform()
    platform.channels["1"] = channel
    async with running(model_settings(tiny_models["ltx"], data), store, platform) as (engine, _):
        await engine.idle()
    assert len(channel.videos) == 1
    assert "I restarted" in "\n".join(channel.edits())


async def test_out_of_memory_is_a_clear_message_and_the_next_clip_works(
    tiny_models: dict[str, Path], tmp_path: Path
) -> None:
    settings = model_settings(tiny_models["ltx"], tmp_path / "data")
    channel = KeepingChannel(tmp_path / "kept")
    async with running(settings) as (engine, backend):
        loaded = backend.model
        # Frames by the billion: the first tensor asked for is terabytes, which any
        # allocator refuses at once (a real out-of-memory error, not a simulated one).
        backend._model = replace(loaded, fps=10**11, frames=10**12)
        await engine.handle(msg("water flows, 1 second", photo("p.png", photo_bytes())), channel)
        await engine.idle()
        assert "ran out of memory" in channel.texts()[-1]
        assert channel.videos == []
        backend._model = loaded
        await engine.handle(msg("export"), channel)
        await engine.idle()
        assert backend.model.pipe is loaded.pipe  # the model stayed loaded
    assert len(channel.videos) == 1


async def test_the_latest_photo_is_animated_and_status_shows_the_prompt(
    tiny_models: dict[str, Path], tmp_path: Path
) -> None:
    settings = model_settings(tiny_models["ltx"], tmp_path / "data")
    channel = KeepingChannel(tmp_path / "kept")
    two = (photo("first.png", photo_bytes()), photo("second.png", photo_bytes(64, 96)))
    async with running(settings) as (engine, _):
        await engine.handle(msg("water flows, 1 second, 720p", *two), channel)
        await engine.idle()
        assert "using the latest, second.png" in "\n".join(channel.texts())
        [folder] = (settings.data_dir / "model").iterdir()
        assert sorted(p.suffix for p in folder.glob("00*")) == [".png"]  # the first is gone
        await engine.handle(msg("/status"), channel)
    assert "Video: second.png → “water flows”" in channel.texts()[-1]
    # The second photo is portrait (2:3): the clip takes the nearest aspect, 9:16.
    assert (probe(channel.videos[0]).width, probe(channel.videos[0]).height) == (720, 1280)

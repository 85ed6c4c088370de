"""Fixtures for the local renderer: real sample photos in many formats, and a probe."""

from __future__ import annotations

import struct
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from bot.config import Settings


def _sample(name: str) -> np.ndarray:
    import skimage.data

    arr: np.ndarray = getattr(skimage.data, name)()
    return arr


@pytest.fixture(scope="session")
def photos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The skimage sample photos saved in every format a phone or chat may send."""
    import cv2
    import pillow_heif

    d = tmp_path_factory.mktemp("photos")
    coffee, astro, chelsea, rocket = (
        _sample(n) for n in ("coffee", "astronaut", "chelsea", "rocket")
    )
    out: dict[str, Path] = {}

    def save(key: str, name: str, img: Image.Image, **kw: Any) -> None:
        out[key] = d / name
        img.save(out[key], **kw)

    save("jpeg", "coffee.jpg", Image.fromarray(coffee), quality=90)
    save("png", "astronaut.png", Image.fromarray(astro))
    pillow_heif.register_heif_opener()
    save("heic", "chelsea.heic", Image.fromarray(chelsea), quality=80)
    frames = [Image.fromarray(rocket).convert("P"), Image.fromarray(coffee[:427, :640])]
    out["gif"] = d / "animated.gif"
    frames[0].save(out["gif"], save_all=True, append_images=frames[1:], duration=200, loop=0)
    out["png16"] = d / "astronaut16.png"
    cv2.imwrite(str(out["png16"]), (astro[:, :, ::-1].astype(np.uint16) * 257))
    save("grey16", "grey16.png", Image.fromarray(astro[:, :, 1].astype(np.uint16) * 257))
    save("cmyk", "coffee-cmyk.jpg", Image.fromarray(coffee).convert("CMYK"), quality=90)
    save("palette", "rocket-palette.png", Image.fromarray(rocket).convert("P", colors=64))
    rgba = Image.fromarray(astro).convert("RGBA")
    alpha = np.zeros(astro.shape[:2], dtype=np.uint8)
    alpha[100:400, 100:400] = 255
    rgba.putalpha(Image.fromarray(alpha))
    save("rgba", "astronaut-cutout.png", rgba)
    # Stored sideways (600×400) with EXIF orientation 6: upright it is 400×600.
    exif = Image.Exif()
    exif[0x0112] = 6
    save("exif", "coffee-rotated.jpg", Image.fromarray(coffee), quality=90, exif=exif)
    return out


@pytest.fixture(scope="session")
def music(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two seconds of a stereo tone as a WAV file."""
    path = tmp_path_factory.mktemp("audio") / "tone.wav"
    t = np.arange(44_100 * 2) / 44_100
    tone = (np.sin(2 * np.pi * 440 * t) * 12_000).astype(np.int16)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(44_100)
        w.writeframes(np.repeat(tone, 2).tobytes())
    return path


def make_video(
    path: Path,
    seconds: float = 3.0,
    fps: int = 24,
    size: tuple[int, int] = (320, 240),
    codec: str = "libx264",
) -> Path:
    """A real video: a white bar 16 px wide moving right 80 px a second (its left edge
    at 20 + 80·t) over a blue ground that brightens with time."""
    import av

    w, h = size
    n = round(seconds * fps)
    with av.open(str(path), "w") as c:
        stream = c.add_stream(codec, rate=fps)
        assert isinstance(stream, av.VideoStream)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        for i in range(n):
            frame = av.VideoFrame.from_ndarray(bar_frame(i / fps, w, h, i / n), format="rgb24")
            frame.pts = i
            c.mux(stream.encode(frame))
        c.mux(stream.encode(None))
    return path


def bar_frame(t: float, w: int, h: int, shade: float = 0.0) -> np.ndarray:
    """One picture of `make_video`: the bar's left edge at 20 + 80·t."""
    img = np.empty((h, w, 3), np.uint8)
    img[:] = (40, 60 + round(120 * shade), 160)
    x = 20 + round(80 * t)
    img[:, x : x + 16] = 255
    return img


@pytest.fixture(scope="session")
def videos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """3 s videos of a moving bar in the containers people send (and an animated GIF)."""
    d = tmp_path_factory.mktemp("videos")
    out = {
        "mp4": make_video(d / "bar.mp4"),
        "mov": make_video(d / "bar.mov"),
        "mkv": make_video(d / "bar.mkv"),
        "webm": make_video(d / "bar.webm", codec="libvpx-vp9"),
    }
    # Four frames of 100 ms (0.4 s, looping): red, green, blue, white.
    colours = [(220, 30, 30), (30, 200, 30), (30, 30, 220), (250, 250, 250)]
    frames = [Image.new("RGB", (160, 120), c) for c in colours]
    out["gif"] = d / "loop.gif"
    frames[0].save(out["gif"], save_all=True, append_images=frames[1:], duration=100, loop=0)
    return out


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings whose data dir is this test's own."""
    return Settings.load(None, data_dir=tmp_path / "data")


@dataclass(frozen=True)
class Probe:
    """What PyAV says about an MP4."""

    codec: str
    pix_fmt: str
    width: int
    height: int
    fps: float
    duration_s: float
    frames: int
    audio_codec: str | None
    color_range: int
    colorspace: int
    faststart: bool


def _top_boxes(path: Path) -> list[str]:
    boxes = []
    with path.open("rb") as f:
        while header := f.read(8):
            size, kind = struct.unpack(">I4s", header)
            if size == 1:
                size = struct.unpack(">Q", f.read(8))[0] - 8
            boxes.append(kind.decode("latin-1"))
            f.seek(size - 8, 1)
    return boxes


def probe(path: Path) -> Probe:
    """Probe an MP4 with PyAV (decoding every frame to count them)."""
    import av

    with av.open(str(path)) as c:
        v = c.streams.video[0]
        cc = v.codec_context
        frames = sum(1 for _ in c.decode(video=0))
        duration = float(v.duration * v.time_base) if v.duration and v.time_base else 0.0
        a = c.streams.audio[0].codec_context.name if c.streams.audio else None
        boxes = _top_boxes(path)
        return Probe(
            cc.name,
            str(cc.pix_fmt),
            cc.width,
            cc.height,
            float(v.average_rate or 0),
            duration,
            frames,
            a,
            int(cc.color_range),
            int(cc.colorspace),
            boxes.index("moov") < boxes.index("mdat"),
        )

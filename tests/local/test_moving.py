"""Moving segments: videos and animated GIFs rendered for real and probed with PyAV."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from backends.local.moving import FramesSlide, probe
from backends.local.render import RenderSpec, Slide, VideoSlide, render
from bot.errors import BadInput
from tests.local.conftest import bar_frame, make_video
from tests.local.conftest import probe as probe_mp4


def _frames(path: Path) -> list[np.ndarray]:
    import av

    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]


def _bar_left(rgb: np.ndarray) -> float:
    """The bar's left edge: the first column that is mostly white (mid rows)."""
    h = rgb.shape[0]
    white = (rgb[h // 3 : 2 * h // 3].min(axis=2) > 200).mean(axis=0) > 0.8
    assert white.any(), "no bar in this frame"
    return float(np.argmax(white))


@pytest.mark.parametrize("kind", ["mp4", "mov", "mkv", "webm"])
def test_a_video_plays_in_time_trimmed_and_cropped(
    kind: str, videos: dict[str, Path], tmp_path: Path
) -> None:
    # 320×240 into 320×180: cover-cropped at scale 1, so the bar keeps its x.
    out = tmp_path / "clip.mp4"
    spec = RenderSpec((VideoSlide(videos[kind]),), width=320, height=180, fps=15, duration_s=2.0)
    result = render(spec, out)
    p = probe_mp4(out)
    assert (p.codec, p.pix_fmt, p.width, p.height, p.frames) == ("h264", "yuv420p", 320, 180, 30)
    assert p.duration_s == pytest.approx(2.0, abs=0.07)  # trimmed from 3 s
    assert result.frames == 30
    for k, rgb in enumerate(_frames(out)):
        source_frame = int(k / 15 * 24 + 1e-6)  # the latest source frame at k/15 s
        assert _bar_left(rgb) == pytest.approx(20 + round(80 * source_frame / 24), abs=2)


def test_a_video_in_a_vertical_clip_is_shown_whole_over_a_fill(
    videos: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "vertical.mp4"
    spec = RenderSpec((VideoSlide(videos["mp4"]),), width=180, height=320, fps=15, duration_s=1.0)
    render(spec, out)
    frames = _frames(out)
    assert len(frames) == 15
    # Fitted 180 wide (180×134, centred): the bar moves 80 px/s × 180/320 = 45 px/s.
    lefts = [_bar_left(f) for f in frames]
    assert lefts[-1] - lefts[0] == pytest.approx(45 * 14 / 15, abs=3)
    top_band = frames[7][:60].astype(int)
    assert top_band.mean() < 120  # the darkened, blurred fill above the picture
    assert np.abs(frames[0].astype(int) - frames[-1].astype(int)).mean() > 3


def test_an_animated_gif_loops_and_changes_over_time(
    videos: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "gif.mp4"
    spec = RenderSpec(
        (VideoSlide(videos["gif"], loop=True),), width=160, height=120, fps=20, duration_s=1.0
    )
    render(spec, out)
    frames = _frames(out)
    centre = [f[40:80, 50:110].reshape(-1, 3).mean(axis=0) for f in frames]
    # 100 ms a picture at 20 fps: two output frames each, red, green, blue, white, red …
    expected = [(220, 30, 30), (30, 200, 30), (30, 30, 220), (250, 250, 250)]
    for k, rgb in enumerate(centre):
        assert np.abs(rgb - expected[(k // 2) % 4]).max() < 20, k


def test_a_short_video_holds_its_last_frame(tmp_path: Path) -> None:
    short = make_video(tmp_path / "short.mp4", seconds=0.5)
    out = tmp_path / "held.mp4"
    render(RenderSpec((VideoSlide(short),), width=320, height=180, fps=10, duration_s=1.0), out)
    lefts = [_bar_left(f) for f in _frames(out)]
    assert lefts[-1] == lefts[-4] == pytest.approx(20 + round(80 * 11 / 24), abs=2)


def test_frames_in_memory_play_as_a_segment(tmp_path: Path) -> None:
    frames = [bar_frame(i / 12, 320, 180) for i in range(12)]
    out = tmp_path / "frames.mp4"
    spec = RenderSpec((FramesSlide(frames, fps=12),), width=320, height=180, fps=12, duration_s=1.0)
    render(spec, out)
    lefts = [_bar_left(f) for f in _frames(out)]
    assert lefts == pytest.approx([20 + round(80 * i / 12) for i in range(12)], abs=2)


def test_a_slideshow_mixes_photos_videos_and_a_gif_with_title_fades_and_music(
    photos: dict[str, Path], videos: dict[str, Path], music: Path, tmp_path: Path
) -> None:
    out = tmp_path / "mixed.mp4"
    spec = RenderSpec(
        (Slide(photos["jpeg"]), VideoSlide(videos["webm"]), VideoSlide(videos["gif"], loop=True)),
        width=160, height=288, fps=15, duration_s=3.0, title="Mixed",
        fade_in_s=0.3, fade_out_s=0.3, music=music,
    )  # fmt: skip
    render(spec, out)
    p = probe_mp4(out)
    assert (p.frames, p.audio_codec, p.faststart) == (45, "aac", True)
    frames = [f.astype(int) for f in _frames(out)]
    assert frames[0].mean() < 25  # faded in from black
    # The video's third (frames 15-29, past the crossfades) moves.
    assert np.abs(frames[18] - frames[26]).mean() > 1.5
    # The GIF's last third changes colour frame to frame.
    assert np.abs(frames[36] - frames[38]).mean() > 10


def test_video_colours_survive_the_round_trip(tmp_path: Path) -> None:
    import av

    src = tmp_path / "flat.mp4"
    with av.open(str(src), "w") as c:
        stream = c.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 160, 120, "yuv420p"
        for i in range(5):
            img = np.full((120, 160, 3), (200, 120, 40), np.uint8)
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            frame.pts = i
            c.mux(stream.encode(frame))
        c.mux(stream.encode(None))
    out = tmp_path / "flat-out.mp4"
    render(RenderSpec((VideoSlide(src),), width=160, height=120, fps=10, duration_s=0.4), out)
    with av.open(str(out)) as c:
        frame = next(c.decode(video=0))
        rgb = frame.reformat(
            format="rgb24", src_colorspace="ITU709", dst_colorspace="ITU709"
        ).to_ndarray()
    assert np.abs(rgb[40:80, 40:120].reshape(-1, 3).mean(axis=0) - [200, 120, 40]).max() < 5


def test_probe_describes_videos_and_refuses_bad_ones(
    videos: dict[str, Path], music: Path, tmp_path: Path
) -> None:
    info = probe(videos["mp4"], 60)
    assert (info.width, info.height, info.frames) == (320, 240, 72)
    assert info.duration_s == pytest.approx(3.0, abs=0.05)
    assert probe(videos["gif"], 60).duration_s == pytest.approx(0.4, abs=0.01)
    with pytest.raises(BadInput) as too_long:
        probe(videos["mp4"], 2)
    assert too_long.value.key == "video_too_long"
    assert "3 s" in str(too_long.value)
    assert "up to 2 s" in str(too_long.value)
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\x00\x00\x00\x18ftypmp42 but nothing else" * 4)
    with pytest.raises(BadInput) as unreadable:
        probe(junk, 60)
    assert unreadable.value.key == "video_unreadable"
    with pytest.raises(BadInput) as no_picture:
        probe(music, 60)
    assert no_picture.value.key == "video_no_picture"
    empty = tmp_path / "empty.mov"
    empty.write_bytes(b"")
    with pytest.raises(BadInput, match="could not read"):
        probe(empty, 60)


async def test_the_backend_takes_a_video_and_a_gif_and_refuses_a_long_video(
    photos: dict[str, Path], videos: dict[str, Path], tmp_path: Path
) -> None:
    from backends.local.backend import LocalBackend
    from bot.config import Settings
    from bot.ports.backend import ExportDone

    settings = Settings.load(None, data_dir=tmp_path / "data", max_input_seconds=2.5)
    backend = LocalBackend(settings)
    session = await backend.open_session("en")
    with pytest.raises(BadInput) as too_long:
        await backend.upload(session, videos["mp4"], "holiday.mp4")
    assert "3 s long; I take videos up to 2.5 s" in str(too_long.value)

    backend = LocalBackend(Settings.load(None, data_dir=tmp_path / "data"))
    up = await backend.upload(session, videos["mov"], "holiday.mov")
    assert (up.kind, up.width, up.height) == ("video", 320, 240)
    assert up.duration_s == pytest.approx(3.0, abs=0.05)
    reply = [e async for e in backend.instruct(session, "square, 720p, 15 fps", "en")]
    assert reply
    draft = (await backend.state(session)).draft
    assert draft["m"]["duration_ms"] == 3000  # a lone video keeps its own length
    assert draft["t"][0]["sg"][0]["m"]["move"] == "still"
    state = await backend.state(session)
    done = [e async for e in backend.export(session, state, tmp_path / "out")][-1]
    assert isinstance(done, ExportDone)
    assert done.path is not None
    p = probe_mp4(done.path)
    assert (p.width, p.height, p.frames) == (720, 720, 45)
    frames = _frames(done.path)
    assert np.abs(frames[5].astype(int) - frames[40].astype(int)).mean() > 3

    gif = await backend.upload(session, videos["gif"], "loop.gif")
    assert gif.kind == "video"
    still = await backend.upload(session, photos["png"], "still.png")
    assert still.kind == "image"
    video = (await backend.state(session)).draft["t"][0]["sg"]
    assert [s["n"] for s in video] == ["holiday.mov", "loop.gif", "still.png"]

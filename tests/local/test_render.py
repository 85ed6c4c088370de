"""Real renders of real photos, checked with PyAV's own probe."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from backends.local.render import RenderSpec, Slide, render, spans
from tests.local.conftest import probe


def _spec(*paths: Path, **kw: object) -> RenderSpec:
    base: dict[str, object] = {"width": 160, "height": 288, "fps": 15, "duration_s": 1.0}
    base.update(kw)
    return RenderSpec(slides=tuple(Slide(p) for p in paths), **base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "kind", ["jpeg", "png", "heic", "gif", "png16", "grey16", "cmyk", "palette", "rgba", "exif"]
)
def test_every_photo_format_renders_a_phone_ready_mp4(
    kind: str, photos: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "clip.mp4"
    result = render(_spec(photos[kind]), out)
    p = probe(out)
    assert (p.codec, p.pix_fmt, p.width, p.height) == ("h264", "yuv420p", 160, 288)
    assert p.fps == 15
    assert p.frames == 15 == result.frames
    assert p.duration_s == pytest.approx(1.0, abs=0.07)
    assert p.audio_codec is None
    assert p.faststart
    assert (p.color_range, p.colorspace) == (1, 1)  # limited range, BT.709
    assert result.size_bytes == out.stat().st_size


def _mean_rgb(path: Path, index: int) -> np.ndarray:
    import av

    with av.open(str(path)) as c:
        for i, frame in enumerate(c.decode(video=0)):
            if i == index:
                rgb: np.ndarray = frame.to_ndarray(format="rgb24")
                return rgb
    raise AssertionError("no such frame")


def test_colours_survive_the_round_trip(tmp_path: Path) -> None:
    from PIL import Image

    # A flat mid-orange photo must come back the same colour (no range or matrix mix-up).
    src = tmp_path / "flat.png"
    Image.new("RGB", (400, 400), (200, 120, 40)).save(src)
    out = tmp_path / "flat.mp4"
    render(_spec(src, duration_s=0.4), out)
    import av

    with av.open(str(out)) as c:
        frame = next(c.decode(video=0))
        rgb = frame.reformat(
            format="rgb24", src_colorspace="ITU709", dst_colorspace="ITU709"
        ).to_ndarray()
    centre = rgb[100:180, 50:110].reshape(-1, 3).mean(axis=0)
    assert np.abs(centre - [200, 120, 40]).max() < 4


def test_cover_and_blurred_fill_are_chosen_by_shape() -> None:
    from backends.local.still import choose_fit

    assert choose_fit(3000, 4000, 1080, 1920) == "cover"  # 3:4 into 9:16: crop a little
    assert choose_fit(4000, 3000, 1080, 1920) == "fill"  # landscape into vertical: fill
    assert choose_fit(1920, 1080, 1920, 1080) == "cover"


def test_slideshow_with_title_fades_and_music(
    photos: dict[str, Path], music: Path, tmp_path: Path
) -> None:
    out = tmp_path / "show.mp4"
    seen: list[tuple[int, int]] = []
    spec = _spec(
        photos["jpeg"],
        photos["png"],
        photos["heic"],
        duration_s=3.0,
        title="Summer Sale",
        fade_in_s=0.3,
        fade_out_s=0.3,
        music=music,
    )
    render(spec, out, lambda done, total: seen.append((done, total)))
    p = probe(out)
    assert p.audio_codec == "aac"
    assert p.frames == 45
    assert p.faststart
    assert seen[-1] == (45, 45)
    assert [d for d, _ in seen] == list(range(1, 46))
    # Faded from and to black; bright in the middle.
    first, middle, last = (_mean_rgb(out, i).mean() for i in (0, 22, 44))
    assert first < 25
    assert last < 25
    assert middle > 60


def test_slides_overlap_by_the_crossfade() -> None:
    s = spans(3, 90, 12)
    assert s[0].start == 0
    assert s[-1].start + s[-1].count == 90
    for a, b in itertools.pairwise(s):
        assert a.start + a.count - b.start == 12


def test_titles_use_the_bundled_font_that_draws_latin_and_chinese() -> None:
    from backends.local.overlay import font_path, make_title, missing_glyphs

    assert font_path() is not None  # installed with the package, not from the system
    assert missing_glyphs("Summer Sale · Café") == ""
    assert missing_glyphs("夏日特卖「新品」") == ""
    assert missing_glyphs("Sale \U000f0001") == "\U000f0001"  # private use: nobody draws it
    title = make_title("Summer Sale", 1080, 1920)
    h, w = title.luma.shape
    assert w % 2 == 0
    assert h % 2 == 0
    assert 300 < w <= 1080 * 0.9
    assert title.y > 1920 // 2  # lower part of the frame
    assert title.alpha.max() == 1.0


def test_frames_drawn_into_the_encoder_frame_match_the_plain_buffer(
    photos: dict[str, Path],
) -> None:
    from backends.local.render import _Frames

    spec = _spec(photos["jpeg"], photos["png"], duration_s=2.0, title="Sale",
                 fade_in_s=0.3, fade_out_s=0.3, width=200, height=120)  # fmt: skip
    plain, direct = _Frames(spec), _Frames(spec)
    # First frame (fade in, title), the crossfade, and the last (fade out): every path.
    for k in (0, spec.frames // 2, spec.frames - 1):
        vf = direct.video_frame(k)
        assert (vf.width, vf.height, vf.format.name) == (200, 120, "nv12")
        assert np.array_equal(vf.to_ndarray(), plain.frame(k))

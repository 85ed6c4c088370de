"""The rule parser: a table of English and Chinese instructions."""

from __future__ import annotations

import pytest

from backends.local.changes import (
    Change,
    SetAspect,
    SetDuration,
    SetFades,
    SetFps,
    SetMotion,
    SetMusic,
    SetResolution,
    SetSpeed,
    SetTitle,
    apply,
    describe,
)
from backends.local.clip import ClipSettings, frame_size, nearest_aspect
from backends.local.instructions import parse, zh_number

CASES: list[tuple[str, list[Change], str]] = [
    (
        "zoom in, 9:16, 6 seconds, title 'Summer Sale'",
        [SetMotion("zoom_in"), SetAspect("9:16"), SetDuration(6), SetTitle("Summer Sale")],
        "",
    ),
    (
        'make it a 5-second zoom-in, 9:16, title "Summer Sale"',
        [SetDuration(5), SetMotion("zoom_in"), SetAspect("9:16"), SetTitle("Summer Sale")],
        "",
    ),
    ("zoom out slowly", [SetMotion("zoom_out")], ""),
    ("pan to the left", [SetMotion("pan_left")], ""),
    ("pan right, landscape", [SetMotion("pan_right"), SetAspect("16:9")], ""),
    ("tilt up", [SetMotion("pan_up")], ""),
    ("pan down, square", [SetMotion("pan_down"), SetAspect("1:1")], ""),
    ("a slow rotate", [SetMotion("rotate")], ""),
    ("gentle breathing for an Instagram story", [SetMotion("breathe"), SetAspect("9:16")], ""),
    ("make it vertical for reels", [SetAspect("9:16"), SetAspect("9:16")], ""),
    ("4:5, 720p, 24 fps", [SetAspect("4:5"), SetResolution(720), SetFps(24)], ""),
    ("1080p 60fps 10s", [SetResolution(1080), SetFps(60), SetDuration(10)], ""),
    ("fade in and out", [SetFades(True, True)], ""),
    ("fade out at the end", [SetFades(False, True)], "end"),
    ("slower please", [SetSpeed(0.6)], ""),
    ("a bit faster", [SetSpeed(1.6)], ""),
    ("add the music", [SetMusic(True)], ""),
    ("no music", [SetMusic(False)], ""),
    ("remove the title", [SetTitle(None)], ""),
    ("title: Grand Opening, 8 seconds", [SetTitle("Grand Opening"), SetDuration(8)], ""),
    ("caption “Hello there” ", [SetTitle("Hello there")], ""),
    ("it's a zoom in, don't rotate", [SetMotion("zoom_in"), SetMotion("rotate")], "don't"),
    ("make it purple and sparkly", [], "purple sparkly"),
    (
        "竖屏，放大，8秒，标题「夏日特卖」，淡入淡出",
        [
            SetAspect("9:16"),
            SetMotion("zoom_in"),
            SetDuration(8),
            SetTitle("夏日特卖"),
            SetFades(True, True),
        ],
        "",
    ),
    ("横屏 十秒 快一点", [SetAspect("16:9"), SetDuration(10), SetSpeed(1.6)], ""),
    ("方形，向左平移，慢一点", [SetAspect("1:1"), SetMotion("pan_left"), SetSpeed(0.6)], ""),
    ("缩小，淡出，配乐", [SetMotion("zoom_out"), SetFades(False, True), SetMusic(True)], ""),
    ("慢慢旋转 720p 30帧", [SetMotion("rotate"), SetResolution(720), SetFps(30)], ""),
    (
        "呼吸效果，『新品上市』，十五秒",
        [SetMotion("breathe"), SetTitle("新品上市"), SetDuration(15)],
        "",
    ),
    ("向上平移，不要音乐", [SetMotion("pan_up"), SetMusic(False)], ""),
    ("９：１６，五秒", [SetAspect("9:16"), SetDuration(5)], ""),
    ("做个后空翻", [], "后空翻"),
]


@pytest.mark.parametrize(("text", "changes", "unknown"), CASES)
def test_parse_table(text: str, changes: list[Change], unknown: str) -> None:
    parsed = parse(text)
    assert list(parsed.changes) == changes
    assert parsed.unknown == unknown


def test_out_of_range_numbers_are_not_taken() -> None:
    parsed = parse("500 seconds at 5 fps")
    assert not any(isinstance(c, SetDuration | SetFps) for c in parsed.changes)
    assert "500" in parsed.unknown


def test_apply_folds_changes_in_order() -> None:
    s = apply(
        ClipSettings(),
        [SetMotion("pan_left"), SetSpeed(0.6), SetSpeed(0.6), SetFades(True, False)],
    )
    assert s.move == "pan_left"
    assert s.speed == pytest.approx(0.36)
    assert (s.fade_in, s.fade_out) == (True, False)
    s = apply(s, [SetFades(False, True), SetTitle("Hi"), SetTitle(None), SetMusic(False)])
    assert (s.fade_in, s.fade_out, s.title, s.music) == (True, True, None, False)


def test_echo_reads_like_the_request() -> None:
    changes = parse("zoom in, 9:16, 6 seconds, title 'Summer Sale'").changes
    assert " · ".join(describe(c) for c in changes) == "Zoom in · 9:16 · 6 s · title “Summer Sale”"
    zh = parse("放大，竖屏，6秒，标题「夏日特卖」").changes
    assert " · ".join(describe(c, "zh") for c in zh) == "放大 · 9:16 · 6 秒 · 标题「夏日特卖」"


@pytest.mark.parametrize(
    ("text", "value"), [("5", 5), ("五", 5), ("十", 10), ("十五", 15), ("二十", 20), ("两", 2)]
)
def test_chinese_numbers(text: str, value: int) -> None:
    assert zh_number(text) == value


@pytest.mark.parametrize(
    ("size", "aspect", "frame"),
    [
        ((4000, 3000), "16:9", (1920, 1080)),
        ((3000, 4000), "4:5", (1080, 1350)),
        ((1080, 1920), "9:16", (1080, 1920)),
        ((1000, 1050), "1:1", (1080, 1080)),
    ],
)
def test_default_aspect_follows_the_photo(
    size: tuple[int, int], aspect: str, frame: tuple[int, int]
) -> None:
    chosen = nearest_aspect(*size)
    assert chosen == aspect
    assert frame_size(chosen, 1080) == frame
    assert all(v % 2 == 0 for v in frame_size(chosen, 720))


@pytest.mark.parametrize(
    ("text", "changes"),
    [
        ("zoom in, each", [SetMotion("zoom_in")]),
        ("one per photo, 9:16", [SetAspect("9:16")]),
        ("separately", []),
        ("分别做成竖屏", [SetAspect("9:16")]),
        ("每张都放大", [SetMotion("zoom_in")]),
    ],
)
def test_batch_words_are_the_engines_and_pass_quietly(text: str, changes: list[Change]) -> None:
    # "each" / "分别" ask the engine for one clip per photo; the parser must not call
    # them not understood.
    parsed = parse(text)
    assert list(parsed.changes) == changes
    assert parsed.unknown == ""

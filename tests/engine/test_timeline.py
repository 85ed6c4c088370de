"""The draft read defensively: summary in the API page's format, exportable, diff."""

from __future__ import annotations

from typing import Any

import pytest

from bot.timeline import diff, exportable, parse, summary

DRAFT: dict[str, Any] = {
    "t": [
        {"tt": 0, "sg": [{"n": "city timelapse", "s": 0, "d": 10000}]},
        {"tt": 1, "sg": [{"n": "Lo-fi", "s": 0, "d": 10000, "v": 0.35}]},
        {"tt": 7, "sg": [{"x": "Urban Dreams", "s": 0, "d": 3000}]},
    ],
    "m": {"width": 1920, "height": 1080},
}


def test_summary_matches_the_api_page() -> None:
    assert summary(parse(DRAFT)) == (
        "Timeline (3 tracks, 1920×1080): 1. Video: city timelapse (0-10s) "
        '2. BGM: Lo-fi (0-10s, 35%) 3. Title: "Urban Dreams" (0-3s)'
    )


def test_summary_in_chinese_and_empty() -> None:
    zh = summary(parse(DRAFT), "zh")
    assert zh.startswith("时间线（3 条轨道，1920×1080）：1. 视频：city timelapse")
    assert summary(parse({})) == "Timeline is empty."


@pytest.mark.parametrize(
    "draft",
    [
        None,
        {},
        {"t": "nope"},
        {"t": [None, 3, {"tt": "x", "sg": {"a": 1}}]},
        {"t": [{"tt": 0, "sg": [None, {"d": "long"}]}]},
        {"m": []},
    ],
)
def test_odd_shapes_do_not_crash(draft: Any) -> None:
    text = summary(parse(draft))
    assert text.startswith("Timeline")


def test_unknown_segment_fields_fall_back() -> None:
    tl = parse({"t": [{"tt": 0, "sg": [{"d": 2500, "s": 500}, {"m": {"name": "beach"}}]}]})
    assert summary(tl) == "Timeline (1 track): 1. Video: clip 1 (0.5-3s), beach"


def test_exportable() -> None:
    assert exportable(DRAFT)
    assert not exportable({"t": [{"tt": 0, "sg": []}]})
    assert not exportable({"t": []})
    assert not exportable(None)


def test_diff_names_what_changed() -> None:
    after: dict[str, Any] = {
        "t": [
            {"tt": 0, "sg": [{"n": "city timelapse", "s": 0, "d": 5000}]},
            DRAFT["t"][1],
            DRAFT["t"][2],
            {"tt": 7, "sg": [{"x": "Summer Sale", "s": 0, "d": 2000}]},
        ],
        "m": {"width": 1080, "height": 1920},
    }
    changes = diff(parse(DRAFT), parse(after))
    assert changes == [
        "Video: city timelapse (0-10s) → city timelapse (0-5s)",
        'added Title: "Summer Sale" (0-2s)',
        "frame size now 1080×1920",
    ]
    assert diff(parse(DRAFT), parse(DRAFT)) == []


def test_diff_removed_track_in_chinese() -> None:
    after = {"t": DRAFT["t"][:2], "m": DRAFT["m"]}
    assert diff(parse(DRAFT), parse(after), "zh") == ['删除 标题："Urban Dreams" (0-3s)']

"""The routing table: the seed's phrases in English and Chinese, commands, look-alikes."""

from __future__ import annotations

import pytest

from bot.routing import DEFAULT_PROMPT, Route, route

CASES = [
    # the seed table
    ("export", "export"),
    ("导出", "export"),
    ("download", "export"),
    ("send me the video", "export"),
    ("Export 1080p MP4", "export"),
    ("please export it!", "export"),
    ("请导出视频", "export"),
    ("下载", "export"),
    ("credits", "credits"),
    ("积分", "credits"),
    ("balance", "credits"),
    ("余额", "credits"),
    ("how many credits do I have left?", "credits"),
    ("查询余额", "credits"),
    ("status", "status"),
    ("状态", "status"),
    ("show tracks", "status"),
    ("Show me the timeline", "status"),
    ("upload", "upload"),
    ("上传", "upload"),
    ("help", "help"),
    ("can you help me?", "help"),
    ("help me make a video", "agent"),
    ("帮助", "help"),
    # commands
    ("/start", "start"),
    ("/help", "help"),
    ("/new", "new"),
    ("/status", "status"),
    ("/credits", "credits"),
    ("/export", "export"),
    ("/export@clipbot_bot", "export"),
    ("/frobnicate", "help"),
    # look-alikes that are instructions for the agent
    ("download speed is slow? make it faster", "agent"),
    ("export it as 9:16 with a title", "agent"),
    ("make a 5-second zoom-in, 9:16, title 'Summer Sale'", "agent"),
    ("add a status bar at the top", "agent"),
    ("把视频导出成竖屏并加上标题", "agent"),
    ("add some lo-fi background music", "agent"),
    ("convert my static images", "agent"),
]


@pytest.mark.parametrize(("text", "intent"), CASES)
def test_routing_table(text: str, intent: str) -> None:
    assert route(text).intent == intent


def test_agent_keeps_the_words() -> None:
    assert route("  add a title  ") == Route("agent", "add a title")


def test_attachments_are_an_upload_with_the_caption_as_instruction() -> None:
    assert route("zoom in slowly", has_attachments=True) == Route("upload", "zoom in slowly")
    assert route("", has_attachments=True) == Route("upload", "")
    assert DEFAULT_PROMPT.startswith("turn this image")


def test_a_command_wins_over_attachments() -> None:
    assert route("/export", has_attachments=True).intent == "export"


def test_empty_text_is_help() -> None:
    assert route("   ").intent == "help"

"""The pure parts of the conversion: kinds, mentions, folded instructions."""

from __future__ import annotations

import pytest

from adapters.discord.convert import attachment_kind, fold_instruction, strip_mentions
from bot.ports.chat import BUTTON_ACTIONS, button_id


@pytest.mark.parametrize(
    ("content_type", "name", "kind"),
    [
        ("image/png", "x.bin", "image"),
        ("image/jpeg; charset=binary", "photo", "image"),
        (None, "IMG_0001.HEIC", "image"),
        ("audio/mpeg", "song", "audio"),
        (None, "tune.m4a", "audio"),
        ("video/mp4", "clip", "video"),
        (None, "clip.mov", "video"),
        ("application/pdf", "doc.pdf", "file"),
        (None, "no-extension", "file"),
    ],
)
def test_attachment_kind(content_type: str | None, name: str, kind: str) -> None:
    assert attachment_kind(content_type, name) == kind


def test_strip_mentions_removes_only_the_bot() -> None:
    assert strip_mentions("<@42> zoom <@!42> in <@7>", 42) == "zoom   in <@7>"


def test_fold_instruction() -> None:
    assert fold_instruction("zoom in.", "9:16", 5) == "zoom in. aspect ratio 9:16, 5 seconds long"
    assert fold_instruction("", None, None) == "Animate this photo"
    assert fold_instruction("pan left", None, 3) == "pan left. 3 seconds long"


def test_custom_ids_are_stable() -> None:
    assert [button_id(a) for a in BUTTON_ACTIONS] == [
        "clipbot:export",
        "clipbot:status",
        "clipbot:credits",
        "clipbot:new",
    ]

"""The user-facing text of errors reads as sentences."""

from __future__ import annotations

from bot import errors
from bot.replies import error_reply


def test_a_bad_image_reply_is_two_sentences() -> None:
    exc = errors.BadImage("That file is empty (0 bytes). Please send the photo again.")
    assert error_reply(exc, "en") == (
        "I can't use that image. That file is empty (0 bytes). Please send the photo again."
    )
    assert error_reply(exc, "zh").startswith("这张图片无法使用。")


def test_an_unsupported_file_lists_the_formats() -> None:
    exc = errors.UnsupportedFile("nope", formats=("jpg", "png"))
    assert error_reply(exc, "en").endswith("Supported formats: jpg, png.")

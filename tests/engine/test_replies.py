"""The user-facing text of errors reads as sentences."""

from __future__ import annotations

from bot import errors
from bot.errors import BadImage
from bot.replies import error_reply
from bot.words import say


def test_a_bad_image_reply_is_two_sentences() -> None:
    exc = errors.BadImage("image_empty")
    assert error_reply(exc, "en") == (
        "I can't use that image. That file is empty (0 bytes). Please send the photo again."
    )
    assert error_reply(exc, "zh").startswith("这张图片无法使用。")


def test_an_unsupported_file_lists_the_formats() -> None:
    exc = errors.UnsupportedFile("nope", formats=("jpg", "png"))
    assert error_reply(exc, "en").endswith("Supported formats: jpg, png.")


def test_counts_read_naturally() -> None:
    assert say("stage_uploading", "en", n=1) == "📤 Uploading 1 file…"
    assert say("stage_uploading", "en", n=3) == "📤 Uploading 3 files…"
    assert say("stage_uploading", "zh", n=3) == "📤 正在上传 3 个文件…"


def test_bad_input_speaks_the_chat_language() -> None:
    exc = BadImage("image_too_small", width=20, height=30, min_side=64)
    assert "这张图片太小了（20×30 像素）" in error_reply(exc, "zh")
    assert "too small" not in error_reply(exc, "zh")
    assert "That image is too small (20×30 pixels)" in error_reply(exc, "en")
    # The log line (str) is the English text.
    assert str(exc).startswith("That image is too small")


def test_a_file_too_large_names_the_limit_in_binary_megabytes() -> None:
    exc = errors.FileTooLarge("big", limit_bytes=200 * 2**20)
    assert "200 MB" in error_reply(exc, "en")

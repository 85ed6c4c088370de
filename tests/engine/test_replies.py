"""The user-facing text of errors reads as sentences."""

from __future__ import annotations

from bot import errors, replies
from bot.errors import BadImage, BadInput
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


def test_counts_read_naturally() -> None:
    assert replies.text("stage_uploading", "en", n=1) == "📤 Uploading 1 file…"
    assert replies.text("stage_uploading", "en", n=3) == "📤 Uploading 3 files…"
    assert replies.text("stage_uploading", "zh", n=3) == "📤 正在上传 3 个文件…"


def test_bad_input_speaks_the_chat_language() -> None:
    exc = BadImage("That file is empty (0 bytes).", zh="这个文件是空的（0 字节）。")
    assert "这个文件是空的" in replies.error_reply(exc, "zh")
    assert "That file is empty" not in replies.error_reply(exc, "zh")
    assert "That file is empty" in replies.error_reply(exc, "en")
    untranslated = BadInput("Only English here.")
    assert "Only English here." in replies.error_reply(untranslated, "zh")

"""Which language a chat speaks: from the text's script, then the user's settings."""

from __future__ import annotations

import re

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_LATIN = re.compile(r"[A-Za-z]{2,}")

SUPPORTED = ("en", "zh")


def detect(text: str, language_code: str | None = None) -> str | None:
    """ "zh" or "en" when the text (or, failing that, the platform) says; else None."""
    words = "" if text.lstrip().startswith("/") else text
    if _CJK.search(words):
        return "zh"
    if _LATIN.search(words):
        return "en"
    if language_code:
        code = language_code.lower()
        if code.startswith("zh"):
            return "zh"
        if code.startswith("en"):
            return "en"
    return None

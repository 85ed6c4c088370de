"""Which language a chat speaks: from the text's script, then the user's settings."""

from __future__ import annotations

import re

from bot.words import Lang, as_lang

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_LATIN = re.compile(r"[A-Za-z]{2,}")


def detect(text: str, language_code: str | None = None) -> Lang | None:
    """ "zh" or "en" when the text (or, failing that, the platform) says; else None."""
    words = "" if text.lstrip().startswith("/") else text
    if _CJK.search(words):
        return "zh"
    if _LATIN.search(words):
        return "en"
    if language_code and language_code.lower().startswith(("zh", "en")):
        return as_lang(language_code)
    return None

"""Every user-facing word, in English and Chinese: the catalogue `words.toml` beside this
module, read once, and the few helpers that put values into its texts.

    say("queued", "zh", n=2)   →  "⏳ 收到。上一个请求还在处理中，这条排在后面（第 2 位）。"

Technical details never go into a text: they go to the operator's log line.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Literal, get_args

Lang = Literal["en", "zh"]
LANGUAGES: tuple[Lang, ...] = get_args(Lang)

_CATALOGUE = Path(__file__).with_name("words.toml")


@cache
def catalogue() -> Mapping[str, Mapping[Lang, str]]:
    """Every text by key, then by language (read from `words.toml` on first use)."""
    raw = tomllib.loads(_CATALOGUE.read_text(encoding="utf-8"))
    return {key: {lang: str(entry[lang]) for lang in LANGUAGES} for key, entry in raw.items()}


def as_lang(value: str | None, default: Lang = "en") -> Lang:
    """A language code of any shape (``zh-Hans``, ``en_GB``, None) as one we speak."""
    code = (value or "").lower()
    if code.startswith("zh"):
        return "zh"
    if code.startswith("en"):
        return "en"
    return default


def say(key: str, lang: Lang, **values: object) -> str:
    """The text `key` in `lang`, its {placeholders} filled from `values`."""
    template = catalogue()[key][lang]
    if isinstance(n := values.get("n"), int):
        values.setdefault("files", "1 file" if n == 1 else f"{n} files")
        values.setdefault("clips", "1 clip" if n == 1 else f"{n} clips")
    return template.format(**values) if values else template


MIB = 1024 * 1024


def size(n_bytes: int) -> str:
    """A file size as people and platforms count it (binary): ``20 MB``, ``20.5 MB``,
    ``512 KB``."""
    if n_bytes >= MIB:
        return f"{n_bytes / MIB:.1f} MB".replace(".0 MB", " MB")
    return f"{max(1, round(n_bytes / 1024))} KB"

"""The catalogue of words: complete in both languages, and every key the code uses exists."""

from __future__ import annotations

import ast
import string
from pathlib import Path

import pytest

from bot.words import LANGUAGES, as_lang, catalogue, say, size

ROOT = Path(__file__).resolve().parent.parent
PRODUCT = ("bot", "adapters", "backends", "storage")


def _placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_every_text_is_in_both_languages_with_the_same_placeholders() -> None:
    for key, entry in catalogue().items():
        assert set(entry) == set(LANGUAGES), key
        assert all(entry[lang].strip() for lang in LANGUAGES), key
        en, zh = (_placeholders(entry[lang]) for lang in LANGUAGES)
        # "files" and "clips" are plurals the English text asks for ("1 file"); Chinese
        # counts {n}.
        for plural in ("files", "clips"):
            if plural in en:
                en = en - {plural} | {"n"}
        assert en == zh, key


def _keys_used() -> set[str]:
    """The string keys passed to `say(...)` (or to errors that take a words key)."""
    used: set[str] = set()
    for package in PRODUCT:
        for path in (ROOT / package).rglob("*.py"):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if not isinstance(node, ast.Call) or not node.args:
                    continue
                name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
                first = node.args[0]
                if name in ("say", "BadInput", "BadImage") and isinstance(first, ast.Constant):
                    used.add(str(first.value))
    return used


def test_every_key_the_code_uses_is_in_the_catalogue() -> None:
    used = _keys_used()
    assert len(used) > 50  # the scan itself works
    assert used - set(catalogue()) == set()


def test_a_missing_key_is_an_error_not_a_silent_fallback() -> None:
    with pytest.raises(KeyError):
        say("no_such_text", "en")


@pytest.mark.parametrize(
    ("code", "lang"),
    [("zh-Hans", "zh"), ("zh_TW", "zh"), ("en-GB", "en"), ("fr", "en"), (None, "en")],
)
def test_language_codes(code: str | None, lang: str) -> None:
    assert as_lang(code) == lang


@pytest.mark.parametrize(
    ("n", "text"),
    [(512, "1 KB"), (300 * 1024, "300 KB"), (20 * 2**20, "20 MB"), (21495808, "20.5 MB")],
)
def test_sizes_are_binary_megabytes(n: int, text: str) -> None:
    assert size(n) == text

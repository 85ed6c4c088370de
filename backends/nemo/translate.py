"""GUI translation: Nemo's agent talks as if the user had an editor; the bot does not.

Each sentence of the agent's text is checked against a small table of phrases (English
and Chinese): "click Export" is dropped and reported as an offer to export (the engine
says the clip is coming, or how to get it), "click Add music" becomes "say “Add
music”", "drag the clip" becomes "tell me in words", and "open …" and "preview in
timeline" ask for the timeline summary, which the engine appends from the project.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.words import Lang, say

# A sentence ends at . ! ? followed by a space ("astro.jpg" and "2.5 s" are not ends), or
# at Chinese punctuation, which takes no space.
_SENTENCE = re.compile(r"(?<=[.!?])\s+|(?<=[。！？])\s*")
_CJK_END = ("。", "！", "？")
_EXPORT_CLICK = re.compile(
    r"(click|tap|press|hit|use|点击|点|按)\W{0,3}(on\s+)?(the\s+)?[\"'“「]?(export|导出)",
    re.IGNORECASE,
)
_EXPORT_BUTTON = re.compile(r"(?:the\s+)?export\s+button|导出按钮", re.IGNORECASE)
# What may join a kept clause to a dropped one: "…, and click Export", "…；点击导出".
_JOINER = re.compile(r"[\s,;:，；：、—–-]*(?:\b(?:and|then|just|now|so)\b[\s,]*)*$", re.I)
_CLICK = re.compile(
    r"\b(?:click|tap|press)\s+(?:on\s+)?(?:the\s+)?"
    r"(?:[\"“']([^\"”']{1,30})[\"”']|(\w+(?:\s\w+)?)\s+button|(\w+))",
    re.IGNORECASE,
)
_ZH_CLICK = re.compile(r"点击\s*[「“\"]?([^，。！？」”\"]{1,12})[」”\"]?")
# "drop" alone is too common a word ("a drop shadow"): only dropping something somewhere.
_DRAG = re.compile(
    r"\bdrag\b|\bdrop\b[^.!?。]{0,40}?\b(onto|into|here)\b|拖拽|拖动|拖放", re.IGNORECASE
)
_PREVIEW = re.compile(
    r"preview\b.*\btimeline|timeline\b.*\bpreview|时间线.*预览|预览.*时间线", re.I
)
# "open" only with a part of an editor ("open the panel"), not "an open sky".
_OPEN = re.compile(
    r"\bopen\s+(?:up\s+)?(?:the\s+|your\s+|a\s+)?(?:\w+\s+)?"
    r"(?:editor|panel|timeline|tab|menu|settings|preview|library|window|app|workspace"
    r"|project|sidebar|toolbar|inspector|properties|dashboard)\b|打开",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class Translated:
    """The text to show; whether the timeline summary should follow it; whether the agent
    offered an export (which the engine turns into what it does)."""

    text: str
    show_project: bool = False
    offers_export: bool = False


def _sentences(line: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.split(line.strip()) if s.strip()]


def _join(sentences: list[str]) -> str:
    """Sentences back into a line: a space after an English end, none after a Chinese one."""
    line = ""
    for sentence in sentences:
        if line and not line.endswith(_CJK_END):
            line += " "
        line += sentence
    return line


def _capital(sentence: str) -> str:
    return sentence[:1].upper() + sentence[1:]


def _without_export(sentence: str) -> str:
    """The sentence cut before its "click Export" clause ("" when that is all of it)."""
    found = _EXPORT_CLICK.search(sentence) or _EXPORT_BUTTON.search(sentence)
    assert found is not None
    head = _JOINER.sub("", sentence[: found.start()]).strip()
    if not head:
        return ""
    cjk = bool(re.search(r"[\u3400-\u9fff]", head))
    return head if head.endswith((".", "!", "?", *_CJK_END)) else head + ("。" if cjk else ".")


def _clicks(sentence: str, lang: Lang) -> str:
    def english(match: re.Match[str]) -> str:
        target = next(g for g in match.groups() if g).strip()
        words = say("say_button", "en", button=target)
        return _capital(words) if match.start() == 0 else words

    sentence = _CLICK.sub(english, sentence)
    return _ZH_CLICK.sub(lambda m: say("say_button", "zh", button=m.group(1).strip()), sentence)


def translate(text: str, lang: Lang = "en") -> Translated:
    """Rewrite GUI phrases in one agent message, keeping its line breaks."""
    lines: list[str] = []
    show = offers = False
    hint = say("drag_hint", lang)
    for line in text.strip().splitlines():
        out: list[str] = []
        for sentence in _sentences(line):
            if _DRAG.search(sentence):
                if not any(hint in kept for kept in [*lines, *out]):
                    out.append(hint)
                continue
            if _PREVIEW.search(sentence) or _OPEN.search(sentence):
                show = True
                continue
            if _EXPORT_CLICK.search(sentence) or _EXPORT_BUTTON.search(sentence):
                offers = True
                sentence = _without_export(sentence)
            else:
                sentence = _clicks(sentence, lang)
            if sentence.strip():
                out.append(sentence.strip())
        if out or not line.strip():
            lines.append(_join(out))
    joined = re.sub(r"\n{3,}", "\n\n", "\n".join(lines))
    return Translated(joined.strip(), show, offers)

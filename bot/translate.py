"""GUI translation: the agent talks as if the user had an editor; the bot does not.

Each sentence of the agent's text is checked against a small table of phrases
(English and Chinese): "click Export" becomes "say “export”", "drag the clip" becomes
"tell me in words", "open …" and "preview in timeline" become the timeline summary,
which the engine appends from the project's state.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

# A sentence ends at . ! ? followed by a space ("astro.jpg" and "2.5 s" are not ends), or
# at Chinese punctuation, which takes no space.
_SENTENCE = re.compile(r"(?<=[.!?])\s+|(?<=[。！？])\s*")
_CJK_END = ("。", "！", "？")
_EXPORT_CLICK = re.compile(
    r"(click|tap|press|hit|use|点击|点|按)\W{0,3}(on\s+)?(the\s+)?[\"'“「]?(export|导出)",
    re.IGNORECASE,
)
_EXPORT_BUTTON = re.compile(r"export\s+button|导出按钮", re.IGNORECASE)
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
_TEMPORARY_ISSUE = re.compile(r"temporary issue|暂时的问题|临时问题|暂时性问题", re.IGNORECASE)

_SAY_EXPORT = {"en": 'say "export" (or use /export)', "zh": "发送“导出”（或使用 /export）"}
_DRAG_HINT = {
    "en": "Tell me in words what to move where (for example: put the title at the end).",
    "zh": "用文字告诉我要把什么移到哪里（例如：把标题放到结尾）。",
}


@dataclass(frozen=True, slots=True)
class Translated:
    """The text to show, and whether the timeline summary should follow it."""

    text: str
    show_timeline: bool = False


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


def _say(match: re.Match[str]) -> str:
    target = next(g for g in match.groups() if g)
    return f'say "{target.strip()}"'


def translate(text: str, lang: str = "en") -> Translated:
    """Rewrite GUI phrases in one agent message, keeping its line breaks."""
    lang = "zh" if lang == "zh" else "en"
    lines: list[str] = []
    show = False
    for line in text.strip().splitlines():
        out: list[str] = []
        for sentence in _sentences(line):
            if _DRAG.search(sentence):
                if not any(_DRAG_HINT[lang] in kept for kept in [*lines, *out]):
                    out.append(_DRAG_HINT[lang])
                continue
            if _PREVIEW.search(sentence) or _OPEN.search(sentence):
                show = True
                continue
            if _EXPORT_CLICK.search(sentence) or _EXPORT_BUTTON.search(sentence):
                sentence = _EXPORT_CLICK.sub(_SAY_EXPORT[lang], sentence)
                sentence = _EXPORT_BUTTON.sub(_SAY_EXPORT[lang], sentence)
            else:
                sentence = _CLICK.sub(_say, sentence)
                sentence = _ZH_CLICK.sub(lambda m: f"发送“{m.group(1).strip()}”", sentence)
            out.append(sentence.strip())
        if out or not line.strip():
            lines.append(_join(out))
    joined = re.sub(r"\n{3,}", "\n\n", "\n".join(lines))
    return Translated(joined.strip(), show)


def drop_trailing_issue(messages: Sequence[str]) -> list[str]:
    """Drop a "temporary issue" message that follows a normal reply."""
    kept = list(messages)
    while len(kept) > 1 and _TEMPORARY_ISSUE.search(kept[-1]):
        kept.pop()
    return kept

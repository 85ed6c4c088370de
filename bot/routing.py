"""Intent routing: a pure function from what the user sent to what the bot does.

The seed table (English and Chinese) plus the slash commands. A keyword counts only
when it is the whole request, give or take polite words and a few object words:
"export 1080p mp4" exports, "download speed is slow? make it faster" goes to the agent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Intent = Literal[
    "start", "help", "new", "status", "credits", "export", "upload", "agent",
    # a public bot (`bot.gate`): a user's own usage, and the admins' commands
    "quota", "stats", "block", "unblock",
]  # fmt: skip

#: What a photo with no caption asks for.
DEFAULT_PROMPT = "turn this image into a short animated video clip"

_COMMANDS: dict[str, Intent] = {
    "start": "start",
    "help": "help",
    "new": "new",
    "status": "status",
    "state": "status",
    "credits": "credits",
    "balance": "credits",
    "export": "export",
    "quota": "quota",
    "stats": "stats",
    "block": "block",
    "unblock": "unblock",
}

# Words around a keyword that do not change the request.
_FILLERS = {
    "please", "pls", "plz", "now", "me", "my", "the", "a", "an", "it", "this", "that",
    "video", "clip", "file", "mp4", "1080p", "720p", "4k", "hd", "as", "in", "to",
    "can", "could", "would", "you", "i", "want", "need", "show", "check", "what", "is",
    "are", "how", "many", "much", "do", "have", "left", "of", "current", "project",
    "final", "result", "just", "ok", "okay", "thanks", "thank", "send", "give",
}  # fmt: skip
_ZH_FILLERS = (
    "请", "帮我", "给我", "一下", "吧", "呢", "吗", "视频", "我的", "当前", "的", "看看",
    "查看", "查询", "还有", "多少", "现在", "文件", "发", "把", "这个", "项目",
)  # fmt: skip

_KEYWORDS: tuple[tuple[Intent, tuple[str, ...], tuple[str, ...]], ...] = (
    # intent, English keyword phrases, Chinese keywords
    ("export", ("export", "download", "send me the video", "render"), ("导出", "下载")),
    ("credits", ("credits", "credit", "balance"), ("积分", "余额")),
    ("status", ("status", "show tracks", "tracks", "state", "timeline"), ("状态", "轨道")),
    ("upload", ("upload",), ("上传",)),
    ("help", ("help",), ("帮助",)),
)

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_PUNCT = re.compile(r"[\s\.,!?;:'\"“”‘’()\[\]…。，！？；：、～~\-]+")


@dataclass(frozen=True, slots=True)
class Route:
    """Where a message goes; `text` is the instruction for the agent (may be empty)."""

    intent: Intent
    text: str = ""
    #: This request makes a clip of its own, in a new project (one of a batch).
    fresh: bool = False


def _command(text: str) -> Route | None:
    if not text.startswith("/"):
        return None
    head, _, rest = text[1:].partition(" ")
    name = head.split("@", 1)[0].lower()
    intent = _COMMANDS.get(name)
    if intent is None:
        return Route("help")
    return Route(intent, rest.strip())


def _english_intent(words: list[str]) -> Intent | None:
    joined = " ".join(words)
    for intent, phrases, _ in _KEYWORDS:
        for phrase in phrases:
            if phrase in joined:
                rest = (" " + joined + " ").replace(" " + phrase + " ", " ", 1).split()
                if len(rest) < len(words) and all(w in _FILLERS for w in rest):
                    return intent
    return None


def _chinese_intent(text: str) -> Intent | None:
    compact = _PUNCT.sub("", text.lower())
    for intent, _, keywords in _KEYWORDS:
        for keyword in keywords:
            if keyword in compact:
                rest = compact.replace(keyword, "", 1)
                for filler in _ZH_FILLERS:
                    rest = rest.replace(filler, "")
                rest = rest.replace("mp4", "").replace("1080p", "")
                if not rest:
                    return intent
    return None


#: "One clip per photo" instead of one slideshow of them all (English and Chinese).
_BATCH = re.compile(
    r"\b(?:each|separately|individually"
    r"|one (?:clip |video )?(?:per|for each) (?:photo|picture|image|file))\b"
    r"|分别|每张|各自|单独|逐张",
    re.IGNORECASE,
)


def asks_one_each(text: str) -> bool:
    """True when the words ask for one clip per photo ("each", "分别"…)."""
    return bool(_BATCH.search(text))


def route(text: str, has_attachments: bool = False) -> Route:
    """Route one message. A message with files is an upload; its text the instruction."""
    stripped = text.strip()
    command = _command(stripped)
    if command is not None:
        return command
    if has_attachments:
        return Route("upload", stripped)
    if not stripped:
        return Route("help")
    intent = _chinese_intent(stripped) if _CJK.search(stripped) else None
    if intent is None:
        words = [w for w in _PUNCT.split(stripped.lower()) if w]
        intent = _english_intent(words)
    if intent is not None:
        return Route(intent)
    return Route("agent", stripped)

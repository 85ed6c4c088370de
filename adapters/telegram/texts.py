"""What the adapter itself says to users (the engine says everything else)."""

from __future__ import annotations

from bot.ports.chat import ButtonAction

from .limits import human_size

#: The command menu, registered with `setMyCommands` once per language.
COMMANDS: dict[str | None, tuple[tuple[str, str], ...]] = {
    None: (
        ("start", "Start: what I can do"),
        ("help", "How to make a clip"),
        ("new", "Start a new project"),
        ("status", "What I am working on"),
        ("credits", "Credits left"),
        ("export", "Export the video again"),
    ),
    "zh": (
        ("start", "开始：我能做什么"),
        ("help", "如何制作短片"),
        ("new", "开始新项目"),
        ("status", "当前进度"),
        ("credits", "剩余额度"),
        ("export", "重新导出视频"),
    ),
}

CALLBACK_PREFIX = "clipbot:"
ACTIONS: tuple[ButtonAction, ...] = ("export", "status", "credits", "new")


def _zh(language_code: str | None) -> bool:
    return bool(language_code) and str(language_code).lower().startswith("zh")


def too_large(size: int, limit: int, language_code: str | None) -> str:
    """The refusal for a file over the download limit, with the limit and a hint."""
    if _zh(language_code):
        return (
            f"这个文件有 {human_size(size)}，机器人最多只能从 Telegram 下载 "
            f"{human_size(limit)} 的文件。请把图片作为照片发送（不要作为文件），或发送更小的文件。"
        )
    return (
        f"That file is {human_size(size)}, and a bot can fetch at most {human_size(limit)} "
        "from Telegram. Send the picture as a photo (not as a file) so Telegram compresses "
        "it, or send a smaller file."
    )


def failed(language_code: str | None) -> str:
    """The short answer when handling a message failed on our side."""
    if _zh(language_code):
        return "抱歉，处理这条消息时出错了。请再试一次。"
    return "Sorry, something went wrong on my side with that message. Please try again."


def stale_button(language_code: str | None) -> str:
    """The answer to a button we do not know (from an older version)."""
    if _zh(language_code):
        return "这个按钮已失效。"
    return "That button no longer works."


def link_note(caption: str, url: str, size_limit: int) -> str:
    """A download link sent in place of a file over the upload limit."""
    note = (
        f"The video is bigger than the {human_size(size_limit)} Telegram lets a bot "
        f"send, so here is a download link:\n{url}"
    )
    return f"{caption}\n\n{note}" if caption else note

"""Every user-facing text, in English and Chinese, and the one error → message mapping.

Technical details never reach the user: they go to the log line the engine writes.
"""

from __future__ import annotations

from bot import errors
from bot.ports.chat import Button

Lang = str

_TEXTS: dict[str, dict[str, str]] = {
    "help": {
        "en": (
            "Send me a photo (or several) with a caption saying what you want, for example "
            "\"a 5-second zoom-in, 9:16, title 'Summer Sale'\", and I will send back an MP4.\n"
            "Then keep talking to edit it. Commands: /export (send the video), /status "
            "(what is in the project), /credits (your balance), /new (a fresh project), "
            "/help."
        ),
        "zh": (
            "发一张照片（或几张），并写上你想要的效果，例如“5 秒推近，9:16，标题‘夏季特卖’”，"
            "我会回你一个 MP4。之后继续说话即可修改。命令：/export（发送视频）、/status"
            "（项目内容）、/credits（积分余额）、/new（新项目）、/help。"
        ),
    },
    "queued": {
        "en": "⏳ Got it. I'm still on your previous request; this one is next in line ({n}).",
        "zh": "⏳ 收到。上一个请求还在处理中，这条排在后面（第 {n} 位）。",
    },
    "no_project": {
        "en": "There is no project yet: send a photo to start.",
        "zh": "还没有项目：先发一张照片吧。",
    },
    "project_starting": {
        "en": "Your project is being set up with your first request; ask again once it answers.",
        "zh": "正在用你的第一个请求创建项目；等它回复后再问一次。",
    },
    "nothing_to_export": {
        "en": "There is nothing to export yet: send a photo or tell me what to make first.",
        "zh": "还没有可以导出的内容：先发照片或告诉我要做什么。",
    },
    "credits": {
        "en": "Credits: {available} available, {frozen} reserved, {total} in total.",
        "zh": "积分：可用 {available}，冻结 {frozen}，共 {total}。",
    },
    "credits_unlimited": {
        "en": "This bot renders locally: there are no credits to count.",
        "zh": "本机渲染，不消耗积分。",
    },
    "new_project": {
        "en": "Fresh project started. Send a photo to begin.",
        "zh": "已开始新项目。发一张照片开始吧。",
    },
    "upload_needs_file": {
        "en": "Send the photo (or video, or audio) as an attachment and I'll add it.",
        "zh": "请把照片（或视频、音频）作为附件发给我。",
    },
    "silent_changes": {
        "en": "✅ Done. What changed: {changes}.",
        "zh": "✅ 完成。改动：{changes}。",
    },
    "silent_nothing": {
        "en": "The step finished without an answer, and nothing changed in the project. "
        "Try saying it another way.",
        "zh": "这一步没有回复，项目也没有变化。换个说法试试。",
    },
    "recovered": {
        "en": "The connection dropped, but the work went through. What changed: {changes}.",
        "zh": "连接中断了，但修改已完成。改动：{changes}。",
    },
    "recovery_failed": {
        "en": "The connection to the video service dropped, and after {minutes} the project "
        "has not changed. Send your message again to retry.",
        "zh": "与视频服务的连接中断，{minutes}后项目仍没有变化。请重新发送消息重试。",
    },
    "caption": {
        "en": "🎬 Your clip ({size}, {duration} s)",
        "zh": "🎬 你的视频（{size}，{duration} 秒）",
    },
    "caption_for": {"en": "for {name}", "zh": "给 {name}"},
    "caption_link": {"en": "Open the project: {link}", "zh": "在浏览器中打开项目：{link}"},
    "link_note": {
        "en": "The file ({mb} MB) is over this chat's upload limit: download it here.",
        "zh": "文件（{mb} MB）超过了这里的上传上限：请从链接下载。",
    },
    "too_big": {
        "en": "The clip is ready but too big ({mb} MB) to send here, and there is no link. "
        "Ask for a shorter clip.",
        "zh": "视频已完成，但太大（{mb} MB）无法在这里发送，也没有下载链接。请要一个更短的视频。",
    },
    "stage_connecting": {"en": "🔌 Connecting…", "zh": "🔌 连接中…"},
    "stage_uploading": {"en": "📤 Uploading {files}…", "zh": "📤 正在上传 {n} 个文件…"},
    "stage_thinking": {"en": "🤖 Working on it…", "zh": "🤖 处理中…"},
    "stage_rendering": {"en": "🎬 Rendering…", "zh": "🎬 渲染中…"},
    "stage_downloading": {"en": "📥 Fetching the video…", "zh": "📥 正在获取视频…"},
    "stage_sending": {"en": "📨 Sending the video…", "zh": "📨 正在发送视频…"},
    "stage_recovering": {
        "en": "🔄 The connection dropped; checking the project…",
        "zh": "🔄 连接中断，正在检查项目…",
    },
    "stage_done": {"en": "✅ Done", "zh": "✅ 完成"},
    "stage_failed": {"en": "⚠️ Stopped", "zh": "⚠️ 已停止"},
    "still_working": {"en": "⏳ Still working…", "zh": "⏳ 仍在处理中…"},
    "btn_export": {"en": "Export again", "zh": "再次导出"},
    "btn_status": {"en": "Status", "zh": "状态"},
    "btn_credits": {"en": "Credits", "zh": "积分"},
    "btn_new": {"en": "New project", "zh": "新项目"},
    # errors
    "err_no_credits_register": {
        "en": "You're out of credits. Register for free to get more: {url}",
        "zh": "积分用完了。免费注册即可获得更多：{url}",
    },
    "err_no_credits": {
        "en": "You're out of credits: top up your credits in your account.",
        "zh": "积分用完了：请在账户中充值。",
    },
    "err_export_not_allowed": {
        "en": "Your plan does not allow export: register or upgrade your plan to export.",
        "zh": "当前套餐不支持导出：请注册或升级套餐后再导出。",
    },
    "err_unsupported": {
        "en": "I can't use that kind of file. Supported formats: {formats}.",
        "zh": "不支持这种文件。支持的格式：{formats}。",
    },
    "err_too_large": {
        "en": "That file is too large (the limit is {limit} MB). Compress or trim it and "
        "send it again.",
        "zh": "文件太大（上限 {limit} MB）。请压缩或剪短后再发。",
    },
    "err_bad_image": {"en": "I can't use that image. {detail}", "zh": "这张图片无法使用。{detail}"},
    "err_bad_input": {"en": "I can't use that: {detail}", "zh": "无法使用：{detail}"},
    "err_render_failed": {
        "en": 'The render failed. Say "export" to try again.',
        "zh": "渲染失败。发送“导出”重试。",
    },
    "err_rate_limited": {
        "en": "The video service is busy right now. Please try again in a minute.",
        "zh": "视频服务繁忙，请一分钟后再试。",
    },
    "err_timeout": {
        "en": "That took too long and timed out. Try again, perhaps with a simpler request.",
        "zh": "处理超时。请再试一次，或者换个简单些的要求。",
    },
    "state_unreadable": {
        "en": "That went through, but I can't read the project right now to make the clip. "
        "Say “export” in a minute to get it (no need to repeat your request).",
        "zh": "请求已完成，但暂时无法读取项目来生成视频。"
        "过一分钟说“导出”即可获取（不用重复请求）。",
    },
    "err_unavailable": {
        "en": "I can't reach the video service right now. Please try again shortly.",
        "zh": "暂时无法连接视频服务，请稍后再试。",
    },
    "err_token": {
        "en": "I couldn't sign in to the video service. Please try again later.",
        "zh": "无法登录视频服务，请稍后再试。",
    },
    "err_session_lost": {
        "en": "The video service lost this project. Send the photo again to start over.",
        "zh": "视频服务丢失了这个项目。请重新发送照片开始。",
    },
    "err_generic": {
        "en": "Sorry, something went wrong on my side. Please try again.",
        "zh": "抱歉，出了点问题，请再试一次。",
    },
}


def text(key: str, lang: Lang, **values: object) -> str:
    """The text `key` in `lang` (English when the language is not known)."""
    entry = _TEXTS[key]
    template = entry.get(lang) or entry["en"]
    if isinstance(n := values.get("n"), int):
        values.setdefault("files", "1 file" if n == 1 else f"{n} files")
    return template.format(**values) if values else template


def result_buttons(lang: Lang) -> tuple[Button, ...]:
    """The buttons under a result: export again, status, credits, new project."""
    return (
        Button(text("btn_export", lang), "export"),
        Button(text("btn_status", lang), "status"),
        Button(text("btn_credits", lang), "credits"),
        Button(text("btn_new", lang), "new"),
    )


def _mb(n: int) -> str:
    # Limits are binary megabytes (Nemo's 200 MB is 200 × 2**20 bytes, as are the platforms').
    return f"{n / 2**20:.0f}"


def error_reply(exc: BaseException, lang: Lang) -> str:
    """The one user message for an error (never its technical detail)."""
    if isinstance(exc, errors.NoCredits):
        if exc.register_url:
            return text("err_no_credits_register", lang, url=exc.register_url)
        return text("err_no_credits", lang)
    if isinstance(exc, errors.ExportNotAllowed):
        return text("err_export_not_allowed", lang)
    if isinstance(exc, errors.UnsupportedFile):
        return text("err_unsupported", lang, formats=", ".join(exc.formats))
    if isinstance(exc, errors.FileTooLarge):
        return text("err_too_large", lang, limit=_mb(exc.limit_bytes))
    if isinstance(exc, errors.BadImage):
        return text("err_bad_image", lang, detail=exc.in_language(lang))
    if isinstance(exc, errors.BadInput):
        return text("err_bad_input", lang, detail=exc.in_language(lang))
    if isinstance(exc, errors.NothingToExport):
        return text("nothing_to_export", lang)
    if isinstance(exc, errors.RenderFailed):
        return text("err_render_failed", lang)
    if isinstance(exc, errors.RateLimited):
        return text("err_rate_limited", lang)
    if isinstance(exc, errors.TurnTimeout):
        return text("err_timeout", lang)
    if isinstance(exc, errors.Unavailable):
        return text("err_unavailable", lang)
    if isinstance(exc, errors.SessionLost):
        return text("err_session_lost", lang)
    if isinstance(exc, errors.TokenError):
        return text("err_token", lang)
    return text("err_generic", lang)

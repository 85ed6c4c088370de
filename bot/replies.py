"""The one error → message mapping, and the buttons under a result.

Technical details never reach the user: they go to the log line the engine writes.
"""

from __future__ import annotations

from bot import errors
from bot.ports.chat import BUTTON_ACTIONS, Button
from bot.words import Lang, say, size


def result_buttons(lang: Lang) -> tuple[Button, ...]:
    """The buttons under a result: export again, status, credits, new project."""
    return tuple(Button(say(f"btn_{action}", lang), action) for action in BUTTON_ACTIONS)


def error_reply(exc: BaseException, lang: Lang) -> str:
    """The one user message for an error (never its technical detail)."""
    if isinstance(exc, errors.NoCredits):
        if exc.register_url:
            return say("err_no_credits_register", lang, url=exc.register_url)
        return say("err_no_credits", lang)
    if isinstance(exc, errors.ExportNotAllowed):
        return say("err_export_not_allowed", lang)
    if isinstance(exc, errors.UnsupportedFile):
        return say("err_unsupported", lang, formats=", ".join(exc.formats))
    if isinstance(exc, errors.FileTooLarge):
        return say("err_too_large", lang, limit=size(exc.limit_bytes))
    if isinstance(exc, errors.BadImage):
        return say("err_bad_image", lang, detail=exc.in_language(lang))
    if isinstance(exc, errors.BadInput):
        return say("err_bad_input", lang, detail=exc.in_language(lang))
    if isinstance(exc, errors.NothingToExport):
        return say("nothing_to_export", lang)
    if isinstance(exc, errors.OutOfMemory):
        return say("err_out_of_memory", lang)
    if isinstance(exc, errors.RenderFailed):
        return say("err_render_failed", lang)
    if isinstance(exc, errors.RateLimited):
        return say("err_rate_limited", lang)
    if isinstance(exc, errors.TurnTimeout):
        return say("err_timeout", lang)
    if isinstance(exc, errors.Unavailable):
        return say("err_unavailable", lang)
    if isinstance(exc, errors.SessionLost):
        return say("err_session_lost", lang)
    if isinstance(exc, errors.TokenError):
        return say("err_token", lang)
    return say("err_generic", lang)

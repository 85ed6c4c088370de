"""The operator's status page and the form that asks for its token: plain HTML, no
script, readable on a phone. Every word comes from `bot.words`; every value is escaped."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from bot import stats
from bot.gate.pending import Pending
from bot.ports.store import StoredRequest
from bot.progress import format_elapsed
from bot.words import Lang, say

#: The page reloads itself this often (seconds).
REFRESH_S = 15
_TEXT_CHARS = 80

_STYLE = """
body{font:15px/1.45 system-ui,sans-serif;margin:0 auto;padding:12px;max-width:60em;color:#222}
h1{font-size:1.3em;margin:.2em 0 .6em}h2{font-size:1.05em;margin:1.2em 0 .4em}
ul{padding-left:1.2em;margin:.2em 0}table{border-collapse:collapse;width:100%}
td,th{text-align:left;padding:.25em .4em;border-bottom:1px solid #ddd;vertical-align:top}
th{font-weight:600;font-size:.9em;color:#555}.wrap{overflow-x:auto}
.failed{color:#a00}.small{font-size:.85em;color:#666}
input{font-size:1em;padding:.4em;width:100%;max-width:24em;box-sizing:border-box}
button{font-size:1em;padding:.4em 1.2em;margin-top:.6em}.error{color:#a00}
"""


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What the page shows, read on the bot's event loop."""

    figures: stats.Today
    pending: Sequence[Pending]
    recent: Sequence[StoredRequest]
    now: float


def _document(title: str, body: str, lang: Lang, *, refresh: bool = False) -> str:
    meta = f'<meta http-equiv="refresh" content="{REFRESH_S}">' if refresh else ""
    html_lang = "zh-Hans" if lang == "zh" else "en"
    return (
        f'<!doctype html><html lang="{html_lang}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"{meta}<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><h1>{escape(title)}</h1>{body}</body></html>"
    )


def login(lang: Lang, *, wrong: bool = False) -> str:
    """The form that asks for CLIPBOT_HTTP_TOKEN (posted, never put in a URL)."""
    error = f'<p class="error">{escape(say("page_wrong_token", lang))}</p>' if wrong else ""
    body = (
        f"<p>{escape(say('page_token_prompt', lang))}</p>{error}"
        '<form method="post" action="/login">'
        f'<label for="token">{escape(say("page_token_label", lang))}</label><br>'
        '<input id="token" name="token" type="password" autocomplete="current-password" '
        "required autofocus><br>"
        f'<button type="submit">{escape(say("page_open", lang))}</button></form>'
    )
    return _document(say("page_title", lang), body, lang)


def off(lang: Lang) -> str:
    """The page when no token is configured."""
    return _document(say("page_title", lang), f"<p>{escape(say('page_off', lang))}</p>", lang)


def _clock(at: float) -> str:
    return time.strftime("%H:%M:%S", time.gmtime(at))


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _TEXT_CHARS else text[: _TEXT_CHARS - 1] + "…"


def _table(heads: Sequence[str], rows: Sequence[Sequence[str]], lang: Lang) -> str:
    head = "".join(f"<th>{escape(say(h, lang))}</th>" for h in heads)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f'<div class="wrap"><table><tr>{head}</tr>{body}</table></div>'


def _queue(snapshot: Snapshot, lang: Lang) -> str:
    if not snapshot.pending:
        return f"<p>{escape(say('page_queue_empty', lang))}</p>"
    rows = [
        (
            escape(str(p.chat)),
            escape(p.user),
            escape(_short(p.text) or p.intent),
            escape(say("page_running" if p.running else "page_waiting", lang)),
            escape(format_elapsed(max(0.0, snapshot.now - p.received_at))),
        )
        for p in snapshot.pending
    ]
    heads = ("page_col_chat", "page_col_who", "page_col_what", "page_col_state", "page_col_for")
    return _table(heads, rows, lang)


def _request_rows(records: Sequence[StoredRequest]) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    for r in records:
        state = escape(r.state + (f": {r.detail}" if r.detail else ""))
        if r.state == "failed":
            state = f'<span class="failed">{state}</span>'
        rows.append(
            (escape(_clock(r.created_at)), escape(str(r.chat)), escape(r.sender_id),
             escape(_short(r.text)), state)
        )  # fmt: skip
    return rows


def status(snapshot: Snapshot, lang: Lang) -> str:
    """The status page: today's figures, the queue, recent requests and errors."""
    today = "".join(
        f"<li>{escape(line)}</li>"
        for line in stats.summary(snapshot.figures, lang).splitlines()[1:]
    )
    heads = ("page_col_when", "page_col_chat", "page_col_who", "page_col_what", "page_col_state")
    recent = (
        _table(heads, _request_rows(snapshot.recent), lang)
        if snapshot.recent
        else f"<p>{escape(say('page_recent_empty', lang))}</p>"
    )
    failed = [r for r in snapshot.recent if r.state == "failed"]
    errors = (
        _table(heads, _request_rows(failed), lang)
        if failed
        else f"<p>{escape(say('page_errors_none', lang))}</p>"
    )
    updated = say("page_updated", lang, time=_clock(snapshot.now), seconds=REFRESH_S)
    body = (
        f"<h2>{escape(say('page_today', lang))}</h2><ul>{today}</ul>"
        f"<h2>{escape(say('page_queue', lang))}</h2>{_queue(snapshot, lang)}"
        f"<h2>{escape(say('page_recent', lang))}</h2>{recent}"
        f"<h2>{escape(say('page_errors', lang))}</h2>{errors}"
        f'<p class="small">{escape(updated)}</p>'
    )
    return _document(say("page_title", lang), body, lang, refresh=True)

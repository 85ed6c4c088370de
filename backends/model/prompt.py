"""The caption split in two: what the local renderer's rules understand (aspect, length,
title, fades, music) and the rest, which is the model's prompt, kept in the user's words.

"waves crashing on the rocks, 9:16, 6 seconds, title 'Summer Sale'" gives the changes
(9:16, 6 s, the title) and the prompt "waves crashing on the rocks".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from backends.local import changes as ch
from backends.local import instructions as ins

# Clauses end at punctuation, Latin or Chinese.
_CLAUSE = re.compile(r"[,;.!?，；。！？、\n]+")
_QUOTES = "'\"“”‘’「」『』"
_JOINER = re.compile(r"(?i)^(?:and|then|also|with|plus)\s+|^(?:并且|然后|和|再)")
_TITLE_WORD = re.compile(r"(?i)\b(?:title|caption|text)\s*[:：]?\s*$|标题\s*[:：]?\s*$")


@dataclass(frozen=True, slots=True)
class Split:
    """One message: the rules' changes (camera moves left out: the model makes the
    motion), the prompt ("" when it had none), and whether it asked for a camera move."""

    changes: tuple[ch.Change, ...]
    prompt: str
    camera: bool = False


def _camera(change: ch.Change) -> bool:
    return isinstance(change, ch.SetMotion | ch.SetSpeed)


def _without_titles(text: str, titles: list[str]) -> str:
    """`text` with each title, its quotes and a "title" word before it, blanked."""
    for title in titles:
        at = text.find(title)
        if at < 0:
            continue
        start, end = at, at + len(title)
        while start > 0 and text[start - 1] in _QUOTES:
            start -= 1
        while end < len(text) and text[end] in _QUOTES:
            end += 1
        word = _TITLE_WORD.search(text[:start])
        if word:
            start = word.start()
        text = text[:start] + "," + text[end:]
    return text


def split(text: str, *, camera_in_prompt: bool) -> Split:
    """The changes the rules find in `text`, and the clauses they do not explain; with
    `camera_in_prompt`, clauses asking for a camera move ("zoom in") join the prompt."""
    parsed = ins.parse(text)
    titles = [c.text for c in parsed.changes if isinstance(c, ch.SetTitle) and c.text]
    kept: list[str] = []
    for clause in _CLAUSE.split(_without_titles(text, titles)):
        clause = _JOINER.sub("", clause.strip(" \t" + _QUOTES))
        if not clause:
            continue
        # A clause is the prompt's when the rules leave words of it unexplained.
        read = ins.parse(clause)
        if read.unknown or (camera_in_prompt and any(_camera(c) for c in read.changes)):
            kept.append(clause)
    changes = tuple(c for c in parsed.changes if not _camera(c))
    return Split(changes, ", ".join(kept), camera=len(changes) < len(parsed.changes))

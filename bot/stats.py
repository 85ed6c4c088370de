"""Today's figures for the operator — requests by outcome, clips and their time, failures
by kind, the queue, the credits left — for `/stats` and the status page. They are read
from the store's records (requests, clips), so every process sees the same day."""

from __future__ import annotations

import logging
import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from bot.errors import ClipbotError
from bot.gate.pending import Pending
from bot.gate.quota import day_start
from bot.ports.backend import Backend, Credits
from bot.ports.store import Store
from bot.words import Lang, say

log = logging.getLogger(__name__)

#: The request states in the order `/stats` lists them.
OUTCOMES = ("done", "failed", "running", "queued")


def percentile(values: Sequence[float], q: float) -> float:
    """The nearest-rank percentile `q` (0-100) of non-empty `values`."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


@dataclass(frozen=True, slots=True)
class Today:
    """The figures of the current UTC day."""

    since: float
    outcomes: dict[str, int] = field(default_factory=dict)
    failures: dict[str, int] = field(default_factory=dict)
    clips: int = 0
    median_s: float | None = None
    p95_s: float | None = None
    running: int = 0
    waiting: int = 0
    #: None when the balance could not be read
    credits: Credits | None = None


async def today(
    store: Store, backend: Backend, pending: Sequence[Pending], clock: Callable[[], float]
) -> Today:
    """Read today's figures."""
    since = day_start(clock())
    outcomes: dict[str, int] = {}
    failures: dict[str, int] = {}
    for (state, detail), n in (await store.request_outcomes(since)).items():
        outcomes[state] = outcomes.get(state, 0) + n
        if state == "failed":
            kind = detail or "unknown"
            failures[kind] = failures.get(kind, 0) + n
    times = [clip.seconds for clip in await store.clips_since(since)]
    try:
        credits: Credits | None = await backend.credits()
    except ClipbotError as exc:
        log.warning("stats: credit balance unreadable: %s", exc)
        credits = None
    return Today(
        since=since,
        outcomes=outcomes,
        failures=dict(sorted(failures.items(), key=lambda item: -item[1])),
        clips=len(times),
        median_s=statistics.median(times) if times else None,
        p95_s=percentile(times, 95) if times else None,
        running=sum(1 for p in pending if p.running),
        waiting=sum(1 for p in pending if not p.running),
        credits=credits,
    )


def _seconds(value: float) -> str:
    return f"{value:.1f}"


def summary(figures: Today, lang: Lang) -> str:
    """`/stats` in words."""
    comma = say("comma", lang)
    outcomes = comma.join(
        say("stats_outcome", lang, n=figures.outcomes.get(state, 0),
            outcome=say(f"outcome_{state}", lang))
        for state in OUTCOMES
    )  # fmt: skip
    lines = [say("stats_head", lang), say("stats_requests", lang, outcomes=outcomes)]
    if figures.median_s is not None and figures.p95_s is not None:
        lines.append(
            say("stats_clips", lang, n=figures.clips, median=_seconds(figures.median_s),
                p95=_seconds(figures.p95_s))
        )  # fmt: skip
    else:
        lines.append(say("stats_clips_none", lang))
    if figures.failures:
        kinds = comma.join(f"{kind} {n}" for kind, n in figures.failures.items())
        lines.append(say("stats_failures", lang, kinds=kinds))
    else:
        lines.append(say("stats_failures_none", lang))
    lines.append(say("stats_queue", lang, running=figures.running, waiting=figures.waiting))
    credits = figures.credits
    if credits is None:
        lines.append(say("stats_credits_unknown", lang))
    elif credits.unlimited:
        lines.append(say("stats_credits_unlimited", lang))
    else:
        available = credits.available if credits.available is not None else "?"
        lines.append(say("stats_credits", lang, available=available))
    return "\n".join(lines)

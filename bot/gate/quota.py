"""The limits on what one user may ask for: clips per day, requests waiting per chat, and
with a backend that counts credits, a daily share of them. Days are UTC days."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from bot.config import Settings
from bot.gate.access import user_key
from bot.gate.credits import CreditMeter
from bot.gate.pending import Pending
from bot.ports.chat import IncomingMessage
from bot.ports.store import Store
from bot.words import Lang, say

DAY_S = 24 * 3600

Limit = Literal["clips_per_day", "queue", "credits"]


def day_start(now: float) -> float:
    """The start of the UTC day `now` falls in (Unix time)."""
    return now - now % DAY_S


def until_reset(now: float, lang: Lang) -> str:
    """How long until the next UTC midnight, in words: "3 h 20 min"."""
    minutes = max(1, math.ceil((day_start(now) + DAY_S - now) / 60))
    hours, minutes = divmod(minutes, 60)
    if hours:
        return say("wait_hours", lang, h=hours, m=minutes)
    return say("wait_minutes", lang, m=minutes)


@dataclass(frozen=True, slots=True)
class Refusal:
    """A request over a limit: which one, and the words that say so."""

    limit: Limit
    text: str


@dataclass(frozen=True, slots=True)
class Usage:
    """One user's day so far."""

    clips: int
    in_flight: int
    credits_spent: float
    #: the credits they may still spend today, when a share applies
    credits_allowed: float | None
    waiting_in_chat: int


class Quotas:
    """Checks a user's request against the limits before any work."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        meter: CreditMeter,
        clock: Callable[[], float],
    ) -> None:
        self._store = store
        self._meter = meter
        self._clock = clock
        self.clips_per_day = settings.quota_clips_per_day
        self.max_queued = settings.max_queued_per_chat
        self.credit_share = settings.quota_credit_share / 100

    async def usage(
        self, message: IncomingMessage, pending: Sequence[Pending], clips: int
    ) -> Usage:
        """The sender's usage today (`clips`: their clips since `day_start`) and their
        chat's queue."""
        user, since = user_key(message), day_start(self._clock())
        spent = allowed = None
        if self.credit_share and (available := await self._meter.available()) is not None:
            spent = await self._store.credits_spent(user, since)
            # A share of what there was for them today: what is left plus what they spent.
            allowed = self.credit_share * (available + spent)
        return Usage(
            clips=clips,
            in_flight=sum(1 for p in pending if p.user == user),
            credits_spent=spent or 0.0,
            credits_allowed=allowed,
            # The chat's oldest runs (or is about to): the others wait behind it.
            waiting_in_chat=max(0, sum(1 for p in pending if p.chat == message.chat) - 1),
        )

    async def check(
        self, message: IncomingMessage, pending: Sequence[Pending], clips: int, lang: Lang
    ) -> Refusal | None:
        """The first limit this request would pass, or None when it may go ahead."""
        use = await self.usage(message, pending, clips)
        if self.max_queued and use.waiting_in_chat >= self.max_queued:
            return Refusal("queue", say("quota_queue", lang, n=self.max_queued))
        # Requests still in the making count: each may end in a clip.
        made = use.clips + use.in_flight
        if self.clips_per_day and made >= self.clips_per_day:
            wait = until_reset(self._clock(), lang)
            text = say("quota_clips", lang, limit=self.clips_per_day, wait=wait)
            return Refusal("clips_per_day", text)
        allowed = use.credits_allowed
        if allowed is not None and use.credits_spent >= allowed:
            text = say(
                "quota_credits", lang, spent=round(use.credits_spent), allowed=round(allowed),
                wait=until_reset(self._clock(), lang),
            )  # fmt: skip
            return Refusal("credits", text)
        return None

    async def report(
        self,
        message: IncomingMessage,
        pending: Sequence[Pending],
        clips: int,
        lang: Lang,
        *,
        admin: bool,
    ) -> str:
        """`/quota`: the sender's usage today against each limit."""
        use = await self.usage(message, pending, clips)
        lines = [say("quota_head", lang, wait=until_reset(self._clock(), lang))]
        made = use.clips + use.in_flight
        if self.clips_per_day and not admin:
            lines.append(say("quota_line_clips", lang, used=made, limit=self.clips_per_day))
        else:
            lines.append(say("quota_line_clips_free", lang, used=made))
        if use.credits_allowed is not None and not admin:
            lines.append(
                say("quota_line_credits", lang, spent=round(use.credits_spent),
                    allowed=round(use.credits_allowed))
            )  # fmt: skip
        if self.max_queued and not admin:
            lines.append(
                say("quota_line_queue", lang, waiting=use.waiting_in_chat, limit=self.max_queued)
            )
        if admin:
            lines.append(say("quota_admin", lang))
        return "\n".join(lines)

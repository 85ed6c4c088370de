"""The gate of a public bot: at intake, before anything is queued, it decides whether a
message may go on — who may use the bot (`access`), the limits on what they ask
(`quota`), the admins' own commands (`admin`) — and it keeps the usage those limits count
(clips delivered, credits spent: `credits`).

The engine calls it at three points: `screen` for every message it accepts, `metered`
around each request that runs, `delivered` when a clip reaches its chat (and `aclose`
when it closes).
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from bot import metrics
from bot.config import Settings
from bot.gate.access import Access, user_key
from bot.gate.admin import ADMIN_INTENTS, AdminCommands
from bot.gate.credits import CreditMeter
from bot.gate.pending import Pending, PendingFn, pending_of
from bot.gate.quota import Quotas, day_start
from bot.ports.backend import Backend
from bot.ports.chat import IncomingMessage, OutgoingChannel
from bot.ports.store import ClipRecord, Delivery, Screening, Store
from bot.routing import Route
from bot.words import Lang, say

__all__ = ["Gate", "Pending", "PendingFn", "user_key"]

log = logging.getLogger(__name__)

#: Intents that may end in a clip: what the quotas count.
COUNTED_INTENTS = frozenset({"upload", "agent", "export"})
#: Intents the engine answers at once, without queueing.
QUICK_INTENTS = frozenset({"start", "help", "status", "credits"})


class Gate:
    """Access, quotas and admin commands, decided at intake."""

    def __init__(
        self,
        settings: Settings,
        backend: Backend,
        store: Store,
        pending: PendingFn,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._pending = pending
        self._clock = clock
        self._access = Access(settings, store)
        self._meter = CreditMeter(backend, store, clock)
        self._meter.counts = settings.quota_credit_share > 0
        self._quotas = Quotas(settings, store, self._meter, clock)
        self._admin = AdminCommands(self._access, store, backend, pending, clock)

    async def look(self, message: IncomingMessage) -> Screening:
        """What `screen` and the intake read of a message's chat and sender, in one trip
        to the store (see `Store.screening`)."""
        return await self._store.screening(
            message.chat,
            (message.chat.platform, message.sender.id),
            user_key(message),
            day_start(self._clock()),
        )

    async def screen(
        self,
        message: IncomingMessage,
        channel: OutgoingChannel,
        route: Route,
        lang: Lang,
        seen: Screening,
    ) -> bool:
        """True when the message ends here (turned away, or answered by the gate); False
        when the engine goes on with it. Nothing is queued for a message turned away.
        `seen`: what `look` read for it."""
        intent = route.intent
        admin = self._access.is_admin(message)
        reason = self._access.refusal(message, blocked=seen.blocked)
        if reason is not None:
            metrics.refused(intent, reason)
            told = await self._access.first_refusal(message)
            log.info("%s turned away (%s)%s", user_key(message), reason, "" if told else ", again")
            if told:
                await channel.send_text(say("access_refused", lang))
            return True
        if intent in ADMIN_INTENTS:
            if admin:
                await channel.send_text(await self._admin.answer(message, route, lang))
                metrics.answered(intent)
            else:
                # Invisible to others: no answer, not even "unknown command".
                log.info("%s tried the admin command /%s", user_key(message), intent)
            return True
        pending = pending_of(seen.open_requests)
        if intent == "quota":
            text = await self._quotas.report(message, pending, seen.clips_since, lang, admin=admin)
            await channel.send_text(text)
            metrics.answered(intent)
            return True
        if intent in QUICK_INTENTS:
            metrics.answered(intent)
        elif intent in COUNTED_INTENTS and not admin:
            refusal = await self._quotas.check(message, pending, seen.clips_since, lang)
            if refusal is not None:
                metrics.refused(intent, refusal.limit)
                log.info("%s refused: over %s", user_key(message), refusal.limit)
                await channel.send_text(refusal.text)
                return True
        return False

    @asynccontextmanager
    async def metered(self, message: IncomingMessage, intent: str) -> AsyncIterator[None]:
        """Around a request that runs: the credits it spends are charged to its sender."""
        if intent not in COUNTED_INTENTS:
            yield
            return
        async with self._meter.metered(user_key(message)):
            yield

    async def aclose(self) -> None:
        """Stop measuring credits (the engine is closing)."""
        await self._meter.aclose()

    async def delivered(
        self,
        message: IncomingMessage,
        received_at: float,
        render_s: float,
        size_bytes: int | None,
        delivery: Delivery,
    ) -> None:
        """A clip reached its chat: counted for the sender's quota, `/stats` and metrics."""
        now = self._clock()
        seconds = max(0.0, now - received_at)
        metrics.clip(delivery, seconds, render_s)
        clip = ClipRecord(
            user_key(message), message.chat, seconds, render_s, size_bytes, delivery, now
        )
        try:
            await self._store.add_clip(clip)
        except Exception:
            # The clip is in the chat: a failed record must not turn that into an error.
            log.exception("could not record a clip delivered to %s", message.chat)

"""Intake: each message is answered at once (help, status, credits) or written to the
durable queue, from which the workers run it — one request at a time per chat, in
order, chats side by side, in this process or another."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace

from bot import language, metrics, replies, timeline
from bot.config import Settings
from bot.engine.export import Exporter
from bot.engine.records import encode
from bot.engine.request import Outcome, RequestRunner
from bot.engine.work import Deps, Received
from bot.engine.workers import Workers, WorkerSettings
from bot.errors import ClipbotError, SessionLost
from bot.gate import Gate, Pending
from bot.gate.pending import pending_of
from bot.ports.backend import Backend
from bot.ports.chat import ChatKey, IncomingMessage, OutgoingChannel, Platform
from bot.ports.store import ChatSettings, NewRequest, RequestState, Store, StoredRequest
from bot.routing import Route, asks_one_each, route
from bot.sessions import Sessions
from bot.sharing import ShareLinks
from bot.words import Lang, say

log = logging.getLogger(__name__)


def one_each(message: IncomingMessage, where: Route) -> list[IncomingMessage]:
    """The message as one request per photo (or video) when it asks for "each", every one
    with the audio sent beside; else the message alone (one slideshow)."""
    visual = [a for a in message.attachments if a.kind in ("image", "video")]
    if where.intent != "upload" or len(visual) < 2 or not asks_one_each(message.text):
        return [message]
    others = tuple(a for a in message.attachments if a not in visual)
    return [replace(message, attachments=(a, *others)) for a in visual]


class Engine:
    """The conversation engine; `handle` is the `MessageHandler` every adapter calls."""

    def __init__(
        self,
        settings: Settings,
        backend: Backend,
        store: Store,
        platforms: dict[str, Platform] | None = None,
    ) -> None:
        gate = Gate(settings, backend, store, self.pending)
        links = ShareLinks.from_settings(settings)
        self._deps = Deps(settings, backend, store, Sessions(backend, store), gate, links)
        self._runner = RequestRunner(self._deps, Exporter(self._deps))
        self._platforms: dict[str, Platform] = dict(platforms or {})
        # Channels of requests received here, while they run here (no need to build them
        # again from the stored address); and the platforms they belong to.
        self._live: dict[int, Received] = {}
        self._live_platforms: set[str] = set()
        self.workers = Workers(
            self._deps,
            self._runner,
            self._platforms,
            self._live.get,
            lambda: sorted(set(self._platforms) | self._live_platforms),
            WorkerSettings(
                concurrency=settings.worker_concurrency,
                lease_s=settings.lease_s,
                max_attempts=settings.max_attempts,
            ),
            on_finished=self._finished,
        )
        # The chat's language, read from the store once per chat (a hot path).
        self._languages: dict[ChatKey, Lang] = {}

    def add_platform(self, platform: Platform) -> None:
        """Serve requests of `platform` (rebuilding channels from stored addresses)."""
        self._platforms[platform.name] = platform

    def start(self) -> None:
        """Start the workers: queued and interrupted requests run (idempotent)."""
        self.workers.start()

    async def handle(self, message: IncomingMessage, channel: OutgoingChannel) -> None:
        """Accept one message: answer it at once, or queue it durably.

        Returns once the message is answered or stored; the work goes on in a worker.
        """
        if message.is_group and not message.addressed:
            return
        where = route(message.text, bool(message.attachments))
        # Everything the answer depends on, read in one trip (with 1000 chats at once,
        # each trip of every chat's intake through the store delays every first reply).
        seen = await self._deps.gate.look(message)
        lang = await self._language(message, seen.settings)
        try:
            # Access, quotas and admin commands: refused here, nothing is queued.
            if await self._deps.gate.screen(message, channel, where, lang, seen):
                return
            if where.intent in ("start", "help"):
                await channel.send_text(say("help", lang))
                return
            if where.intent == "credits":
                await self._credits(channel, lang)
                return
            if where.intent == "status":
                await self._status(message.chat, channel, lang)
                return
            if where.intent == "upload" and not message.attachments:
                await channel.send_text(say("upload_needs_file", lang))
                return
        except ClipbotError as exc:
            await self._runner.report(channel, message.chat, lang, exc)
            return
        items = one_each(message, where)
        ack: asyncio.Future[str | None] | None = None
        if len(items) > 1:
            await channel.send_text(say("batch_started", lang, n=len(items)))
        elif where.intent != "new":
            # Answered at once, while the request is written: next in line, or starting.
            # The worker carries the answer on as the request's status message.
            ahead = sum(1 for r in seen.open_requests if r.chat == message.chat)
            ack = asyncio.ensure_future(self._acknowledge(channel, lang, ahead))
        for index, item in enumerate(items):
            summary = item.text or f"[{len(item.attachments)} file(s)]"
            payload = encode(item, channel.address, replace(where, fresh=len(items) > 1), lang)
            # The same message again (kept by the adapter, handled again after a crash)
            # finds the request it made the first time.
            key = f"{item.chat}/{message.message_id}/{index}" if message.message_id else None
            try:
                request_id = await self._deps.store.add_request(
                    NewRequest(item.chat, item.sender.id, summary, payload, key)
                )
            except BaseException:
                if ack is not None:
                    ack.cancel()
                raise
            self._live[request_id] = Received(channel, ack)
        self._live_platforms.add(message.chat.platform)
        self.start()
        if where.intent == "new" and self.workers.stop_export(message.chat):
            log.info("chat %s: /new stops the clip being made", message.chat)
            await channel.send_text(say("new_stops_export", lang))
            return
        if ack is not None:
            await asyncio.shield(ack)  # this chat's next message waits for it, in order
        else:
            waiting = await self._deps.store.unfinished_requests(message.chat) - len(items)
            if waiting > 0:
                await channel.send_text(say("queued", lang, n=waiting))

    @staticmethod
    async def _acknowledge(channel: OutgoingChannel, lang: Lang, ahead: int) -> str | None:
        """Say the request is taken; the message's id (None when it could not be sent:
        the worker then sends a status message of its own)."""
        text = say("queued", lang, n=ahead) if ahead > 0 else say("stage_received", lang)
        try:
            return (await channel.send_text(text)).id
        except Exception:
            log.warning("could not acknowledge a request", exc_info=True)
            return None

    async def pending(self, message: IncomingMessage | None = None) -> list[Pending]:
        """The requests queued or running (in every process): those of the message's chat
        and sender when one is given, else all."""
        sender = None if message is None else (message.chat.platform, message.sender.id)
        found = await self._deps.store.open_requests(
            chat=None if message is None else message.chat, sender=sender
        )
        return pending_of(found)

    async def idle(self) -> None:
        """Wait until no request is queued or running (for this process's platforms)."""
        self.start()
        await self.workers.idle()

    async def aclose(self, grace_s: float = 0.0) -> None:
        """Stop the workers: running requests may finish for `grace_s`, the rest stay
        in the queue where they got to, for the next start."""
        await self.workers.stop(grace_s)
        self._live.clear()
        await self._deps.gate.aclose()

    async def _finished(self, stored: StoredRequest, outcome: Outcome) -> None:
        self._live.pop(stored.id, None)
        state: RequestState = "done" if outcome.ok else "failed"
        metrics.finished(str(stored.payload.get("intent", "agent")), state, outcome.detail)

    async def _language(self, message: IncomingMessage, stored: ChatSettings | None) -> Lang:
        """The chat's language (`stored`: its settings as read at intake), changed to the
        one this message is written in when that is clear."""
        store = self._deps.store
        current = self._languages.get(message.chat)
        if current is None:
            current = stored.language if stored else self._deps.settings.default_language
        detected = language.detect(message.text, message.sender.language_code)
        if detected is not None and detected != current:
            settings = replace(stored or ChatSettings(), language=detected)
            await store.set_chat_settings(message.chat, settings)
            current = detected
        self._languages[message.chat] = current
        return current

    # --- quick answers ------------------------------------------------------------------

    async def _credits(self, channel: OutgoingChannel, lang: Lang) -> None:
        balance = await self._deps.backend.credits()
        if balance.unlimited:
            await channel.send_text(say("credits_unlimited", lang))
            return
        await channel.send_text(
            say(
                "credits",
                lang,
                available=balance.available if balance.available is not None else "?",
                frozen=balance.frozen if balance.frozen is not None else 0,
                total=balance.total if balance.total is not None else "?",
            )
        )

    async def _status(self, chat: ChatKey, channel: OutgoingChannel, lang: Lang) -> None:
        deps = self._deps
        session = await deps.sessions.existing(chat)
        if session is None:
            # A request already queued is what will open the project.
            busy = await deps.store.unfinished_requests(chat) > 0
            await channel.send_text(say("project_starting" if busy else "no_project", lang))
            return
        try:
            state = await deps.backend.state(session)
        except SessionLost:
            await deps.sessions.forget(chat)
            await channel.send_text(say("no_project", lang))
            return
        parsed = timeline.parse(state.draft)
        if not parsed.tracks and await deps.store.unfinished_requests(chat) > 0:
            # Opened, still empty: the first request is on its way into it.
            await channel.send_text(say("project_starting", lang))
            return
        await channel.send_text(timeline.summary(parsed, lang), replies.result_buttons(lang))

"""Intake and lanes: each message is answered at once (help, status, credits) or queued
in its chat's lane, where requests run one at a time and in order. Lanes of different
chats run side by side."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from dataclasses import dataclass, field, replace

from bot import language, replies, timeline
from bot.config import Settings
from bot.engine.export import Exporter
from bot.engine.request import RequestRunner
from bot.engine.work import Deps, Work
from bot.errors import ClipbotError, SessionLost
from bot.ports.backend import Backend
from bot.ports.chat import ChatKey, IncomingMessage, OutgoingChannel
from bot.ports.store import ChatSettings, Store
from bot.progress import Pace
from bot.routing import route
from bot.sessions import Sessions
from bot.words import Lang, say

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Lane:
    """A chat's queue and the task that drains it."""

    queue: deque[Work] = field(default_factory=deque)
    task: asyncio.Task[None] | None = None
    pace: Pace = field(default_factory=Pace)
    # The running request (queue[0]) in its own task, so that /new can stop its export.
    current: asyncio.Task[None] | None = None

    def stop_export(self) -> bool:
        """Cancel the running request if it is exporting (a render is reproducible, an
        agent's turn is not: turns are never cut). True if one was stopped."""
        if self.current is None or not self.queue or not self.queue[0].exporting:
            return False
        return self.current.cancel()


class Engine:
    """The conversation engine; `handle` is the `MessageHandler` every adapter calls."""

    def __init__(self, settings: Settings, backend: Backend, store: Store) -> None:
        self._deps = Deps(settings, backend, store, Sessions(backend, store))
        self._runner = RequestRunner(self._deps, Exporter(self._deps))
        self._lanes: dict[ChatKey, _Lane] = {}
        # The chat's language, read from the store once per chat (a hot path).
        self._languages: dict[ChatKey, Lang] = {}

    async def handle(self, message: IncomingMessage, channel: OutgoingChannel) -> None:
        """Accept one message: answer it at once, or queue it in its chat's lane.

        Returns as soon as the message is accepted; the work goes on in the lane.
        """
        if message.is_group and not message.addressed:
            return
        where = route(message.text, bool(message.attachments))
        lang = await self._language(message)
        try:
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
        lane = self._lanes.setdefault(message.chat, _Lane())
        work = Work(message, channel, where, lang)
        lane.queue.append(work)
        if lane.task is None:
            # Recorded by the lane once the status is shown: the first reply comes first.
            lane.task = asyncio.create_task(self._drain(message.chat, lane))
        elif where.intent == "new" and lane.stop_export():
            log.info("chat %s: /new stops the clip being made", message.chat)
            await channel.send_text(say("new_stops_export", lang))
            await self._runner.request_id(work)
        else:
            # queue[0] is the running request.
            await channel.send_text(say("queued", lang, n=len(lane.queue) - 1))
            await self._runner.request_id(work)

    async def idle(self) -> None:
        """Wait until every chat's lane is empty."""
        while tasks := [lane.task for lane in self._lanes.values() if lane.task]:
            await asyncio.gather(*tasks, return_exceptions=True)

    async def aclose(self) -> None:
        """Stop every lane (queued work is dropped, running work cancelled); the records
        of both say so, rather than "queued" or "running" for ever."""
        lanes = list(self._lanes.values())
        tasks = [lane.task for lane in lanes if lane.task]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._lanes.clear()
        store = self._deps.store
        for lane in lanes:
            for work in lane.queue:
                if work.request_id is not None:
                    try:
                        await store.set_request_state(work.request_id, "failed", "shutdown")
                    except Exception:
                        log.warning("could not mark request %s as dropped", work.request_id)

    async def _language(self, message: IncomingMessage) -> Lang:
        store = self._deps.store
        current = self._languages.get(message.chat)
        if current is None:
            stored = await store.get_chat_settings(message.chat)
            current = stored.language if stored else self._deps.settings.default_language
        detected = language.detect(message.text, message.sender.language_code)
        if detected is not None and detected != current:
            stored = await store.get_chat_settings(message.chat) or ChatSettings()
            await store.set_chat_settings(message.chat, replace(stored, language=detected))
            current = detected
        self._languages[message.chat] = current
        return current

    async def _drain(self, chat: ChatKey, lane: _Lane) -> None:
        try:
            while lane.queue:
                current = asyncio.create_task(self._runner.run(lane.queue[0], lane.pace))
                lane.current = current
                try:
                    # Returns when the request ends, stopped by /new included.
                    await asyncio.wait({current})
                except asyncio.CancelledError:
                    current.cancel()
                    await asyncio.gather(current, return_exceptions=True)
                    raise
                finally:
                    lane.current = None
                    lane.queue.popleft()
                if not current.cancelled() and current.exception() is not None:
                    # Bookkeeping failed after the work (the store): the work has run,
                    # so it left the queue; running it again would re-send the turn.
                    log.error(
                        "chat %s: a request ended in an unexpected error",
                        chat,
                        exc_info=current.exception(),
                    )
        finally:
            lane.task = None
            if not lane.queue and self._lanes.get(chat) is lane:
                del self._lanes[chat]

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
        sessions = self._deps.sessions
        session = await sessions.existing(chat)
        if session is None:
            # A request already in the lane is what will open the project.
            key = "project_starting" if chat in self._lanes else "no_project"
            await channel.send_text(say(key, lang))
            return
        try:
            state = await self._deps.backend.state(session)
        except SessionLost:
            await sessions.forget(chat)
            await channel.send_text(say("no_project", lang))
            return
        await channel.send_text(
            timeline.summary(timeline.parse(state.draft), lang), replies.result_buttons(lang)
        )

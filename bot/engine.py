"""The conversation engine: every platform's messages in, replies and clips out.

`Engine.handle` is the `MessageHandler` every adapter calls. Quick answers (help,
status, credits) go out at once; work (uploads, the agent's turns, exports, /new) goes
into the chat's lane, where it runs one at a time and in order. Lanes of different
chats run in parallel.
"""

from __future__ import annotations

import asyncio
import logging
import re
import tempfile
import uuid
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from bot import language, replies, timeline
from bot.config import Settings
from bot.delivery import caption, deliver
from bot.errors import (
    BackendError,
    ClipbotError,
    NoCredits,
    RateLimited,
    RenderFailed,
    SessionLost,
    StreamDropped,
    Unavailable,
)
from bot.ports.backend import (
    Backend,
    BackendSession,
    ExportDone,
    ExportProgress,
    KeepAlive,
    ProjectState,
    StreamError,
    TextDelta,
    TextMessage,
    ToolCall,
    ToolResult,
)
from bot.ports.chat import ChatKey, IncomingMessage, OutgoingChannel
from bot.ports.store import JobState, RenderJob, RequestState, Store
from bot.progress import Pace, StatusReporter
from bot.routing import DEFAULT_PROMPT, Route, route
from bot.sessions import Sessions
from bot.translate import drop_trailing_issue, translate

log = logging.getLogger(__name__)

_EXPORT_STAGES: Mapping[str, JobState] = {
    "submitted": "submitted",
    "queued": "pending",
    "rendering": "processing",
    "encoding": "processing",
    "downloading": "processing",
}


@dataclass(slots=True)
class _Work:
    """One queued piece of work in a chat."""

    message: IncomingMessage
    channel: OutgoingChannel
    route: Route
    lang: str
    request_id: int | None = None
    # Both the intake (for a queued request) and the lane may record the request first.
    recording: asyncio.Lock = field(default_factory=asyncio.Lock)


@dataclass(slots=True)
class _Lane:
    """A chat's queue and the task that drains it."""

    queue: deque[_Work] = field(default_factory=deque)
    task: asyncio.Task[None] | None = None
    pace: Pace = field(default_factory=Pace)


@dataclass(slots=True)
class _Turn:
    """What one running request needs."""

    work: _Work
    reporter: StatusReporter

    @property
    def chat(self) -> ChatKey:
        return self.work.message.chat

    @property
    def lang(self) -> str:
        return self.work.lang


def _safe_name(name: str, index: int) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(name).name).strip("._")
    return f"{index:02d}_{cleaned or 'file'}"


class Engine:
    """The conversation engine; `handle` satisfies `bot.ports.chat.MessageHandler`."""

    def __init__(self, settings: Settings, backend: Backend, store: Store) -> None:
        self._settings = settings
        self._backend = backend
        self._store = store
        self._sessions = Sessions(backend, store)
        self._lanes: dict[ChatKey, _Lane] = {}
        # The chat's language, read from the store once per chat (a hot path).
        self._languages: dict[ChatKey, str] = {}

    # --- intake -------------------------------------------------------------------------

    async def __call__(self, message: IncomingMessage, channel: OutgoingChannel) -> None:
        await self.handle(message, channel)

    async def handle(self, message: IncomingMessage, channel: OutgoingChannel) -> None:
        """Accept one message: answer it at once, or queue it in its chat's lane."""
        if message.is_group and not message.addressed:
            return
        where = route(message.text, bool(message.attachments))
        lang = await self._language(message)
        try:
            if where.intent in ("start", "help"):
                await channel.send_text(replies.text("help", lang))
                return
            if where.intent == "credits":
                await self._credits(channel, lang)
                return
            if where.intent == "status":
                await self._status(message.chat, channel, lang)
                return
            if where.intent == "upload" and not message.attachments:
                await channel.send_text(replies.text("upload_needs_file", lang))
                return
        except ClipbotError as exc:
            await self._report(channel, message.chat, lang, exc)
            return
        lane = self._lanes.setdefault(message.chat, _Lane())
        work = _Work(message, channel, where, lang)
        lane.queue.append(work)
        if lane.task is None:
            # Recorded by the lane once the status is shown: the first reply comes first.
            lane.task = asyncio.create_task(self._drain(message.chat, lane))
        else:
            # queue[0] is the running request.
            await channel.send_text(replies.text("queued", lang, n=len(lane.queue) - 1))
            await self._request_id(work)

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
        for lane in lanes:
            for work in lane.queue:
                if work.request_id is not None:
                    try:
                        await self._store.set_request_state(work.request_id, "failed", "shutdown")
                    except Exception:
                        log.warning("could not mark request %s as dropped", work.request_id)

    async def _request_id(self, work: _Work) -> int:
        """The work's request record, made on first need (by whichever side comes first)."""
        async with work.recording:
            if work.request_id is None:
                work.request_id = await self._record(work.message)
            return work.request_id

    async def _record(self, message: IncomingMessage) -> int:
        summary = message.text or f"[{len(message.attachments)} file(s)]"
        return await self._store.add_request(message.chat, message.sender.id, summary)

    async def _language(self, message: IncomingMessage) -> str:
        current = self._languages.get(message.chat)
        if current is None:
            current = (await self._store.get_chat_settings(message.chat)).language
        detected = language.detect(message.text, message.sender.language_code)
        if detected is not None and detected != current:
            stored = await self._store.get_chat_settings(message.chat)
            await self._store.set_chat_settings(message.chat, replace(stored, language=detected))
            current = detected
        self._languages[message.chat] = current
        return current

    async def _drain(self, chat: ChatKey, lane: _Lane) -> None:
        try:
            while lane.queue:
                try:
                    await self._run(lane.queue[0], lane.pace)
                except Exception:
                    # Bookkeeping failed after the work (the store): the work has run,
                    # so it leaves the queue; running it again would re-send the turn.
                    log.exception("chat %s: a request ended in an unexpected error", chat)
                finally:
                    lane.queue.popleft()
        finally:
            lane.task = None
            if not lane.queue and self._lanes.get(chat) is lane:
                del self._lanes[chat]

    # --- quick answers ------------------------------------------------------------------

    async def _credits(self, channel: OutgoingChannel, lang: str) -> None:
        balance = await self._backend.credits()
        if balance.unlimited:
            await channel.send_text(replies.text("credits_unlimited", lang))
            return
        await channel.send_text(
            replies.text(
                "credits",
                lang,
                available=balance.available if balance.available is not None else "?",
                frozen=balance.frozen if balance.frozen is not None else 0,
                total=balance.total if balance.total is not None else "?",
            )
        )

    async def _status(self, chat: ChatKey, channel: OutgoingChannel, lang: str) -> None:
        session = await self._sessions.existing(chat)
        if session is None:
            # A request already in the lane is what will open the project.
            key = "project_starting" if chat in self._lanes else "no_project"
            await channel.send_text(replies.text(key, lang))
            return
        try:
            state = await self._backend.state(session)
        except SessionLost:
            await self._sessions.forget(chat)
            await channel.send_text(replies.text("no_project", lang))
            return
        await channel.send_text(
            timeline.summary(timeline.parse(state.draft), lang), replies.result_buttons(lang)
        )

    async def _report(
        self, channel: OutgoingChannel, chat: ChatKey, lang: str, exc: BaseException
    ) -> None:
        # One log line for the operator (no traceback for expected errors), one message.
        if isinstance(exc, ClipbotError):
            log.warning("chat %s: %s: %s", chat, type(exc).__name__, exc)
        else:
            log.error("chat %s: unexpected error", chat, exc_info=exc)
        try:
            await channel.send_text(replies.error_reply(exc, lang))
        except Exception:
            log.warning("chat %s: could not send the error message", chat, exc_info=True)

    # --- work in a lane -----------------------------------------------------------------

    async def _run(self, work: _Work, pace: Pace) -> None:
        chat, lang = work.message.chat, work.lang
        try:
            if work.route.intent == "new":
                await self._sessions.discard(chat)
                await work.channel.send_text(replies.text("new_project", lang))
                await self._mark(work, "running")
            else:
                reporter = StatusReporter(
                    work.channel,
                    lang,
                    edit_interval_s=self._settings.status_edit_interval_s,
                    still_working_s=self._settings.still_working_interval_s,
                    pace=pace,
                )
                async with reporter:
                    turn = _Turn(work, reporter)
                    n = len(work.message.attachments)
                    reporter.stage(replies.text(self._first_stage(work), lang, n=n))
                    await self._mark(work, "running")
                    if work.route.intent == "export":
                        await self._export_request(turn)
                    else:
                        await self._agent_request(turn)
        except asyncio.CancelledError:
            await self._mark(work, "failed", "cancelled")
            raise
        except Exception as exc:
            if isinstance(exc, SessionLost):
                await self._sessions.forget(chat)
            await self._report(work.channel, chat, lang, exc)
            await self._mark(work, "failed", type(exc).__name__)
        else:
            await self._mark(work, "done")

    @staticmethod
    def _first_stage(work: _Work) -> str:
        if work.route.intent == "export":
            return "stage_rendering"
        return "stage_uploading" if work.message.attachments else "stage_thinking"

    async def _mark(self, work: _Work, state: RequestState, detail: str | None = None) -> None:
        await self._store.set_request_state(await self._request_id(work), state, detail)

    async def _state(self, turn: _Turn) -> tuple[BackendSession, ProjectState]:
        async def read(session: BackendSession) -> tuple[BackendSession, ProjectState]:
            return session, await self._backend.state(session)

        return await self._sessions.call(turn.chat, turn.lang, read)

    async def _agent_request(self, turn: _Turn) -> None:
        message = turn.work.message
        if await self._sessions.existing(turn.chat) is None:
            turn.reporter.stage(replies.text("stage_connecting", turn.lang))
        session, before = await self._state(turn)
        instruction = turn.work.route.text or (DEFAULT_PROMPT if message.attachments else "")
        try:
            texts, stream_errors, dropped = await self._upload_and_instruct(
                turn, session, instruction
            )
        except SessionLost:
            # Lost before the turn began: a new project, the files again, the turn once.
            log.warning("chat %s: session lost mid-request; opening a new one", turn.chat)
            session = await self._sessions.renew(turn.chat, turn.lang)
            before = await self._backend.state(session)
            texts, stream_errors, dropped = await self._upload_and_instruct(
                turn, session, instruction
            )
        if dropped:
            after = await self._recover(turn, session, before, texts)
            if after is None:
                return
        else:
            try:
                after = await self._backend.state(session)
            except (Unavailable, RateLimited) as exc:
                # The turn ran: its words must still reach the user, and nothing may
                # invite sending it again (that would run it, and charge it, twice).
                log.warning("chat %s: state unreadable after a turn: %s", turn.chat, exc)
                await self._say_agent_words(turn, texts)
                await turn.work.channel.send_text(replies.text("state_unreadable", turn.lang))
                return
            await self._answer(turn, before, after, texts, stream_errors)
        if timeline.exportable(after.draft) and after.draft != before.draft:
            await self._export(turn, session, after)

    async def _upload_and_instruct(
        self, turn: _Turn, session: BackendSession, instruction: str
    ) -> tuple[list[str], list[StreamError], bool]:
        attachments = turn.work.message.attachments
        if attachments:
            turn.reporter.stage(replies.text("stage_uploading", turn.lang, n=len(attachments)))
            await self._upload(turn, session)
        turn.reporter.stage(replies.text("stage_thinking", turn.lang))
        return await self._instruct(session, instruction)

    async def _upload(self, turn: _Turn, session: BackendSession) -> None:
        tmp_root = self._settings.data_dir / "tmp"
        tmp_root.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=tmp_root) as tmp:
            for i, attachment in enumerate(turn.work.message.attachments):
                path = Path(tmp) / _safe_name(attachment.name, i)
                await attachment.fetch(path)
                await self._backend.upload(session, path, attachment.name)

    async def _instruct(
        self, session: BackendSession, text: str
    ) -> tuple[list[str], list[StreamError], bool]:
        texts: list[str] = []
        partial: list[str] = []
        stream_errors: list[StreamError] = []
        dropped = False
        began = False
        try:
            async for event in self._backend.instruct(session, text):
                began = True
                if isinstance(event, TextDelta):
                    partial.append(event.text)
                elif isinstance(event, TextMessage):
                    texts.append(event.text)
                    partial.clear()
                elif isinstance(event, StreamError):
                    stream_errors.append(event)
                elif isinstance(event, ToolCall | ToolResult):
                    log.debug("tool %s", event.name)
                elif isinstance(event, KeepAlive):
                    pass
        except StreamDropped as exc:
            log.warning("session %s: the stream dropped: %s", session.session_id, exc)
            dropped = True
        except SessionLost as exc:
            if began:
                # The stream had opened (a word, a tool call, even a keep-alive): the
                # turn was accepted, and sending it again could run it twice.
                raise Unavailable("session lost during the turn") from exc
            raise
        if partial:
            texts.append("".join(partial))
        return texts, stream_errors, dropped

    async def _answer(
        self,
        turn: _Turn,
        before: ProjectState,
        after: ProjectState,
        texts: list[str],
        stream_errors: list[StreamError],
    ) -> None:
        lang, channel = turn.lang, turn.work.channel
        for err in stream_errors:
            log.warning("chat %s: error in the stream: %s %s", turn.chat, err.code, err.message)
        kept = drop_trailing_issue([t for t in texts if t.strip()])
        shown = [translate(t, lang) for t in kept]
        body = "\n\n".join(t.text for t in shown if t.text)
        if any(t.show_timeline for t in shown):
            body = f"{body}\n\n{timeline.summary(timeline.parse(after.draft), lang)}".strip()
        if body:
            await channel.send_text(body)
            return
        changes = timeline.diff(timeline.parse(before.draft), timeline.parse(after.draft), lang)
        if changes:
            await channel.send_text(
                replies.text("silent_changes", lang, changes="; ".join(changes))
            )
            return
        if stream_errors:
            raise self._stream_failure(stream_errors[-1], after)
        await channel.send_text(replies.text("silent_nothing", lang))

    def _stream_failure(self, err: StreamError, state: ProjectState) -> BackendError:
        if err.code == "2001":
            url = (
                f"{self._settings.nemo_web_url}/register?bind={state.user_id}"
                if state.user_id
                else None
            )
            return NoCredits(err.message, register_url=url, code=2001)
        return Unavailable(f"stream error {err.code}: {err.message}")

    async def _say_agent_words(self, turn: _Turn, texts: list[str]) -> None:
        """The agent's words of a turn, translated, when the project cannot be shown."""
        if kept := drop_trailing_issue([t for t in texts if t.strip()]):
            shown = (translate(t, turn.lang).text for t in kept)
            await turn.work.channel.send_text("\n\n".join(t for t in shown if t))

    async def _recover(
        self, turn: _Turn, session: BackendSession, before: ProjectState, texts: list[str]
    ) -> ProjectState | None:
        """After a dropped stream: read the state until it changes; never re-send."""
        settings, lang = self._settings, turn.lang
        turn.reporter.stage(replies.text("stage_recovering", lang))
        await self._say_agent_words(turn, texts)
        waited = 0.0
        for check in range(settings.recovery_max_checks):
            pause = settings.recovery_first_check_s if check == 0 else settings.recovery_interval_s
            await asyncio.sleep(pause)
            waited += pause
            try:
                state = await self._backend.state(session)
            except (Unavailable, RateLimited) as exc:
                # The network that dropped the stream may blink again: one unchanged
                # read, not the end of the recovery (giving up invites a second send).
                log.warning("chat %s: a state read while recovering failed: %s", turn.chat, exc)
                continue
            if state.draft != before.draft or state.media_count != before.media_count:
                changes = timeline.diff(
                    timeline.parse(before.draft), timeline.parse(state.draft), lang
                )
                what = "; ".join(changes) or timeline.summary(timeline.parse(state.draft), lang)
                await turn.work.channel.send_text(replies.text("recovered", lang, changes=what))
                return state
        minutes = f"{waited / 60:.0f} min" if lang != "zh" else f"{waited / 60:.0f} 分钟"
        await turn.work.channel.send_text(replies.text("recovery_failed", lang, minutes=minutes))
        return None

    # --- export -------------------------------------------------------------------------

    async def _export_request(self, turn: _Turn) -> None:
        session, state = await self._state(turn)
        if not timeline.exportable(state.draft):
            await turn.work.channel.send_text(replies.text("nothing_to_export", turn.lang))
            return
        await self._export(turn, session, state)

    async def _export(self, turn: _Turn, session: BackendSession, state: ProjectState) -> None:
        reporter, lang = turn.reporter, turn.lang
        safe_chat = re.sub(r"[^A-Za-z0-9_-]+", "_", str(turn.chat))
        dest = self._settings.data_dir / "exports" / safe_chat
        dest.mkdir(parents=True, exist_ok=True)
        job = RenderJob(
            f"{safe_chat}-{uuid.uuid4().hex[:12]}", turn.chat, self._backend.name, "submitted"
        )
        # The link is asked for while the render runs, so delivery never waits on it.
        link_task = asyncio.create_task(self._project_link(session))
        await self._store.save_job(job)
        reporter.stage(replies.text("stage_rendering", lang))
        done: ExportDone | None = None
        try:
            async for event in self._backend.export(session, state, dest):
                if isinstance(event, ExportProgress):
                    key = "stage_downloading" if event.stage == "downloading" else "stage_rendering"
                    reporter.stage(replies.text(key, lang))
                    reporter.percent(event.percent)
                    job_state = _EXPORT_STAGES.get(event.stage, "processing")
                    if job_state != job.state:
                        job = replace(job, state=job_state, progress=event.percent)
                        await self._store.save_job(job)
                else:
                    done = event
            if done is None:
                raise RenderFailed("the export ended without a result")
        except BaseException:
            link_task.cancel()
            await self._store.save_job(replace(job, state="failed"))
            raise
        reporter.stage(replies.text("stage_sending", lang))
        message = turn.work.message
        try:
            link = await link_task
            text = caption(
                done, lang, link=link, for_name=message.sender.name if message.is_group else None
            )
            await deliver(turn.work.channel, done, text, lang)
        except BaseException:
            await self._store.save_job(replace(job, state="failed"))
            raise
        finally:
            # Delivered (the platform has its copy) or not deliverable: either way the
            # file must not pile up in the data dir, one clip per request.
            if done.path is not None and done.path.parent == dest:
                await asyncio.to_thread(done.path.unlink, missing_ok=True)
        await self._store.save_job(
            replace(job, state="completed", progress=100.0, output_url=done.url)
        )

    async def _project_link(self, session: BackendSession) -> str | None:
        try:
            return await self._backend.project_link(session)
        except ClipbotError as exc:
            log.warning("no project link: %s: %s", type(exc).__name__, exc)
            return None

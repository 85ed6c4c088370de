"""Running one request of a chat, step by step, each step recorded before it starts so a
request cut off by a crash or a restart is resumed, never redone where that would harm:

    start/uploading  open the project, fetch and upload the files (safe to do again)
    instructing      the turn may have been sent: a resume never sends it again; it
                     reads the project until it changed, as after a dropped stream
    exporting        render (a resume polls the same render) and deliver the clip
    delivered        the clip is in the chat: nothing is left to do
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot import metrics, replies, timeline
from bot.engine.export import Exporter
from bot.engine.scratch import scratch_dir
from bot.engine.work import Deps, LeaseLost, Turn, Work
from bot.errors import (
    BackendError,
    ClipbotError,
    RateLimited,
    SessionLost,
    StreamDropped,
    Unavailable,
)
from bot.ports.backend import BackendSession, ProjectState, StreamError, TextMessage
from bot.ports.chat import ChatKey, MessageRef, OutgoingChannel, Platform
from bot.progress import Pace, StatusReporter
from bot.routing import DEFAULT_PROMPT
from bot.words import Lang, say

log = logging.getLogger(__name__)


@dataclass(slots=True)
class TurnResult:
    """What one turn of the agent gave: its messages, errors it reported in the stream,
    and whether the stream broke off (the turn may still be running)."""

    messages: list[TextMessage] = field(default_factory=list)
    errors: list[StreamError] = field(default_factory=list)
    dropped: bool = False


@dataclass(frozen=True, slots=True)
class Outcome:
    """How a request ended: done, or failed (with the error's name for the record)."""

    ok: bool
    detail: str | None = None


def _safe_name(name: str, index: int) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(name).name).strip("._")
    return f"{index:02d}_{cleaned or 'file'}"


def _snapshot(state: ProjectState) -> dict[str, Any]:
    return {"draft": dict(state.draft), "media": state.media_count}


def _restore(snapshot: Any) -> ProjectState:
    if not isinstance(snapshot, dict):
        return ProjectState(draft={})
    draft = snapshot.get("draft")
    return ProjectState(
        draft=draft if isinstance(draft, dict) else {}, media_count=int(snapshot.get("media", 0))
    )


class RequestRunner:
    """Runs the requests the workers hand it, one at a time per chat."""

    def __init__(self, deps: Deps, exporter: Exporter) -> None:
        self._deps = deps
        self._exporter = exporter

    async def report(
        self, channel: OutgoingChannel, chat: ChatKey, lang: Lang, exc: BaseException
    ) -> None:
        """One log line for the operator (no traceback for expected errors), one message."""
        if isinstance(exc, BackendError):
            code = exc.code if exc.code is not None else exc.status
            metrics.backend_error(self._deps.backend.name, str(code or type(exc).__name__))
        if isinstance(exc, ClipbotError):
            log.warning("chat %s: %s: %s", chat, type(exc).__name__, exc)
        else:
            log.error("chat %s: unexpected error", chat, exc_info=exc)
        try:
            await channel.send_text(replies.error_reply(exc, lang))
        except Exception:
            log.warning("chat %s: could not send the error message", chat, exc_info=True)

    # --- one request --------------------------------------------------------------------

    async def run(self, work: Work, pace: Pace, platform: Platform | None) -> Outcome:
        """Run (or resume) one request to its end; failures are told to the user.

        Raises `LeaseLost` (another worker has it) and `CancelledError` (a shutdown)
        without telling anyone: the request stays where it got to, for a resume.
        """
        deps, chat, lang = self._deps, work.chat, work.lang
        try:
            if work.route.intent == "new":
                await deps.sessions.discard(chat)
                await work.channel.send_text(say("new_project", lang))
                return Outcome(True)
            if work.step == "delivered":
                return Outcome(True)
            if work.route.fresh and work.step == "start":
                # One clip of a batch: a project of its own (the chat keeps the last).
                await deps.sessions.discard(chat)
            session = await deps.sessions.existing(chat)
            status = work.checkpoint.get("status")
            reporter = StatusReporter(
                work.channel,
                lang,
                edit_interval_s=deps.settings.status_edit_interval_s,
                still_working_s=deps.settings.still_working_interval_s,
                pace=pace,
                message=MessageRef(str(status)) if status else None,
                adopt=asyncio.shield(work.ack) if work.ack and not status else None,
                on_message=lambda ref: work.save(work.step, status=ref.id),
            )
            async with reporter:
                turn = Turn(work, reporter)
                if work.resumed:
                    reporter.note(say("stage_resumed", lang))
                reporter.stage(self._first_stage(work, session))
                if work.route.intent == "export" or work.step == "exporting":
                    await self._exporter.export_request(turn, session)
                elif work.step == "instructing":
                    await self._resume_turn(turn, session)
                else:
                    await self._agent_request(turn, session, platform)
        except (LeaseLost, asyncio.CancelledError):
            raise
        except Exception as exc:
            if isinstance(exc, SessionLost):
                await deps.sessions.forget(chat)
            await self.report(work.channel, chat, lang, exc)
            return Outcome(False, type(exc).__name__)
        return Outcome(True)

    @staticmethod
    def _first_stage(work: Work, session: BackendSession | None) -> str:
        if work.route.intent == "export" or work.step == "exporting":
            return say("stage_rendering", work.lang)
        if session is None:
            return say("stage_connecting", work.lang)
        if work.message.attachments:
            return say("stage_uploading", work.lang, n=len(work.message.attachments))
        return say("stage_thinking", work.lang)

    async def _open(self, turn: Turn, session: BackendSession | None) -> BackendSession:
        if session is None:
            session = await self._deps.sessions.get(turn.chat, turn.lang)
        return session

    async def _read(
        self, turn: Turn, session: BackendSession
    ) -> tuple[BackendSession, ProjectState]:
        """The project's state; a lost session is replaced once (nothing was sent yet)."""
        try:
            return session, await self._deps.backend.state(session)
        except SessionLost:
            log.warning("chat %s: the backend lost session %s", turn.chat, session.session_id)
            session = await self._deps.sessions.renew(turn.chat, turn.lang)
            return session, await self._deps.backend.state(session)

    async def _agent_request(
        self, turn: Turn, session: BackendSession | None, platform: Platform | None
    ) -> None:
        backend, work = self._deps.backend, turn.work
        session, before = await self._read(turn, await self._open(turn, session))
        instruction = work.route.text or (DEFAULT_PROMPT if work.message.attachments else "")
        try:
            result = await self._upload_and_instruct(turn, session, before, instruction, platform)
        except SessionLost:
            # Lost before the turn began: a new project, the files again, the turn once.
            log.warning("chat %s: session lost mid-request; opening a new one", turn.chat)
            session = await self._deps.sessions.renew(turn.chat, turn.lang)
            before = await backend.state(session)
            result = await self._upload_and_instruct(turn, session, before, instruction, platform)
        if result.dropped:
            after = await self._recover(turn, session, before, result)
            if after is None:
                return
        else:
            try:
                after = await backend.state(session)
            except (Unavailable, RateLimited) as exc:
                # The turn ran: its words must still reach the user, and nothing may
                # invite sending it again (that would run it, and charge it, twice).
                log.warning("chat %s: state unreadable after a turn: %s", turn.chat, exc)
                await self._say_agent_words(turn, result)
                await turn.channel.send_text(say("state_unreadable", turn.lang))
                return
            await self._answer(turn, before, after, result)
        if _changed(before, after):
            await work.save("exporting")
            await self._exporter.export(turn, session, after)

    async def _resume_turn(self, turn: Turn, session: BackendSession | None) -> None:
        """Cut off after the turn may have been sent: find out from the project, never by
        sending it again; then render what changed."""
        if session is None:
            raise SessionLost("the project of an interrupted request is gone")
        before = _restore(turn.work.checkpoint.get("before"))
        after = await self._recover(turn, session, before, TurnResult(), at_once=True)
        if after is not None and _changed(before, after):
            await turn.work.save("exporting")
            await self._exporter.export(turn, session, after)

    async def _upload_and_instruct(
        self,
        turn: Turn,
        session: BackendSession,
        before: ProjectState,
        instruction: str,
        platform: Platform | None,
    ) -> TurnResult:
        attachments = turn.work.message.attachments
        if attachments:
            await turn.work.save("uploading")
            turn.reporter.stage(say("stage_uploading", turn.lang, n=len(attachments)))
            await self._upload(turn, session, platform)
        # From here on the turn may have been sent: recorded first, so that a resume
        # never sends it again.
        await turn.work.save("instructing", before=_snapshot(before))
        turn.reporter.stage(say("stage_thinking", turn.lang))
        return await self._instruct(session, instruction, turn.lang)

    async def _upload(self, turn: Turn, session: BackendSession, platform: Platform | None) -> None:
        if platform is None:
            raise Unavailable(f"no {turn.chat.platform} connection here to fetch the files")
        async with scratch_dir(self._deps.settings.data_dir / "tmp") as tmp:
            for i, attachment in enumerate(turn.work.message.attachments):
                path = Path(tmp) / _safe_name(attachment.name, i)
                await platform.fetch(attachment, path)
                await self._deps.backend.upload(session, path, attachment.name)

    async def _instruct(self, session: BackendSession, text: str, lang: Lang) -> TurnResult:
        result = TurnResult()
        began = False
        try:
            async for event in self._deps.backend.instruct(session, text, lang):
                began = True
                if isinstance(event, TextMessage):
                    result.messages.append(event)
                elif isinstance(event, StreamError):
                    result.errors.append(event)
        except StreamDropped as exc:
            log.warning("session %s: the stream dropped: %s", session.session_id, exc)
            result.dropped = True
        except SessionLost as exc:
            if began:
                # The stream had opened (a word, a tool call, even a keep-alive): the
                # turn was accepted, and sending it again could run it twice.
                raise Unavailable("session lost during the turn") from exc
            raise
        return result

    async def _answer(
        self, turn: Turn, before: ProjectState, after: ProjectState, result: TurnResult
    ) -> None:
        lang, channel = turn.lang, turn.channel
        for err in result.errors:
            log.warning("chat %s: error in the stream: %s %s", turn.chat, err.code, err.message)
            metrics.backend_error(self._deps.backend.name, err.code or "stream")
        parts = [_words(result)]
        if any(m.show_project for m in result.messages):
            parts.append(timeline.summary(timeline.parse(after.draft), lang))
            if not _changed(before, after) and timeline.exportable(after.draft):
                parts.append(say("unchanged_say_export", lang))
        if any(m.offers_export for m in result.messages):
            parts.append(say("clip_coming" if _changed(before, after) else "say_export", lang))
        body = "\n".join(p for p in parts if p)
        if body:
            await channel.send_text(body)
            return
        changes = timeline.diff(timeline.parse(before.draft), timeline.parse(after.draft), lang)
        if changes:
            await channel.send_text(say("silent_changes", lang, changes="; ".join(changes)))
            return
        if result.errors:
            err = result.errors[-1]
            raise Unavailable(f"stream error {err.code}: {err.message}")
        await channel.send_text(say("silent_nothing", lang))

    async def _say_agent_words(self, turn: Turn, result: TurnResult) -> None:
        """The agent's words of a turn, when the project cannot be shown."""
        if words := _words(result):
            await turn.channel.send_text(words)

    async def _recover(
        self,
        turn: Turn,
        session: BackendSession,
        before: ProjectState,
        result: TurnResult,
        *,
        at_once: bool = False,
    ) -> ProjectState | None:
        """After a dropped stream (or a restart mid-turn): read the state until it
        changes; never re-send. `at_once`: the first read without waiting."""
        settings, lang = self._deps.settings, turn.lang
        turn.reporter.stage(say("stage_recovering", lang))
        await self._say_agent_words(turn, result)
        waited = 0.0
        for check in range(settings.recovery_max_checks):
            if check == 0:
                pause = 0.0 if at_once else settings.recovery_first_check_s
            else:
                pause = settings.recovery_interval_s
            await asyncio.sleep(pause)
            waited += pause
            try:
                state = await self._deps.backend.state(session)
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
                await turn.channel.send_text(say("recovered", lang, changes=what))
                return state
        minutes = f"{max(waited, 60.0) / 60:.0f}"
        await turn.channel.send_text(say("recovery_failed", lang, minutes=minutes))
        return None


def _words(result: TurnResult) -> str:
    return "\n\n".join(m.text.strip() for m in result.messages if m.text.strip())


def _changed(before: ProjectState, after: ProjectState) -> bool:
    """A new clip is due: the draft changed and has something to render."""
    return after.draft != before.draft and timeline.exportable(after.draft)

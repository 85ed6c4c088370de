"""Export and delivery: render the project, keep its job record, and hand the MP4 to the
chat — the file when it fits, else the link, else words saying why."""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid
from dataclasses import replace

from bot import replies, timeline
from bot.engine.work import Deps, LeaseLost, Turn
from bot.errors import ClipbotError, RenderFailed, SessionLost
from bot.ports.backend import BackendSession, ExportDone, ExportProgress, ProjectState
from bot.ports.chat import OutgoingChannel, VideoInfo
from bot.ports.store import Delivery, RenderJob
from bot.sharing import ShareLinks
from bot.words import Lang, say, size

log = logging.getLogger(__name__)


def caption(
    done: ExportDone, lang: Lang, *, link: str | None = None, for_name: str | None = None
) -> str:
    """The caption under a delivered clip: size, length, who asked, the project link."""
    seconds = f"{done.duration_s:.1f}".rstrip("0").rstrip(".")
    head = say("caption", lang, size=f"{done.width}×{done.height}", duration=seconds)
    if for_name:
        head = f"{head} {say('caption_for', lang, name=for_name)}"
    if link:
        head = f"{head}\n{say('caption_link', lang, link=link)}"
    return head


def _size(done: ExportDone) -> int | None:
    if done.size_bytes is not None:
        return done.size_bytes
    if done.path is not None and done.path.exists():
        return done.path.stat().st_size
    return None


async def deliver(
    channel: OutgoingChannel,
    done: ExportDone,
    text: str,
    lang: Lang,
    links: ShareLinks | None = None,
    *,
    key: str | None = None,
) -> Delivery | None:
    """Send the clip as a file; over the limit as the backend's link, or else as a share
    link of ours; else say why not (None). `key` makes a second delivery of the same
    request the same message where the platform can tell (Discord's nonce)."""
    buttons = replies.result_buttons(lang)
    n_bytes = _size(done)
    limit = channel.max_upload_bytes
    fits = n_bytes is not None and (limit is None or n_bytes <= limit)
    if done.path is not None and fits:
        info = VideoInfo(done.width, done.height, done.duration_s)
        await channel.send_video(done.path, text, info, buttons, key=key)
        return "file"
    shown, limit_shown = size(n_bytes or 0), size(limit) if limit else "?"
    if done.url:
        note = say("link_note", lang, size=shown, limit=limit_shown)
        await channel.send_link(done.url, f"{text}\n{note}", buttons, key=key)
        return "link"
    if links is not None and done.path is not None and done.path.exists():
        url = await links.share(done.path)
        note = say("share_note", lang, size=shown, limit=limit_shown, hours=links.ttl_hours)
        await channel.send_link(url, f"{text}\n{note}", buttons, key=key)
        return "link"
    log.warning("a %s-byte clip is over the limit %s and has no url", n_bytes, limit)
    await channel.send_text(say("too_big", lang, size=shown), buttons)
    return None


def _failed(exc: BaseException) -> bool:
    """An error ended the render; a shutdown or a lost lease only interrupted it."""
    return isinstance(exc, Exception) and not isinstance(exc, LeaseLost)


def _stage_words(event: ExportProgress, lang: Lang) -> str:
    """The status line of an export stage: waiting for the device shows the place in line."""
    if event.stage == "queued" and event.ahead:
        return say("stage_waiting_device", lang, n=event.ahead)
    return say("stage_downloading" if event.stage == "downloading" else "stage_rendering", lang)


class Exporter:
    """Renders a chat's project and delivers the clip, recording the render job."""

    def __init__(self, deps: Deps) -> None:
        self._deps = deps

    async def export_request(self, turn: Turn, session: BackendSession | None) -> None:
        """ "export": render the project as it is (or say there is nothing yet)."""
        state: ProjectState | None = None
        if session is not None:
            try:
                state = await self._deps.backend.state(session)
            except SessionLost:
                await self._deps.sessions.forget(turn.chat)
        if session is None or state is None or not timeline.exportable(state.draft):
            await turn.channel.send_text(say("nothing_to_export", turn.lang))
            return
        await self.export(turn, session, state)

    async def export(self, turn: Turn, session: BackendSession, state: ProjectState) -> None:
        """Render `state` and deliver the MP4; the job record follows every stage. A
        resumed request carries on with the render it had started (if the backend can)."""
        deps, reporter, lang, work = self._deps, turn.reporter, turn.lang, turn.work
        safe_chat = re.sub(r"[^A-Za-z0-9_-]+", "_", str(turn.chat))
        dest = deps.settings.data_dir / "exports" / safe_chat
        dest.mkdir(parents=True, exist_ok=True)
        job_id = str(work.checkpoint.get("job") or f"{safe_chat}-{uuid.uuid4().hex[:12]}")
        resume = work.checkpoint.get("render") if work.resumed else None
        await work.save("exporting", job=job_id)
        job = RenderJob(job_id, turn.chat, deps.backend.name, "submitted")
        # The link is asked for while the render runs, so delivery never waits on it.
        link_task = asyncio.create_task(self._project_link(session))
        await deps.store.save_job(job)
        reporter.stage(say("stage_rendering", lang))
        done: ExportDone | None = None
        render_start = time.monotonic()
        try:
            limit = turn.channel.max_upload_bytes
            async for event in deps.backend.export(
                session, state, dest, max_bytes=limit, resume=str(resume) if resume else None
            ):
                if isinstance(event, ExportProgress):
                    if event.ref and event.ref != work.checkpoint.get("render"):
                        # The render now exists on the backend: a resume polls it.
                        await work.save("exporting", render=event.ref)
                    reporter.stage(_stage_words(event, lang))
                    reporter.percent(event.percent)
                    if event.stage != job.state:
                        job = replace(job, state=event.stage, progress=event.percent)
                        await deps.store.save_job(job)
                else:
                    done = event
            if done is None:
                raise RenderFailed("the export ended without a result")
            render_s = time.monotonic() - render_start
        except BaseException as exc:
            link_task.cancel()
            if _failed(exc):
                await deps.store.save_job(replace(job, state="failed"))
            raise
        reporter.stage(say("stage_sending", lang))
        message = turn.work.message
        try:
            link = await link_task
            text = caption(
                done, lang, link=link, for_name=message.sender.name if message.is_group else None
            )
            n_bytes = _size(done)
            delivery = await deliver(
                turn.channel, done, text, lang, deps.links, key=f"clipbot-{work.request_id}"
            )
            await work.save("delivered")
            if delivery is not None:
                await deps.gate.delivered(message, work.received_at, render_s, n_bytes, delivery)
        except BaseException as exc:
            if _failed(exc):
                await deps.store.save_job(replace(job, state="failed"))
            raise
        finally:
            # Delivered (the platform has its copy) or not deliverable: either way the
            # file must not pile up in the data dir, one clip per request.
            if done.path is not None and done.path.parent == dest:
                await asyncio.to_thread(done.path.unlink, missing_ok=True)
        await deps.store.save_job(
            replace(job, state="completed", progress=100.0, output_url=done.url)
        )

    async def _project_link(self, session: BackendSession) -> str | None:
        try:
            return await self._deps.backend.project_link(session)
        except ClipbotError as exc:
            log.warning("no project link: %s: %s", type(exc).__name__, exc)
            return None

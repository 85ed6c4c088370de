"""`NemoBackend`: the `bot.ports.backend.Backend` protocol on top of `NemoClient`."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

from backends.nemo.client import ClientConfig, NemoClient
from backends.nemo.media import probe_mp4
from backends.nemo.pace import PollPacer
from backends.nemo.retry import ReadRetry
from backends.nemo.translate import translate
from backends.nemo.wire import RenderStatus
from bot.config import Settings
from bot.errors import BackendError, NothingToExport, ProtocolError, RenderFailed, Unavailable
from bot.ports.backend import (
    AgentEvent,
    BackendSession,
    Credits,
    ExportDone,
    ExportEvent,
    ExportProgress,
    ExportStage,
    ProjectState,
    TextMessage,
    UploadedFile,
)
from bot.ports.store import IdentityStore
from bot.timeline import exportable
from bot.words import Lang

log = logging.getLogger(__name__)


class NemoBackend:
    """The Nemo cloud agent as a Clipbot backend."""

    name = "nemo"

    def __init__(self, client: NemoClient, settings: Settings) -> None:
        self.client = client
        self._settings = settings

    async def open_session(self, language: str) -> BackendSession:
        """A new Nemo project session."""
        info = await self.client.create_session(language)
        extra = {"task_id": info.task_id}
        if info.user_id:
            extra["user_id"] = info.user_id
        return BackendSession(info.session_id, extra)

    def _learn_user(self, session: BackendSession) -> None:
        # After a restart the client has its stored token but not whose it is; the
        # stored session knows, and a 2001 needs it for the registration link.
        if self.client.user_id is None and session.extra.get("user_id"):
            self.client.user_id = session.extra["user_id"]

    async def upload(self, session: BackendSession, path: Path, filename: str) -> UploadedFile:
        """Upload a file into the session (streamed, 200 MB at most)."""
        self._learn_user(session)
        files = await self.client.upload(session.session_id, path, filename)
        return files[0]

    async def instruct(
        self, session: BackendSession, text: str, language: Lang
    ) -> AsyncIterator[AgentEvent]:
        """Send one instruction; the agent's events until the stream ends, its words
        rewritten for a chat (no editor to click in)."""
        self._learn_user(session)
        async for event in self.client.chat(session.session_id, text):
            if isinstance(event, TextMessage):
                said = translate(event.text, language)
                event = TextMessage(said.text, said.show_project, said.offers_export)
            yield event

    async def state(self, session: BackendSession) -> ProjectState:
        """The project's latest draft."""
        self._learn_user(session)
        draft, media = await self.client.state(session.session_id)
        user_id = session.extra.get("user_id") or self.client.user_id
        return ProjectState(draft=draft, user_id=user_id, media_count=media)

    async def credits(self) -> Credits:
        """The balance of Nemo credits."""
        return await self.client.credits()

    async def project_link(self, session: BackendSession) -> str | None:
        """The claim link that opens the project in a browser."""
        task_id = session.extra.get("task_id")
        if not task_id:
            return None
        claim = await self.client.claim_token(task_id, session.session_id)
        return self.client.claim_link(claim)

    async def export(
        self,
        session: BackendSession,
        state: ProjectState,
        dest_dir: Path,
        *,
        max_bytes: int | None = None,
        resume: str | None = None,
    ) -> AsyncIterator[ExportEvent]:
        """Render on Nemo, poll at an adaptive pace, and fetch the MP4. A render that
        fails is submitted again once, with a new id, before the failure is reported
        (exports cost nothing; cloud renders fail transiently). `resume` follows a render
        submitted before a restart instead of submitting another."""
        if not exportable(state.draft):
            raise NothingToExport("The draft has no segments yet: generate a clip first")
        self._learn_user(session)
        deadline = time.monotonic() + self._settings.nemo_render_timeout_s
        job_id = resume
        status: RenderStatus | None = None
        for attempt in (1, 2):
            if job_id is None:
                job_id = await self._submit(session, state)
                yield ExportProgress("submitted", 0.0, ref=job_id)
            try:
                async for progress in self._poll(job_id, deadline):
                    if isinstance(progress, RenderStatus):
                        status = progress
                    else:
                        yield progress
                break
            except RenderFailed as exc:
                if attempt == 2 or time.monotonic() >= deadline:
                    raise
                log.warning("Nemo render %s failed (%s); again with a new id", job_id, exc)
                job_id = None
        assert status is not None
        assert job_id is not None
        yield ExportProgress("downloading", 100.0)
        await asyncio.to_thread(dest_dir.mkdir, parents=True, exist_ok=True)
        dest = dest_dir / f"{job_id}.mp4"
        try:
            size = await self._fetch(job_id, status.output_url, dest)
            width, height, duration = await asyncio.to_thread(probe_mp4, dest)
        except BaseException:
            # Not a clip anyone will receive: it must not pile up in the data dir.
            dest.unlink(missing_ok=True)  # one quick call, also when cancelled
            raise
        yield ExportDone(dest, status.output_url, width, height, duration, size)

    async def _poll(
        self, job_id: str, deadline: float
    ) -> AsyncIterator[ExportProgress | RenderStatus]:
        """Progress of one render until it completes (then its status), or `RenderFailed`."""
        s = self._settings
        pacer = PollPacer(min(s.nemo_render_poll_first_s, 2.0), s.nemo_render_poll_max_s)
        delay = pacer.first_delay()
        last: tuple[ExportStage, float | None] | None = None
        while True:
            if time.monotonic() + delay > deadline:
                raise RenderFailed(f"Nemo render {job_id} ran past {s.nemo_render_timeout_s:g} s")
            await asyncio.sleep(delay)
            status = await self.client.render_status(job_id)
            delay = pacer.next_delay(time.monotonic(), status.progress)
            if status.status == "failed":
                raise RenderFailed(f"Nemo render failed: {status.error or 'no reason given'}")
            if status.status == "completed":
                yield status
                return
            now: tuple[ExportStage, float | None] = (
                "queued" if status.status == "pending" else "rendering",
                status.progress,
            )
            if now != last:
                last = now
                yield ExportProgress(*now)

    async def _submit(self, session: BackendSession, state: ProjectState) -> str:
        for attempt in (1, 2):
            job_id = f"render_{uuid.uuid4().hex}"
            try:
                await self.client.submit_render(job_id, session.session_id, state.draft)
                return job_id
            except (Unavailable, ProtocolError, RenderFailed) as exc:
                if attempt == 2:
                    raise
                log.warning("Nemo render submit failed (%s); retrying with a new id", exc)
            except BackendError as exc:
                if attempt == 2 or type(exc) is not BackendError:
                    raise
                log.warning("Nemo render submit refused (%s); retrying with a new id", exc)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _fetch(self, job_id: str, url: str | None, dest: Path) -> int:
        if url:
            try:
                return await self.client.download(url, dest)
            except BackendError as exc:
                log.warning("Nemo output URL failed (%s); using the fallback download", exc)
        return await self.client.download_render(job_id, dest)

    async def discard(self, session: BackendSession) -> None:
        """Nothing to free here: the project stays in the user's Nemo account, where its
        claim link still opens it."""

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self.client.aclose()


def create_backend(settings: Settings, identities: IdentityStore) -> NemoBackend:
    """The Nemo backend with its one HTTP client, configured from `settings`."""
    # stamina's own log line of a scheduled retry carries no detail in our log format;
    # `ReadRetry` logs what failed and why instead.
    logging.getLogger("stamina").setLevel(logging.ERROR)
    token = settings.nemo_token.get_secret_value() if settings.nemo_token else None
    config = ClientConfig(
        base_url=settings.nemo_base_url,
        web_url=settings.nemo_web_url,
        token=token or None,
        client_id=settings.nemo_client_id or None,
        skill_source=settings.nemo_skill_source,
        skill_version=settings.nemo_skill_version,
        skill_platform=settings.nemo_skill_platform,
        rate_limit_wait_s=settings.nemo_rate_limit_wait_s,
        stream_read_timeout_s=settings.nemo_stream_read_timeout_s,
        turn_timeout_s=settings.nemo_turn_timeout_s,
        keepalive_only_timeout_s=settings.nemo_keepalive_only_timeout_s,
        request_timeout_s=settings.nemo_request_timeout_s,
        read_retry=ReadRetry(
            attempts=settings.nemo_read_attempts,
            backoff_s=settings.nemo_read_backoff_s,
            window_s=settings.nemo_read_retry_window_s,
            rate_limit_wait_s=settings.nemo_rate_limit_wait_s,
        ),
    )
    return NemoBackend(NemoClient(config, identities), settings)

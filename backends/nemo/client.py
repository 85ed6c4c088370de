"""The Nemo HTTP client: every endpoint, the identity, and the retry rules in one place.

Remedies (each at most once per call): error 1001 → a fresh anonymous token for the same
client id; HTTP 400 "missing client id" → make one; HTTP 429 → wait, then again.
Reads (state, credits, render status, downloads) are also tried again after a network
failure, a 5xx or a 429, with backoff (`retry.py`); turns, uploads and submits never are.
The bearer token goes only in the Authorization header, and only to Nemo's own host.
"""

from __future__ import annotations

import logging
import mimetypes
import os
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import aiohttp

from backends.nemo.identity import NemoIdentity
from backends.nemo.retry import ReadRetry, Remedies, retry_after_seconds
from backends.nemo.stream import EventParser, read_turn
from backends.nemo.transport import (
    as_given,
    file_form,
    open_session,
    read_limited,
    stream_chunks,
    timeouts,
)
from backends.nemo.wire import (
    UPLOAD_LIMIT_BYTES,
    AnonymousToken,
    RenderStatus,
    SessionInfo,
    check_envelope,
    data_of,
    decode_body,
    not_a_stream,
    parse_anonymous_token,
    parse_claim_token,
    parse_credits,
    parse_render_status,
    parse_session,
    parse_state,
    parse_upload,
)
from bot.errors import BackendError, FileTooLarge, RateLimited, Unavailable
from bot.ports.backend import AgentEvent, Credits, UploadedFile
from bot.ports.store import IdentityStore

log = logging.getLogger(__name__)

APP = "nemo_agent"
_CHUNK = 256 * 1024


@dataclass(frozen=True, slots=True)
class ClientConfig:
    """What the client needs from the settings."""

    base_url: str
    web_url: str = "https://nemovideo.com"
    token: str | None = None
    client_id: str | None = None
    skill_source: str = "clipbot"
    skill_version: str = "0"
    skill_platform: str = "clipbot"
    rate_limit_wait_s: float = 30.0
    stream_read_timeout_s: float = 90.0
    turn_timeout_s: float = 900.0
    keepalive_only_timeout_s: float = 600.0
    request_timeout_s: float = 60.0
    #: An upload slower than this on average fails (aiohttp has no per-write timeout:
    #: a server that stops reading would otherwise hold the request for good).
    upload_min_bytes_per_s: float = 128 * 1024
    read_retry: ReadRetry = field(default_factory=ReadRetry)


class NemoClient:
    """One Nemo account's view of the API, over its own aiohttp session (opened at the
    first call, in the running event loop; see `transport`)."""

    def __init__(self, config: ClientConfig, identities: IdentityStore) -> None:
        self._session: aiohttp.ClientSession | None = None
        self.config = config
        self._base = config.base_url.rstrip("/")
        self.identity = NemoIdentity(
            identities, self._fetch_anonymous, token=config.token, client_id=config.client_id
        )
        self._host = urlsplit(config.base_url).netloc

    @property
    def user_id(self) -> str | None:
        """The Nemo user behind the token, once known."""
        return self.identity.user_id

    @user_id.setter
    def user_id(self, value: str | None) -> None:
        self.identity.user_id = value

    async def token(self) -> str:
        """The bearer token (see `NemoIdentity.token`)."""
        return await self.identity.token()

    # --- the call machinery -------------------------------------------------------------

    @property
    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = open_session(self.config.base_url, self.config.request_timeout_s)
        return self._session

    def _headers(self, token: str | None) -> dict[str, str]:
        headers = {
            "X-Skill-Source": self.config.skill_source,
            "X-Skill-Version": self.config.skill_version,
            "X-Skill-Platform": self.config.skill_platform,
        }
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if client_id := self.identity.known_client_id:
            headers["X-Client-Id"] = client_id
        return headers

    def _check(self, response: aiohttp.ClientResponse, raw: bytes) -> Mapping[str, Any]:
        try:
            body = decode_body(
                raw,
                status=response.status,
                content_type=response.headers.get("content-type", ""),
            )
            check_envelope(
                body,
                status=response.status,
                user_id=self.user_id,
                web_url=self.config.web_url,
                secrets=self.identity.secrets(),
            )
        except RateLimited as exc:
            exc.retry_after_s = retry_after_seconds(response.headers)
            raise
        return body

    async def _call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        upload: tuple[Path, str] | None = None,
        auth: bool = True,
        read: bool = False,
    ) -> Mapping[str, Any]:
        """One API call with its remedies; the whole JSON body of the answer. A `read`
        leaves 429s to the read retries, which honour `Retry-After` with backoff."""
        remedies = Remedies(self.identity, self.config.rate_limit_wait_s, reads=read)
        while True:
            token = await self.token() if auth else None
            try:
                return await self._once(method, path, token, json=json, upload=upload)
            except BackendError as exc:
                await remedies.apply(exc, token)

    async def _once(
        self,
        method: str,
        path: str,
        token: str | None,
        *,
        json: Any,
        upload: tuple[Path, str] | None,
    ) -> Mapping[str, Any]:
        headers = self._headers(token)
        url = self._base + path
        try:
            if upload is not None:
                file_path, filename = upload
                mime = mimetypes.guess_type(filename)[0] or "application/octet-stream"
                with file_path.open("rb") as fh:
                    form = file_form("files", fh, filename, mime)
                    size = os.fstat(fh.fileno()).st_size
                    limit = self.config.request_timeout_s
                    timeout = timeouts(
                        limit, limit, limit + size / self.config.upload_min_bytes_per_s
                    )
                    async with self._http.request(
                        method, url, headers=headers, data=form, timeout=timeout
                    ) as response:
                        raw = await response.read()
            else:
                async with self._http.request(method, url, headers=headers, json=json) as response:
                    raw = await response.read()
        except TimeoutError as exc:
            raise Unavailable(f"Nemo did not answer in time ({type(exc).__name__})") from exc
        except aiohttp.ClientError as exc:
            raise Unavailable(f"Nemo cannot be reached ({type(exc).__name__})") from exc
        log.debug("Nemo %s %s → %d", method, path, response.status)
        return self._check(response, raw)

    # --- endpoints ------------------------------------------------------------------------

    async def aclose(self) -> None:
        """Close the HTTP session."""
        if self._session is not None:
            await self._session.close()

    async def _fetch_anonymous(self) -> AnonymousToken:
        """POST /api/auth/anonymous-token for the client id (sent as X-Client-Id)."""
        body = await self._call("POST", "/api/auth/anonymous-token", auth=False)
        return parse_anonymous_token(data_of(body))

    async def create_session(self, language: str = "en") -> SessionInfo:
        """A new project session."""
        body = await self._call(
            "POST",
            f"/api/tasks/me/with-session/{APP}",
            json={"task_name": "project", "language": language},
        )
        info = parse_session(data_of(body))
        if info.user_id:
            self.user_id = info.user_id
        return info

    async def claim_token(self, task_id: str, session_id: str) -> str:
        """A claim token that opens the project in a browser."""
        body = await self._call(
            "POST", "/api/auth/claim-token", json={"task_id": task_id, "session_id": session_id}
        )
        return parse_claim_token(data_of(body))

    def claim_link(self, claim_token: str) -> str:
        """The browser link for a claim token."""
        return f"{self.config.web_url.rstrip('/')}/workspace/claim?ct={claim_token}"

    async def upload(self, session_id: str, path: Path, filename: str) -> list[UploadedFile]:
        """Upload a file (multipart field `files`, streamed from disk)."""
        size = os.stat(path).st_size
        if size > UPLOAD_LIMIT_BYTES:
            raise FileTooLarge(
                f"File is {size / 2**20:.0f} MB; Nemo takes at most 200 MB",
                limit_bytes=UPLOAD_LIMIT_BYTES,
            )
        body = await self._call(
            "POST", f"/api/upload-video/{APP}/me/{session_id}", upload=(path, filename)
        )
        return parse_upload(data_of(body), filename)

    async def upload_urls(self, session_id: str, urls: list[str]) -> list[UploadedFile]:
        """Have Nemo fetch files from URLs."""
        body = await self._call(
            "POST",
            f"/api/upload-video/{APP}/me/{session_id}",
            json={"urls": urls, "source_type": "url"},
        )
        return parse_upload(data_of(body), "file")

    async def _read(self, path: str) -> Mapping[str, Any]:
        """GET `path`, tried again after a passing failure (see `ReadRetry`)."""
        return await self.config.read_retry.run(
            lambda: self._call("GET", path, read=True), f"GET {path}"
        )

    async def credits(self) -> Credits:
        """The credit balance."""
        body = await self._read("/api/credits/balance/simple")
        available, frozen, total = parse_credits(data_of(body))
        return Credits(available=available, frozen=frozen, total=total)

    async def state(self, session_id: str) -> tuple[Mapping[str, Any], int]:
        """The latest state: (draft, generated media count)."""
        body = await self._read(f"/api/state/{APP}/me/{session_id}/latest")
        return parse_state(data_of(body))

    async def submit_render(
        self, job_id: str, session_id: str, draft: Mapping[str, Any]
    ) -> RenderStatus:
        """Submit a render of `draft` under the id `job_id`."""
        body = await self._call(
            "POST",
            "/api/render/proxy/lambda",
            json={
                "id": job_id,
                "sessionId": session_id,
                "draft": draft,
                "output": {"format": "mp4", "quality": "high"},
            },
        )
        return parse_render_status(body)

    async def render_status(self, job_id: str) -> RenderStatus:
        """One look at a render job (either status shape)."""
        body = await self._read(f"/api/render/proxy/lambda/{job_id}")
        return parse_render_status(body)

    async def download_render(self, job_id: str, dest: Path) -> int:
        """The fallback download of a finished render into `dest`; returns its size."""
        return await self.download(f"/api/render/proxy/{job_id}/download", dest)

    async def download(self, url: str, dest: Path) -> int:
        """Stream `url` into the file `dest` (never whole in memory); returns its size.

        The bearer token is sent only when `url` is on Nemo's own host.
        """
        absolute = urljoin(self.config.base_url.rstrip("/") + "/", url)
        return await self.config.read_retry.run(
            lambda: self._download(absolute, dest), f"download {urlsplit(absolute).path}"
        )

    async def _download(self, absolute: str, dest: Path) -> int:
        ours = urlsplit(absolute).netloc == self._host
        remedies = Remedies(self.identity, self.config.rate_limit_wait_s, reads=True)
        while True:
            token = await self.token() if ours else None
            headers = self._headers(token) if ours else {}
            try:
                return await self._download_once(absolute, headers, dest)
            except BackendError as exc:
                await remedies.apply(exc, token)

    async def _download_once(self, url: str, headers: dict[str, str], dest: Path) -> int:
        part = dest.with_name(dest.name + ".part")
        size = 0
        try:
            async with self._http.get(as_given(url), headers=headers) as response:
                if response.status != 200:
                    raw = await read_limited(response)
                    self._check(response, raw)
                    raise Unavailable(f"Nemo download answered HTTP {response.status}")
                with part.open("wb") as fh:
                    async for chunk in response.content.iter_chunked(_CHUNK):
                        fh.write(chunk)
                        size += len(chunk)
            os.replace(part, dest)
            return size
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise Unavailable(f"Nemo download broke off ({type(exc).__name__})") from exc
        finally:
            part.unlink(missing_ok=True)

    async def chat(self, session_id: str, text: str) -> AsyncIterator[AgentEvent]:
        """Send one message and stream the agent's events until the stream ends.

        Remedies apply only before the stream opens; once it has, nothing is sent again.
        """
        payload = {
            "app_name": APP,
            "user_id": "me",
            "session_id": session_id,
            "new_message": {"role": "user", "parts": [{"text": text}]},
        }
        timeout = timeouts(self.config.request_timeout_s, self.config.stream_read_timeout_s)
        remedies = Remedies(self.identity, self.config.rate_limit_wait_s)
        while True:
            token = await self.token()
            failure: BackendError | None = None
            try:
                headers = {
                    **self._headers(token),
                    "Accept": "text/event-stream",
                    "Cache-Control": "no-store",
                }
                async with self._http.post(
                    self._base + "/run_sse", json=payload, headers=headers, timeout=timeout
                ) as response:
                    ctype = response.headers.get("content-type", "")
                    if response.status != 200 or "text/event-stream" not in ctype:
                        raw = await read_limited(response)
                        try:
                            self._check(response, raw)
                            raise not_a_stream(response.status, ctype)
                        except BackendError as exc:
                            failure = exc
                    else:
                        parser = EventParser(user_id=self.user_id, web_url=self.config.web_url)
                        async for event in read_turn(
                            stream_chunks(response),
                            parser,
                            turn_timeout_s=self.config.turn_timeout_s,
                            keepalive_only_timeout_s=self.config.keepalive_only_timeout_s,
                        ):
                            yield event
                        return
            except TimeoutError as exc:
                raise Unavailable(f"Nemo chat did not answer ({type(exc).__name__})") from exc
            except aiohttp.ClientError as exc:
                raise Unavailable(f"Nemo chat cannot be reached ({type(exc).__name__})") from exc
            assert failure is not None
            await remedies.apply(failure, token)

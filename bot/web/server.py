"""The HTTP side server on CLIPBOT_HTTP_PORT (aiohttp):

- ``GET /healthz``: 200 while the bot's event loop answers and the store is reachable,
  else 503 with the reason (JSON);
- ``GET /metrics``: Prometheus' text format (`bot.metrics`);
- ``GET /clips/<id>/<secret>.mp4``: share links (`bot.sharing`), with range requests;
  404 for a wrong, unknown or expired link;
- ``GET /``: the operator's status page, behind CLIPBOT_HTTP_TOKEN (``POST /login``).

It runs in a thread with an event loop of its own: a health check served by the bot's
loop could never say that loop is stuck, and a phone downloading a big clip must not slow
the bot. Whatever touches the bot's objects runs on the bot's loop, with a time limit.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import hmac
import logging
import re
import threading
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from bot import metrics, stats
from bot.config import Settings
from bot.errors import AdapterStartError
from bot.gate.pending import PendingFn
from bot.ports.backend import Backend
from bot.ports.store import Store
from bot.sharing import ShareLinks
from bot.web import page

log = logging.getLogger(__name__)

T = TypeVar("T")

#: How long the bot's loop has to answer before /healthz says it is stuck.
LOOP_TIMEOUT_S = 2.0
COOKIE = "clipbot_status"
#: A wrong token waits this long: guessing it by trying stays slow.
WRONG_TOKEN_DELAY_S = 0.5
PRUNE_EVERY_S = 900.0
_SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
_PAGE_HEADERS = {
    **_SECURITY_HEADERS,
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "form-action 'self'; frame-ancestors 'none'",
}
_SHARE_PATH = re.compile(r"^(/clips/[^/]+/)[^/]*$")


class _AccessLog(AbstractAccessLogger):
    """One line per request, with share links' secrets left out."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, took: float) -> None:
        path = _SHARE_PATH.sub(r"\1…", request.path)
        self.logger.info(
            "%s %s %s %s bytes %.3f s",
            request.method,
            path,
            response.status,
            response.body_length,
            took,
        )


def session_value(token: str) -> str:
    """The cookie value that proves the token was given (the token itself never is)."""
    return hmac.new(token.encode(), b"clipbot status page", hashlib.sha256).hexdigest()


class SideServer:
    """Start with `await start()` on the bot's loop; `port` is where it listens."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        backend: Backend,
        pending: PendingFn,
        *,
        port: int | None = None,
        loop_timeout_s: float = LOOP_TIMEOUT_S,
    ) -> None:
        self._settings = settings
        self._store = store
        self._backend = backend
        self._pending = pending
        self._host = settings.http_host
        self.port = port if port is not None else settings.http_port or 0
        self._loop_timeout_s = loop_timeout_s
        self._links = ShareLinks.from_settings(settings)
        token = settings.http_token.get_secret_value() if settings.http_token else ""
        self._token = token
        self._lang = settings.default_language
        self._main: asyncio.AbstractEventLoop | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        """Listen (in the server's thread); return once it does."""
        self._main = asyncio.get_running_loop()
        ready: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._thread = threading.Thread(
            target=lambda: asyncio.run(self._serve(ready)), name="clipbot-http", daemon=True
        )
        self._thread.start()
        try:
            await asyncio.wrap_future(ready)
        except OSError as exc:
            await asyncio.to_thread(self._thread.join)
            raise AdapterStartError(
                f"The HTTP side server could not listen on {self._host}:{self.port} "
                f"({exc.strerror or exc}): check CLIPBOT_HTTP_PORT."
            ) from exc
        log.info("HTTP side server on %s:%s", self._host, self.port)

    async def stop(self) -> None:
        """Stop listening and end the thread."""
        loop, stopping, thread = self._loop, self._stopping, self._thread
        if loop is not None and stopping is not None:
            loop.call_soon_threadsafe(stopping.set)
        if thread is not None:
            await asyncio.to_thread(thread.join)
        self._thread = None

    async def _serve(self, ready: concurrent.futures.Future[None]) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        runner = web.AppRunner(self._app(), access_log_class=_AccessLog, handle_signals=False)
        try:
            await runner.setup()
            await web.TCPSite(runner, self._host, self.port).start()
        except BaseException as exc:
            await runner.cleanup()
            ready.set_exception(exc)
            return
        self.port = runner.addresses[0][1]
        ready.set_result(None)
        janitor = asyncio.create_task(self._prune_links())
        try:
            await self._stopping.wait()
        finally:
            janitor.cancel()
            await runner.cleanup()

    def _app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/clips/{link_id}/{secret}.mp4", self._clip)
        app.router.add_get("/", self._status)
        app.router.add_post("/login", self._login)
        return app

    async def _on_main(self, make: Callable[[], Awaitable[T]]) -> T:
        """Run `make()` on the bot's loop; TimeoutError when it does not answer in time."""
        assert self._main is not None

        async def call() -> T:
            return await make()

        future = asyncio.run_coroutine_threadsafe(call(), self._main)
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), self._loop_timeout_s)
        except TimeoutError:
            future.cancel()
            raise

    async def _prune_links(self) -> None:
        while self._links is not None:
            try:
                await self._links.prune()
            except OSError:
                log.exception("share links: pruning failed")
            await asyncio.sleep(PRUNE_EVERY_S)

    # --- health and metrics -----------------------------------------------------------------

    async def _healthz(self, request: web.Request) -> web.Response:
        try:
            await self._on_main(self._store.ping)
        except TimeoutError:
            reason = f"the bot's event loop did not answer within {self._loop_timeout_s:g} s"
            return _health(503, reason)
        except Exception as exc:
            return _health(503, f"the store is unreachable ({type(exc).__name__}: {exc})")
        return _health(200, None)

    async def _metrics(self, request: web.Request) -> web.Response:
        try:
            pending = await self._on_main(lambda: self._pending(None))
        except Exception as exc:
            # The figures that do not need the bot's loop are still worth serving.
            log.warning("metrics: the queue could not be read: %s", type(exc).__name__)
        else:
            running = sum(1 for p in pending if p.running)
            metrics.set_queue(running, len(pending) - running)
        body, content_type = metrics.exposition()
        response = web.Response(body=body, headers=_SECURITY_HEADERS)
        response.headers["Content-Type"] = content_type
        return response

    # --- share links --------------------------------------------------------------------------

    async def _clip(self, request: web.Request) -> web.StreamResponse:
        clip = None
        if self._links is not None:
            link_id, secret = request.match_info["link_id"], request.match_info["secret"]
            clip = await asyncio.to_thread(self._links.resolve, link_id, secret)
        if clip is None:
            raise web.HTTPNotFound(text="No such clip (or its link has expired).")
        # FileResponse answers Range (206), If-Range and HEAD: phones seek in the video.
        return web.FileResponse(
            clip,
            headers={
                **_SECURITY_HEADERS,
                "Content-Type": "video/mp4",
                "Cache-Control": "private, max-age=3600",
                "Content-Disposition": 'inline; filename="clip.mp4"',
            },
        )

    # --- the status page ----------------------------------------------------------------------

    def _signed_in(self, request: web.Request) -> bool:
        given = request.cookies.get(COOKIE, "")
        return bool(self._token) and hmac.compare_digest(given, session_value(self._token))

    async def _status(self, request: web.Request) -> web.Response:
        if not self._token:
            return _html(page.off(self._lang), 404)
        if not self._signed_in(request):
            return _html(page.login(self._lang), 401)
        snapshot = await self._on_main(self._snapshot)
        return _html(page.status(snapshot, self._lang))

    async def _snapshot(self) -> page.Snapshot:
        pending = list(await self._pending(None))
        figures = await stats.today(self._store, self._backend, pending, time.time)
        recent = await self._store.recent_requests(30)
        return page.Snapshot(figures, pending, recent, time.time())

    async def _login(self, request: web.Request) -> web.Response:
        """The token from the form; right: a session cookie and back to the page."""
        form = await request.post()
        given = str(form.get("token", ""))
        if not self._token or not hmac.compare_digest(given.encode(), self._token.encode()):
            await asyncio.sleep(WRONG_TOKEN_DELAY_S)
            return _html(page.login(self._lang, wrong=bool(self._token)), 403)
        redirect = web.HTTPSeeOther("/", headers=_PAGE_HEADERS)
        secure = request.secure or request.headers.get("X-Forwarded-Proto") == "https"
        redirect.set_cookie(
            COOKIE, session_value(self._token), httponly=True, samesite="Strict", secure=secure
        )
        raise redirect


def _health(status: int, reason: str | None) -> web.Response:
    body = {"ok": True} if reason is None else {"ok": False, "reason": reason}
    return web.json_response(body, status=status, headers={"Cache-Control": "no-store"})


def _html(text: str, status: int = 200) -> web.Response:
    return web.Response(
        text=text, status=status, content_type="text/html", charset="utf-8", headers=_PAGE_HEADERS
    )

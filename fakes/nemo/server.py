"""A loopback Nemo server: the whole API page, with scenarios chosen per test.

emu = NemoEmulator(); await emu.start(); emu.base_url  # http://127.0.0.1:<port>
emu.fail_next("upload", code=4001); emu.next_turn(silent=True)
emu.config.generation_s = 0.05; emu.requests; emu.render_completed_at
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import json
import random
import shutil
import tempfile
import time
import uuid
from collections import defaultdict, deque
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import BodyPartReader, web
from multidict import CIMultiDict

from fakes.nemo.agent import plan_turn
from fakes.nemo.media import fit, make_mp4
from fakes.nemo.scenarios import (
    ENDPOINTS,
    EmulatorConfig,
    Failure,
    Received,
    RenderJob,
    RenderScenario,
    Turn,
    TurnScenario,
)

FORMATS = {
    "mp4",
    "mov",
    "avi",
    "webm",
    "mkv",
    "jpg",
    "jpeg",
    "png",
    "gif",
    "webp",
    "mp3",
    "wav",
    "m4a",
    "aac",
}
GUI_REPLY = "Done! Click Export to download it, or drag the clip to reorder. 点击导出即可。"
TEMPORARY_ISSUE = "I encountered a temporary issue. Please try again."
_CHUNK = 256 * 1024
JSON: web.RequestKey[Any] = web.RequestKey("json", object)


@dataclass
class User:
    """An account: anonymous (per client id) or registered (a configured token)."""

    user_id: str
    available: int
    frozen: int = 0


@dataclass
class Session:
    """A project."""

    session_id: str
    task_id: str
    user: User
    images: list[str] = field(default_factory=list)
    files: list[dict[str, Any]] = field(default_factory=list)
    draft: dict[str, Any] = field(default_factory=dict)
    media: list[dict[str, Any]] = field(default_factory=list)


def _envelope(data: Any = None, code: int = 0, message: str = "ok") -> dict[str, Any]:
    return {"code": code, "message": message, "data": data}


class NemoEmulator:
    """The emulator; `start()` listens on 127.0.0.1 (port 0 by default)."""

    def __init__(self, config: EmulatorConfig | None = None, *, seed: int = 0) -> None:
        self.config = config or EmulatorConfig()
        self.requests: list[Received] = []
        self.turns: list[Turn] = []
        self.render_completed_at: dict[str, float] = {}
        self.jobs: dict[str, RenderJob] = {}
        self.sessions: dict[str, Session] = {}
        self.tokens: dict[str, User] = {}
        self.anon_users: dict[str, User] = {}
        self.claims: dict[str, tuple[str, str]] = {}
        self._failures: dict[str, deque[Failure]] = defaultdict(deque)
        self._holds: dict[str, deque[tuple[asyncio.Event, float | None]]] = defaultdict(deque)
        self._turns: deque[TurnScenario] = deque()
        self._renders: deque[RenderScenario] = deque()
        self._ids = itertools.count(1000001)
        self._random = random.Random(seed)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._dir = Path(tempfile.mkdtemp(prefix="nemo-emulator-"))
        # Encoded MP4s by (width, height, seconds): the same render parameters give the
        # same file, so a burst of renders does not turn the emulator into an encoder farm.
        self._encoded: dict[tuple[int, int, float], asyncio.Task[Path]] = {}
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    # --- the Python API for tests -----------------------------------------------------

    def fail_next(
        self,
        endpoint: str,
        *,
        code: int | None = None,
        status: int | None = None,
        html: bool = False,
        message: str | None = None,
        count: int = 1,
        retry_after: float | str | None = None,
        drop: bool = False,
    ) -> None:
        """Answer the next `count` calls to `endpoint` with this error (see ENDPOINTS),
        with a `Retry-After` header; or (`drop`) cut the connection without an answer."""
        if endpoint not in ENDPOINTS:
            raise ValueError(f"unknown endpoint {endpoint!r}; one of {ENDPOINTS}")
        after = None if retry_after is None else str(retry_after)
        for _ in range(count):
            self._failures[endpoint].append(Failure(code, status, html, message, after, drop))

    def hold_next(self, endpoint: str, seconds: float | None = None) -> asyncio.Event:
        """Hold the next call to `endpoint` until the returned event is set (or `seconds`
        pass), then answer it as usual: a slow Nemo."""
        if endpoint not in ENDPOINTS:
            raise ValueError(f"unknown endpoint {endpoint!r}; one of {ENDPOINTS}")
        release = asyncio.Event()
        self._holds[endpoint].append((release, seconds))
        return release

    def next_turn(self, **quirks: Any) -> TurnScenario:
        """Give the next chat turn these quirks (fields of `TurnScenario`)."""
        scenario = TurnScenario(**quirks)
        self._turns.append(scenario)
        return scenario

    def next_render(self, **quirks: Any) -> None:
        """Give the next render job these quirks (fields of `RenderScenario`)."""
        self._renders.append(RenderScenario(**quirks))

    def expire_tokens(self) -> None:
        """Every token issued so far stops working (the next call gets 1001)."""
        self.tokens.clear()

    def forget_session(self, session_id: str) -> None:
        """The session is lost (the next call on it gets 1002)."""
        self.sessions.pop(session_id, None)

    def add_token(self, token: str, *, user_id: str = "usr_test", credits: int = 1000) -> None:
        """Accept `token` as a registered user's."""
        self.tokens[token] = User(user_id, credits)

    def user(self, token: str) -> User:
        """The account behind a token (for assertions on credits)."""
        return self.tokens[token]

    def received(self, path_part: str) -> list[Received]:
        """The requests whose path contains `path_part`."""
        return [r for r in self.requests if path_part in r.path]

    def make_blob(self, size: int) -> str:
        """A file of `size` bytes served at the returned URL (for download benchmarks)."""
        name = f"blob-{uuid.uuid4().hex}.bin"
        block = bytes(range(256)) * 4096
        with (self._dir / name).open("wb") as fh:
            left = size
            while left > 0:
                fh.write(block[: min(left, len(block))])
                left -= len(block)
        return f"{self.base_url}/_emulator/files/{name}"

    def overlapping_turns(self) -> list[tuple[Turn, Turn]]:
        """Pairs of turns that ran at the same time in one session (a re-sent message)."""
        pairs = []
        for a, b in itertools.combinations(self.turns, 2):
            if a.session_id == b.session_id and b.started < (a.ended or float("inf")):
                pairs.append((a, b))
        return pairs

    # --- life cycle -------------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Listen; returns the base URL."""
        app = web.Application(middlewares=[self._record], client_max_size=1024**2)
        r = app.router
        r.add_post("/api/auth/anonymous-token", self._anonymous_token, name="anonymous-token")
        r.add_post("/api/tasks/me/with-session/nemo_agent", self._create_session, name="session")
        r.add_post("/api/auth/claim-token", self._claim, name="claim")
        r.add_post("/run_sse", self._chat, name="chat")
        r.add_post("/api/upload-video/nemo_agent/me/{sid}", self._upload, name="upload")
        r.add_get("/api/credits/balance/simple", self._credits, name="credits")
        r.add_get("/api/state/nemo_agent/me/{sid}/latest", self._state, name="state")
        r.add_post("/api/render/proxy/lambda", self._render_submit, name="render")
        r.add_get("/api/render/proxy/lambda/{id}", self._render_status, name="render-status")
        r.add_get("/api/render/proxy/{id}/download", self._render_download, name="download:render")
        r.add_get("/_emulator/files/{name}", self._file, name="download:file")
        r.add_post("/_emulator/{action}", self._control)
        r.add_get("/_emulator/{action}", self._control)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        bound = self._runner.addresses[0]
        self.base_url = f"http://{host}:{bound[1]}"
        return self.base_url

    async def stop(self) -> None:
        """Stop listening, end the background work and delete the temp files."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._runner is not None:
            await self._runner.cleanup()
        shutil.rmtree(self._dir, ignore_errors=True)

    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # --- plumbing ----------------------------------------------------------------------------

    @web.middleware
    async def _record(self, request: web.Request, handler: Any) -> web.StreamResponse:
        body: Any = None
        if request.content_type == "application/json" and request.can_read_body:
            try:
                body = await request.json()
            except ValueError:
                body = "<invalid json>"
        self.requests.append(
            Received(
                request.method,
                request.path,
                CIMultiDict(request.headers),
                body,
                time.time(),
                request.raw_path,
            )
        )
        request[JSON] = body
        # Route names are the endpoints of `fail_next` ("download:file" → "download").
        endpoint = (request.match_info.route.name or "").partition(":")[0]
        if holds := self._holds.get(endpoint):
            release, seconds = holds.popleft()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(release.wait(), seconds)
        queue = self._failures.get(endpoint)
        if queue and queue[0].drop:
            queue.popleft()
            assert request.transport is not None
            request.transport.abort()  # no status line, no body: the client sees a reset
            return web.Response()
        response: web.StreamResponse = await handler(request)
        return response

    def _failure(self, endpoint: str, render: bool = False) -> web.Response | None:
        queue = self._failures.get(endpoint)
        if not queue:
            return None
        f = queue.popleft()
        if f.html:
            html = "<html><body><h1>502 Bad Gateway</h1></body></html>"
            return web.Response(status=f.status or 502, text=html, content_type="text/html")
        answer = self._error(f.code, f.status, f.message, render=render)
        if f.retry_after is not None:
            answer.headers["Retry-After"] = f.retry_after
        return answer

    def _error(
        self, code: int | None, status: int | None, message: str | None, *, render: bool = False
    ) -> web.Response:
        defaults = {
            1001: (401, "token expired"),
            1002: (404, "session not found"),
            2001: (200, "insufficient credits"),
            4001: (200, "unsupported file type"),
            4002: (413, "file too large"),
            400: (400, "missing X-Client-Id header"),
            429: (429, "too many requests"),
            402: (402, "export requires attribution"),
            500: (500, "internal error"),
        }
        key = code if code is not None else status
        d_status, d_message = defaults.get(key or 500, (status or 500, "error"))
        status = status or d_status
        message = message or d_message
        if render:
            body: dict[str, Any] = {"success": False, "error": {"code": key, "message": message}}
        else:
            body = _envelope(None, key or status, message)
        return web.json_response(body, status=status)

    def _auth(self, request: web.Request) -> User | web.Response:
        header = request.headers.get("Authorization", "")
        token = header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else ""
        user = self.tokens.get(token)
        registered = token.startswith("nmv_usr_") and "_anon_" not in token
        if user is None and registered and self.config.accept_any_token:
            user = self.tokens[token] = User(f"usr_{next(self._ids)}", self.config.initial_credits)
        if user is None:
            return self._error(1001, None, None)
        return user

    def _session(self, sid: str, user: User) -> Session | web.Response:
        session = self.sessions.get(sid)
        if session is None or session.user is not user:
            return self._error(1002, None, None)
        return session

    # --- the API -------------------------------------------------------------------------------

    async def _anonymous_token(self, request: web.Request) -> web.Response:
        if (fail := self._failure("anonymous-token")) is not None:
            return fail
        client_id = request.headers.get("X-Client-Id", "").strip()
        if not client_id:
            return self._error(400, 400, None)
        user = self.anon_users.get(client_id)
        if user is None:
            user = User(f"anon_{uuid.uuid4().hex[:12]}", self.config.initial_credits)
            self.anon_users[client_id] = user
        for old in [t for t, u in self.tokens.items() if u is user]:
            del self.tokens[old]  # one live token per client id
        token = f"nmv_usr_anon_{uuid.uuid4().hex}"
        self.tokens[token] = user
        expires = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 7 * 86400))
        return web.json_response(
            _envelope(
                {
                    "token": token,
                    "user_id": user.user_id,
                    "expires_at": expires,
                    "credits": user.available,
                }
            )
        )

    async def _create_session(self, request: web.Request) -> web.Response:
        if (fail := self._failure("session")) is not None:
            return fail
        user = self._auth(request)
        if isinstance(user, web.Response):
            return user
        sid, task = str(next(self._ids)), f"task_{uuid.uuid4().hex[:10]}"
        self.sessions[sid] = Session(sid, task, user)
        return web.json_response(
            _envelope({"task_id": task, "session_id": sid, "user_id": user.user_id})
        )

    async def _claim(self, request: web.Request) -> web.Response:
        if (fail := self._failure("claim")) is not None:
            return fail
        user = self._auth(request)
        if isinstance(user, web.Response):
            return user
        body = request[JSON] or {}
        session = self._session(str(body.get("session_id")), user)
        if isinstance(session, web.Response):
            return session
        if body.get("task_id") != session.task_id:
            return self._error(None, 400, "task_id does not match the session")
        claim = f"clm_{uuid.uuid4().hex}"
        self.claims[claim] = (session.task_id, session.session_id)
        return web.json_response(_envelope({"claim_token": claim, "expires_in": 3600}))

    async def _credits(self, request: web.Request) -> web.Response:
        if (fail := self._failure("credits")) is not None:
            return fail
        user = self._auth(request)
        if isinstance(user, web.Response):
            return user
        return web.json_response(
            _envelope(
                {
                    "available": user.available,
                    "frozen": user.frozen,
                    "total": user.available + user.frozen,
                }
            )
        )

    async def _state(self, request: web.Request) -> web.Response:
        if (fail := self._failure("state")) is not None:
            return fail
        user = self._auth(request)
        if isinstance(user, web.Response):
            return user
        session = self._session(request.match_info["sid"], user)
        if isinstance(session, web.Response):
            return session
        m = session.draft.get("m", {})
        state = {
            "draft": session.draft,
            "video_infos": session.files,
            "canvas_config": {"width": m.get("width"), "height": m.get("height")},
            "generated_media": session.media,
            "lastUpdated": time.time(),
        }
        return web.json_response(_envelope({"state": state}))

    async def _upload(self, request: web.Request) -> web.Response:
        if (fail := self._failure("upload")) is not None:
            await (
                request.read()
            ) if request.content_length and request.content_length < 2**20 else None
            return fail
        user = self._auth(request)
        if isinstance(user, web.Response):
            return user
        session = self._session(request.match_info["sid"], user)
        if isinstance(session, web.Response):
            return session
        saved: list[dict[str, Any]] = []
        if request.content_type == "application/json":
            for url in (request[JSON] or {}).get("urls", []):
                name = str(url).rsplit("/", 1)[-1] or "file"
                saved.append(
                    {
                        "filename": name,
                        "file_type": "image",
                        "cdn_url": url,
                        "width": None,
                        "height": None,
                        "duration": None,
                        "fps": None,
                        "hash": hashlib.sha256(str(url).encode()).hexdigest(),
                    }
                )
        else:
            reader = await request.multipart()
            error: int | None = None
            async for part in reader:
                if not isinstance(part, BodyPartReader) or part.name != "files":
                    continue
                name = part.filename or "file"
                ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
                digest, size = hashlib.sha256(), 0
                dest = self._dir / f"up-{uuid.uuid4().hex}.{ext or 'bin'}"
                with dest.open("wb") as fh:
                    while chunk := await part.read_chunk(_CHUNK):
                        size += len(chunk)
                        if ext not in FORMATS or size > self.config.upload_limit_bytes:
                            continue  # drain, keep nothing
                        digest.update(chunk)
                        fh.write(chunk)
                if ext not in FORMATS:
                    error = error or 4001
                elif size > self.config.upload_limit_bytes:
                    error = error or 4002
                if error:
                    dest.unlink(missing_ok=True)
                    continue
                saved.append(self._describe(dest, name, ext, digest.hexdigest()))
            if error:
                return self._error(error, None, None)
        if not saved:
            return self._error(None, 400, "no files in the upload")
        for item in saved:
            session.files.append(item)
            if item["file_type"] == "image":
                session.images.append(item["filename"])
        if self.config.upload_shape == "uploaded_files":
            data = {
                "uploaded_files": [{"url": f["cdn_url"], "filename": f["filename"]} for f in saved]
            }
        else:
            data = {"files": saved}
        return web.json_response(_envelope(data))

    def _describe(self, path: Path, name: str, ext: str, digest: str) -> dict[str, Any]:
        width = height = None
        kind = "video" if ext in {"mp4", "mov", "avi", "webm", "mkv"} else "file"
        if ext in {"jpg", "jpeg", "png", "gif", "webp"}:
            kind = "image"
            with contextlib.suppress(Exception):
                from PIL import Image

                with Image.open(path) as img:
                    width, height = img.size
        elif ext in {"mp3", "wav", "m4a", "aac"}:
            kind = "audio"
        return {
            "filename": name,
            "file_type": kind,
            "cdn_url": f"{self.base_url}/_emulator/files/{path.name}",
            "width": width,
            "height": height,
            "duration": None if kind == "image" else 1.0,
            "fps": None,
            "hash": digest,
        }

    async def _file(self, request: web.Request) -> web.StreamResponse:
        if (fail := self._failure("download")) is not None:
            return fail
        path = self._dir / Path(request.match_info["name"]).name
        if not path.is_file():
            return web.json_response(_envelope(None, 404, "no such file"), status=404)
        return web.FileResponse(path, chunk_size=_CHUNK)

    # --- the chat stream ---------------------------------------------------------------------

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        if (fail := self._failure("chat")) is not None:
            return fail
        user = self._auth(request)
        if isinstance(user, web.Response):
            return user
        body = request[JSON] or {}
        try:
            sid = str(body["session_id"])
            text = str(body["new_message"]["parts"][0]["text"])
        except (KeyError, IndexError, TypeError):
            return self._error(None, 400, "bad run_sse request")
        session = self._session(sid, user)
        if isinstance(session, web.Response):
            return session
        scenario = self._turns.popleft() if self._turns else TurnScenario()
        plan = plan_turn(text, session.draft, session.images)
        if plan.cost > user.available:
            return self._error(2001, None, None)
        if plan.kind == "edit" and not scenario.silent and self.config.silent_edit_ratio:
            scenario.silent = self._random.random() < self.config.silent_edit_ratio
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await response.prepare(request)
        queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        gone = asyncio.Event()
        turn = Turn(sid, text, plan.kind, time.time())
        self.turns.append(turn)
        self._spawn(self._work(session, plan, scenario, queue, gone, turn))
        sent = 0
        try:
            while (item := await queue.get()) is not None:
                await response.write(item)
                sent += 1
                if scenario.drop and sent >= 3:
                    assert request.transport is not None
                    request.transport.abort()  # the work goes on without us
                    gone.set()
                    return response
            await response.write_eof()
        except ConnectionResetError:
            gone.set()  # the client went away (killed): the turn goes on without it
        except asyncio.CancelledError:
            gone.set()
            raise
        return response

    def _keepalive(self, n: int, scenario: TurnScenario) -> bytes:
        form = (
            scenario.keepalive_form
            or self.config.keepalive_forms[n % len(self.config.keepalive_forms)]
        )
        return {
            "event": b"event: heartbeat\n\n",
            "type": b'data: {"type":"heartbeat"}\n\n',
            "empty": b"data:\n\n",
            "comment": b": keep-alive\n\n",
        }[form]

    def _event(self, payload: dict[str, Any], scenario: TurnScenario) -> bytes:
        if scenario.unknown_fields:
            payload = {
                "id": uuid.uuid4().hex[:8],
                "invocationId": f"e-{uuid.uuid4()}",
                "author": "nemo_agent",
                "timestamp": time.time(),
                "actions": {"stateDelta": {}, "artifactDelta": {}},
                "usageMetadata": {"totalTokenCount": 42},
                **payload,
            }
        return b"data: " + json.dumps(payload, ensure_ascii=False).encode() + b"\n\n"

    def _text_events(self, text: str, scenario: TurnScenario) -> list[bytes]:
        if scenario.legacy_text:
            return [self._event({"type": "text", "content": text}, scenario)]
        out = []
        if scenario.partial:
            n = max(1, self.config.partial_chunks)
            step = max(1, -(-len(text) // n))
            for i in range(0, len(text), step):
                part = {"role": "model", "parts": [{"text": text[i : i + step]}]}
                out.append(self._event({"content": part, "partial": True}, scenario))
        if scenario.final or not scenario.partial:
            whole = {"content": {"role": "model", "parts": [{"text": text}]}, "partial": False}
            out.append(self._event(whole, scenario))
        return out

    async def _work(
        self,
        session: Session,
        plan: Any,
        scenario: TurnScenario,
        queue: asyncio.Queue[bytes | None],
        gone: asyncio.Event,
        turn: Turn,
    ) -> None:
        """The agent's turn; it runs to the end even if the client went away."""
        user, cfg = session.user, self.config
        user.available -= plan.cost
        user.frozen += plan.cost
        beats = itertools.count()
        try:
            if scenario.unknown_fields:
                await queue.put(self._event({"unknownThing": {"x": 1}}, scenario))
            if scenario.keepalive_only:
                end = time.monotonic() + cfg.keepalive_only_max_s
                while not gone.is_set() and time.monotonic() < end:
                    await queue.put(self._keepalive(next(beats), scenario))
                    await asyncio.sleep(cfg.keepalive_interval_s)
                return
            if plan.tool:
                call = {"id": "call_1", "name": plan.tool, "args": plan.args}
                await queue.put(
                    self._event(
                        {"content": {"role": "model", "parts": [{"functionCall": call}]}}, scenario
                    )
                )
            length = scenario.duration_s
            if length is None:
                length = {"generation": cfg.generation_s, "edit": cfg.edit_s}.get(
                    plan.kind, cfg.text_s
                )
            end = time.monotonic() + length
            while (left := end - time.monotonic()) > 0:
                await asyncio.sleep(min(cfg.keepalive_interval_s, left))
                await queue.put(self._keepalive(next(beats), scenario))
            if plan.draft is not None:
                session.draft = plan.draft
            if plan.kind == "generation":
                session.media.append({"type": "video", "id": uuid.uuid4().hex[:8]})
            if plan.tool:
                result = {
                    "id": "call_1",
                    "name": plan.tool,
                    "response": {"status": "success", "tracks": len(session.draft.get("t", []))},
                }
                await queue.put(
                    self._event(
                        {"content": {"role": "user", "parts": [{"functionResponse": result}]}},
                        scenario,
                    )
                )
            if scenario.error_code is not None:
                await queue.put(
                    self._event(
                        {"errorCode": scenario.error_code, "errorMessage": "the agent failed"},
                        scenario,
                    )
                )
            elif scenario.bare_error is not None:
                await queue.put(self._event({"error": scenario.bare_error}, scenario))
            elif not scenario.silent:
                reply = GUI_REPLY if scenario.gui_phrases else plan.reply
                for item in self._text_events(reply, scenario):
                    await queue.put(item)
                if scenario.trailing_issue:
                    for item in self._text_events(TEMPORARY_ISSUE, scenario):
                        await queue.put(item)
        finally:
            user.frozen -= plan.cost
            turn.ended = time.time()
            await queue.put(None)

    # --- renders ----------------------------------------------------------------------------

    async def _render_submit(self, request: web.Request) -> web.Response:
        if (fail := self._failure("render", render=True)) is not None:
            return fail
        user = self._auth(request)
        if isinstance(user, web.Response):
            return user
        if not all(
            request.headers.get(h)
            for h in ("X-Skill-Source", "X-Skill-Version", "X-Skill-Platform")
        ):
            return self._error(402, 402, None, render=True)
        body = request[JSON] or {}
        job_id, sid, draft = body.get("id"), body.get("sessionId"), body.get("draft")
        if not isinstance(job_id, str) or not job_id.startswith("render_") or job_id in self.jobs:
            return self._error(None, 400, "id must be a new render_<unique>", render=True)
        if not isinstance(sid, str) or sid not in self.sessions:
            return self._error(1002, 404, "sessionId unknown", render=True)
        if not isinstance(draft, dict) or not any(t.get("sg") for t in draft.get("t", [])):
            return self._error(None, 400, "draft has nothing to render", render=True)
        scenario = self._renders.popleft() if self._renders else RenderScenario()
        job = self.jobs[job_id] = RenderJob(job_id, sid, draft, scenario)
        self._spawn(self._render(job))
        return web.json_response(
            {"success": True, "data": {"id": job_id, "status": "pending", "progress": 0}}
        )

    async def _render(self, job: RenderJob) -> None:
        cfg = self.config
        await asyncio.sleep(cfg.render_pending_s)
        steps = 4
        for i in range(1, steps + 1):
            job.status, job.progress = "processing", round(100 * i / (steps + 1))
            await asyncio.sleep(cfg.render_s / steps)
        if job.scenario.fail:
            job.status = "failed"
            return
        m = job.draft.get("m", {})
        width, height = fit(int(m.get("width") or 1920), int(m.get("height") or 1080))
        duration = (
            max(
                (s.get("d", 0) for t in job.draft.get("t", []) for s in t.get("sg", [])),
                default=1000,
            )
            / 1000
        )
        path = self._dir / f"{job.job_id}.mp4"
        master = await self._encode(width, height, min(max(duration, 0.5), 3.0))
        await asyncio.to_thread(shutil.copyfile, master, path)
        job.file, job.status, job.progress = path.name, "completed", 100
        job.completed_at = self.render_completed_at[job.job_id] = time.time()

    async def _encode(self, width: int, height: int, seconds: float) -> Path:
        key = (width, height, seconds)
        task = self._encoded.get(key)
        if task is None or (task.done() and (task.cancelled() or task.exception())):
            path = self._dir / f"master-{width}x{height}-{seconds:g}.mp4"
            task = asyncio.ensure_future(asyncio.to_thread(make_mp4, path, width, height, seconds))
            self._encoded[key] = task
        # Shielded: a render cancelled at shutdown must not cancel the others' encode.
        return await asyncio.shield(task)

    async def _render_status(self, request: web.Request) -> web.Response:
        if (fail := self._failure("render-status", render=True)) is not None:
            return fail
        user = self._auth(request)
        if isinstance(user, web.Response):
            return user
        job = self.jobs.get(request.match_info["id"])
        if job is None:
            return self._error(None, 404, "no such render", render=True)
        job.polls += 1
        url = None
        if job.status == "completed" and not job.scenario.no_output_url:
            url = f"{self.base_url}/_emulator/files/{job.file}"
        info: dict[str, Any] = {"id": job.job_id, "status": job.status, "progress": job.progress}
        if job.status == "failed":
            info["error"] = "render failed"
        shape = self.config.render_status_shape
        if shape == "alternate":
            shape = "data" if job.polls % 2 else "top"
        if shape == "top":
            return web.json_response({"success": True, **info, "output": {"url": url}})
        return web.json_response({"success": True, "data": {**info, "outputUrl": url}})

    async def _render_download(self, request: web.Request) -> web.StreamResponse:
        if (fail := self._failure("download", render=True)) is not None:
            return fail
        user = self._auth(request)
        if isinstance(user, web.Response):
            return user
        job = self.jobs.get(request.match_info["id"])
        if job is None or job.file is None:
            return self._error(None, 404, "render not ready", render=True)
        return web.FileResponse(self._dir / job.file, chunk_size=_CHUNK)

    # --- control endpoints, for a person running it by hand ------------------------------

    async def _control(self, request: web.Request) -> web.Response:
        action = request.match_info["action"]
        body = request[JSON] or {}
        if action == "fail":
            self.fail_next(
                body["endpoint"],
                code=body.get("code"),
                status=body.get("status"),
                html=bool(body.get("html")),
                count=int(body.get("count", 1)),
                retry_after=body.get("retry_after"),
                drop=bool(body.get("drop")),
            )
        elif action == "hold":
            self.hold_next(body["endpoint"], float(body.get("seconds", 30)))
        elif action == "next_turn":
            self._turns.append(TurnScenario.from_json(body))
        elif action == "next_render":
            self.next_render(**body)
        elif action == "config":
            try:
                self.config.update(body)
            except KeyError as exc:
                return web.json_response({"error": f"unknown setting {exc}"}, status=400)
        elif action == "expire_tokens":
            self.expire_tokens()
        elif action == "forget_session":
            self.forget_session(str(body["session_id"]))
        elif action == "blob":
            return web.json_response({"url": self.make_blob(int(body["size"]))})
        elif action == "requests":
            return web.json_response(
                [{"method": r.method, "path": r.path, "at": r.at} for r in self.requests]
            )
        elif action == "renders":
            return web.json_response(
                {k: asdict(v) | {"scenario": asdict(v.scenario)} for k, v in self.jobs.items()}
            )
        elif action == "status":
            return web.json_response(
                {
                    "config": asdict(self.config),
                    "sessions": len(self.sessions),
                    "turns": len(self.turns),
                }
            )
        else:
            return web.json_response({"error": f"unknown action {action}"}, status=404)
        return web.json_response({"ok": True})

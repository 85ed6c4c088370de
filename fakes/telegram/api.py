"""A fake Telegram Bot API server on 127.0.0.1, for the real python-telegram-bot to talk to.

It implements what the adapter calls, records every call (with uploaded bytes), keeps
the messages the bot sent, serves files for download, and injects 429 answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

TOKEN = "123:TEST"
BOT_USER: dict[str, Any] = {
    "id": 123,
    "is_bot": True,
    "first_name": "Clipbot",
    "username": "clipbot_test_bot",
}
#: How long one getUpdates may hold the connection, whatever the client asked.
MAX_POLL_WAIT_S = 1.0

JSON = dict[str, Any]


@dataclass
class Call:
    """One Bot API request as the server saw it."""

    method: str
    params: dict[str, str]
    files: dict[str, bytes] = field(default_factory=dict)
    limited: bool = False  # answered with an injected 429
    at: float = field(default_factory=time.monotonic)

    def json(self, name: str) -> Any:
        """A parameter that PTB sends JSON-encoded (numbers, markup, lists)."""
        return json.loads(self.params[name])

    def upload(self, name: str) -> bytes:
        """The bytes of a file parameter, direct or by ``attach://`` reference."""
        value = self.params.get(name, name)
        return self.files[value.removeprefix("attach://")]


def _ok(result: Any) -> web.Response:
    return web.json_response({"ok": True, "result": result})


def _error(code: int, description: str, **parameters: Any) -> web.Response:
    body: JSON = {"ok": False, "error_code": code, "description": description}
    if parameters:
        body["parameters"] = parameters
    return web.json_response(body, status=code)


class FakeBotApi:
    """The server; `start()` binds an ephemeral port, `stop()` closes it."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.messages: dict[tuple[int, int], JSON] = {}
        self.chats: dict[int, JSON] = {}
        self.webhook: JSON | None = None
        self._updates: list[JSON] = []
        self._update_ids = itertools.count(1000)
        self._message_ids = itertools.count(5000)
        self._files: dict[str, tuple[str, bytes]] = {}
        self._file_ids = itertools.count(1)
        self._failures: dict[str, list[int]] = {}
        self._new_update = asyncio.Event()
        self._changed = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.port = 0

    # --- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        """Listen on 127.0.0.1, port 0."""
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._download)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        """Close the server and wake any waiting long poll."""
        self._new_update.set()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def base_url(self) -> str:
        """For TELEGRAM_API_BASE_URL."""
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def file_base_url(self) -> str:
        """For TELEGRAM_FILE_BASE_URL."""
        return f"http://127.0.0.1:{self.port}/file/bot"

    # --- what tests do --------------------------------------------------------------------

    def push_update(self, update: JSON) -> int:
        """Queue an update for getUpdates; returns its update_id (kept if given)."""
        update = dict(update)
        update.setdefault("update_id", next(self._update_ids))
        for key in ("message", "callback_query"):
            obj = update.get(key)
            chat = (obj or {}).get("chat") or ((obj or {}).get("message") or {}).get("chat")
            if chat:
                self.chats[chat["id"]] = chat
        self._updates.append(update)
        self._new_update.set()
        return int(update["update_id"])

    def add_file(self, data: bytes, name: str = "photo.jpg") -> str:
        """Store a file users "sent"; returns its file_id."""
        n = next(self._file_ids)
        file_id = f"FILE{n}"
        self._files[file_id] = (f"documents/{n}_{name}", data)
        return file_id

    def fail_next(self, method: str, retry_after: int = 1, times: int = 1) -> None:
        """Answer the next `times` calls of `method` with 429 and this `retry_after`."""
        self._failures.setdefault(method, []).extend([retry_after] * times)

    def calls_to(self, method: str, *, limited: bool | None = False) -> list[Call]:
        """Recorded calls of one method (by default only those that were answered)."""
        return [
            c
            for c in self.calls
            if c.method == method and (limited is None or c.limited == limited)
        ]

    def delete_message(self, chat_id: int, message_id: int) -> None:
        """A user (or an admin) deleted one of the bot's messages."""
        del self.messages[(chat_id, message_id)]

    def texts(self, chat_id: int) -> list[str]:
        """The current text of every message the bot sent to a chat, in order."""
        return [
            m.get("text") or m.get("caption") or ""
            for (cid, _), m in sorted(self.messages.items())
            if cid == chat_id
        ]

    async def wait_for(self, check: Callable[[], Any], wait_s: float = 10.0) -> Any:
        """Wait until `check()` is truthy (re-checked after each request); return it."""
        deadline = time.monotonic() + wait_s
        while not (result := check()):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("the fake Bot API never saw what the test waited for")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(remaining, 0.2))
        return result

    # --- the API --------------------------------------------------------------------------

    async def _api(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != TOKEN:
            return _error(401, "Unauthorized")
        method = request.match_info["method"]
        params: dict[str, str] = {}
        files: dict[str, bytes] = {}
        if request.content_type == "application/json":
            body = await request.json()
            params = {k: v if isinstance(v, str) else json.dumps(v) for k, v in body.items()}
        elif request.can_read_body:
            for name, value in (await request.post()).items():
                if isinstance(value, web.FileField):
                    files[name] = value.file.read()
                else:
                    params[name] = str(value)
        call = Call(method, params, files)
        self.calls.append(call)
        try:
            pending = self._failures.get(method)
            if pending:
                call.limited = True
                wait = pending.pop(0)
                return _error(429, f"Too Many Requests: retry after {wait}", retry_after=wait)
            handler = getattr(self, f"_m_{method}", None)
            if handler is None:
                return _error(404, "Not Found: method not found")
            response: web.Response = await handler(call)
            return response
        finally:
            self._changed.set()

    async def _m_getMe(self, call: Call) -> web.Response:
        return _ok(BOT_USER)

    async def _m_deleteWebhook(self, call: Call) -> web.Response:
        self.webhook = None
        return _ok(True)

    async def _m_setWebhook(self, call: Call) -> web.Response:
        self.webhook = dict(call.params)
        return _ok(True)

    async def _m_getUpdates(self, call: Call) -> web.Response:
        offset = int(call.params.get("offset", "0"))
        timeout = float(call.params.get("timeout", "0"))
        # Updates below the offset are confirmed: Telegram forgets them.
        self._updates = [u for u in self._updates if u["update_id"] >= offset]
        if not self._updates and timeout > 0:
            self._new_update.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._new_update.wait(), min(timeout, MAX_POLL_WAIT_S))
        return _ok(list(self._updates))

    async def _m_setMyCommands(self, call: Call) -> web.Response:
        return _ok(True)

    async def _m_answerCallbackQuery(self, call: Call) -> web.Response:
        return _ok(True)

    async def _m_sendChatAction(self, call: Call) -> web.Response:
        return _ok(True)

    async def _m_getFile(self, call: Call) -> web.Response:
        file_id = call.params["file_id"]
        if file_id not in self._files:
            return _error(400, "Bad Request: invalid file_id")
        path, data = self._files[file_id]
        return _ok(
            {
                "file_id": file_id,
                "file_unique_id": f"U{file_id}",
                "file_size": len(data),
                "file_path": path,
            }
        )

    async def _download(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != TOKEN:
            return web.Response(status=401)
        path = request.match_info["path"]
        for stored_path, data in self._files.values():
            if stored_path == path:
                return web.Response(body=data)
        return web.Response(status=404)

    def _new_message(self, call: Call, **content: Any) -> JSON:
        chat_id = int(call.json("chat_id"))
        message: JSON = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": self.chats.get(chat_id, {"id": chat_id, "type": "private"}),
            "from": BOT_USER,
            **content,
        }
        if "reply_markup" in call.params:
            message["reply_markup"] = call.json("reply_markup")
        self.messages[(chat_id, message["message_id"])] = message
        return message

    async def _m_sendMessage(self, call: Call) -> web.Response:
        return _ok(self._new_message(call, text=call.params["text"]))

    async def _m_editMessageText(self, call: Call) -> web.Response:
        key = (int(call.json("chat_id")), int(call.json("message_id")))
        message = self.messages.get(key)
        if message is None:
            return _error(400, "Bad Request: message to edit not found")
        if message.get("text") == call.params["text"]:
            return _error(
                400,
                "Bad Request: message is not modified: specified new message content and "
                "reply markup are exactly the same as a current content and reply markup "
                "of the message",
            )
        message["text"] = call.params["text"]
        return _ok(message)

    async def _m_sendVideo(self, call: Call) -> web.Response:
        try:
            video = call.upload("video")
        except KeyError:
            return _error(400, "Bad Request: there is no video in the request")
        content: JSON = {
            "video": {
                "file_id": f"VID{len(video)}",
                "file_unique_id": f"UVID{len(video)}",
                "width": int(call.params.get("width", "0")),
                "height": int(call.params.get("height", "0")),
                "duration": int(call.params.get("duration", "0")),
                "file_size": len(video),
            }
        }
        if "caption" in call.params:
            content["caption"] = call.params["caption"]
        return _ok(self._new_message(call, **content))

"""A fake Discord on loopback: the REST routes and the gateway discord.py uses.

One aiohttp server serves `/api/v10/...` (REST, interaction callbacks, webhook
follow-ups), `/cdn/...` (attachment downloads), `/gateway` (first connection) and
`/resume` (the `resume_gateway_url` READY names). Frames are sent as JSON text: the
client asks for `compress=zlib-stream`, but text frames are never decompressed.
Everything the bot sends is recorded for the tests to read.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import BodyPartReader, WSMsgType, web

JSON = dict[str, Any]

APP_ID = 1100000000000000001
BOT_ID = APP_ID
GUILD_ID = 1100000000000000002
TEXT_CHANNEL_ID = 1100000000000000003
DM_CHANNEL_ID = 1100000000000000004
USER_ID = 1100000000000000005
OTHER_USER_ID = 1100000000000000006
#: The role Discord creates for the bot when it joins; people often pick it when typing @.
BOT_ROLE_ID = 1100000000000000007
DISCORD_EPOCH_MS = 1420070400000
TIMESTAMP = "2025-01-01T00:00:00+00:00"
# Administrator in the server, so every permission check the library makes passes.
ALL_PERMISSIONS = str(1 << 3)


@dataclass
class SentMessage:
    """A message the bot created, by channel message or interaction follow-up."""

    id: int
    channel_id: int
    via: str  # "channel" or "followup"
    content: str
    files: list[tuple[str, bytes]] = field(default_factory=list)
    components: list[JSON] = field(default_factory=list)
    edits: list[str] = field(default_factory=list)
    allowed_mentions: JSON | None = None

    @property
    def text(self) -> str:
        """The latest content (after edits)."""
        return self.edits[-1] if self.edits else self.content

    def custom_ids(self) -> list[str]:
        """The custom ids of the buttons under the message."""
        return [c["custom_id"] for row in self.components for c in row.get("components", [])]


def user_payload(user_id: int, name: str, *, bot: bool = False) -> JSON:
    """A Discord user object."""
    return {
        "id": str(user_id),
        "username": name,
        "global_name": name.title(),
        "discriminator": "0",
        "avatar": None,
        "bot": bot,
    }


BOT_USER = user_payload(BOT_ID, "clipbot", bot=True)
USER = user_payload(USER_ID, "alice")
OTHER_USER = user_payload(OTHER_USER_ID, "bob")


def _json(data: Any, status: int = 200) -> web.Response:
    # Exactly "application/json", no charset: discord.py compares the header verbatim.
    return web.Response(
        body=json.dumps(data).encode(), status=status, headers={"Content-Type": "application/json"}
    )


class FakeDiscord:
    """The fake; `await start()`, inject events, read what was recorded, `await stop()`."""

    def __init__(self, token: str = "fake-discord-token") -> None:
        self.token = token
        self.app = web.Application(client_max_size=64 * 1024 * 1024)
        self.app.router.add_route("*", "/api/v10/{tail:.*}", self._rest)
        self.app.router.add_get("/cdn/{id}/{name}", self._cdn)
        self.app.router.add_get("/gateway", self._gateway)
        self.app.router.add_get("/resume", self._gateway)
        self._runner: web.AppRunner | None = None
        self.port = 0
        self._ids = itertools.count(1)
        self._changed = asyncio.Condition()
        # gateway state
        self._ws: web.WebSocketResponse | None = None
        self._session_id: str | None = None
        self._seq = 0
        self._sent_events: list[JSON] = []
        self.connections: list[str] = []
        self.identifies: list[JSON] = []
        self.resumes: list[JSON] = []
        self.heartbeats = 0
        # REST records
        self.command_syncs: list[list[JSON]] = []
        self.messages: list[SentMessage] = []
        self._nonces: dict[tuple[int, str], SentMessage] = {}
        self.callbacks: list[tuple[int, JSON]] = []
        self.typing: list[int] = []
        self.unknown: list[str] = []
        self.cdn: dict[str, tuple[str, bytes]] = {}
        self.filesize_limit = 10 * 1024 * 1024
        self._token_channels: dict[str, int] = {}
        # retry_after of the next message sends to answer with 429, and those answered so
        self._rate_limits: list[float] = []
        self.rate_limited: list[str] = []

    # --- lifecycle --------------------------------------------------------------------

    async def start(self) -> None:
        """Listen on 127.0.0.1, an ephemeral port."""
        self._runner = web.AppRunner(self.app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        """Close the gateway socket and the server."""
        if self._ws is not None:
            await self._ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_base_url(self) -> str:
        """What DISCORD_API_BASE_URL is set to."""
        return f"{self.base_url}/api/v10"

    @property
    def gateway_url(self) -> str:
        """What DISCORD_GATEWAY_URL is set to."""
        return f"ws://127.0.0.1:{self.port}/gateway"

    def snowflake(self) -> int:
        """A fresh id whose timestamp is now (discord.py reads times from ids)."""
        now_ms = int(time.time() * 1000)
        return ((now_ms - DISCORD_EPOCH_MS) << 22) | (next(self._ids) & 0xFFF)

    # --- waiting ----------------------------------------------------------------------

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def wait_until(self, predicate: Callable[[], bool], within: float = 20.0) -> None:
        """Wait until something the fake recorded makes `predicate()` true."""
        async with asyncio.timeout(within), self._changed:
            await self._changed.wait_for(predicate)

    # --- gateway ----------------------------------------------------------------------

    async def _send(self, ws: web.WebSocketResponse, payload: JSON) -> None:
        await ws.send_str(json.dumps(payload))

    async def dispatch(self, event: str, data: JSON) -> None:
        """Send a DISPATCH; kept for replay if the client resumes after missing it."""
        self._seq += 1
        payload = {"op": 0, "t": event, "s": self._seq, "d": data}
        self._sent_events.append(payload)
        if self._ws is not None and not self._ws.closed:
            await self._send(self._ws, payload)

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.connections.append(request.path_qs)
        await self._send(ws, {"op": 10, "d": {"heartbeat_interval": 41250}, "s": None, "t": None})
        try:
            async for msg in ws:
                if msg.type is not WSMsgType.TEXT:
                    continue
                frame = json.loads(msg.data)
                await self._on_frame(ws, frame["op"], frame.get("d"))
                await self._notify()
        finally:
            if self._ws is ws:
                self._ws = None
            await self._notify()
        return ws

    async def _on_frame(self, ws: web.WebSocketResponse, op: int, data: Any) -> None:
        if op == 1:
            self.heartbeats += 1
            await self._send(ws, {"op": 11, "d": None, "s": None, "t": None})
        elif op == 2:
            self.identifies.append(data)
            self._session_id = f"session-{next(self._ids)}"
            self._seq = 0
            self._sent_events.clear()
            self._ws = ws
            await self.dispatch("READY", self._ready())
            await self.dispatch("GUILD_CREATE", self.guild())
        elif op == 6:
            self.resumes.append(data)
            if data.get("session_id") != self._session_id:
                await self._send(ws, {"op": 9, "d": False, "s": None, "t": None})
                return
            self._ws = ws
            for event in self._sent_events:
                if event["s"] > (data.get("seq") or 0):
                    await self._send(ws, event)
            await self.dispatch("RESUMED", {})

    async def drop_connection(self, code: int = 4000) -> None:
        """Close the socket as Discord does when it wants the client to reconnect."""
        ws, self._ws = self._ws, None
        assert ws is not None, "no gateway connection to drop"
        await ws.close(code=code, message=b"fake: reconnect")

    def _ready(self) -> JSON:
        return {
            "v": 10,
            "user": BOT_USER,
            "guilds": [{"id": str(GUILD_ID), "unavailable": True}],
            "session_id": self._session_id,
            "resume_gateway_url": f"ws://127.0.0.1:{self.port}/resume",
            "shard": [0, 1],
            "application": {"id": str(APP_ID), "flags": 0},
            "private_channels": [],
            "relationships": [],
        }

    def guild(self) -> JSON:
        """The one server: a text channel, the bot as a member."""
        return {
            "id": str(GUILD_ID),
            "name": "Test Server",
            "unavailable": False,
            "owner_id": str(USER_ID),
            "roles": [
                {
                    "id": str(GUILD_ID),
                    "name": "@everyone",
                    "permissions": ALL_PERMISSIONS,
                    "position": 0,
                    "color": 0,
                    "hoist": False,
                    "managed": False,
                    "mentionable": False,
                    "flags": 0,
                },
                {
                    "id": str(BOT_ROLE_ID),
                    "name": "clipbot",
                    "permissions": "0",
                    "position": 1,
                    "color": 0,
                    "hoist": False,
                    "managed": True,
                    "mentionable": True,
                    "flags": 0,
                    "tags": {"bot_id": str(BOT_ID)},
                },
            ],
            "channels": [self.text_channel()],
            "members": [self.member(BOT_USER)],
            "member_count": 3,
            "emojis": [],
            "stickers": [],
            "features": [],
            "premium_tier": 0,
            "threads": [],
            "voice_states": [],
            "presences": [],
            "large": False,
            "preferred_locale": "en-US",
        }

    def text_channel(self) -> JSON:
        return {
            "id": str(TEXT_CHANNEL_ID),
            "guild_id": str(GUILD_ID),
            "type": 0,
            "name": "general",
            "position": 0,
            "permission_overwrites": [],
            "nsfw": False,
            "parent_id": None,
        }

    def dm_channel(self, user: JSON) -> JSON:
        return {"id": str(DM_CHANNEL_ID), "type": 1, "recipients": [user]}

    def member(self, user: JSON) -> JSON:
        return {
            "user": user,
            "roles": [str(BOT_ROLE_ID)] if user["id"] == BOT_USER["id"] else [],
            "joined_at": TIMESTAMP,
            "deaf": False,
            "mute": False,
            "flags": 0,
        }

    # --- events the tests inject ------------------------------------------------------

    def add_file(self, name: str, data: bytes, content_type: str | None) -> JSON:
        """An attachment object whose URL the fake serves."""
        attachment_id = self.snowflake()
        self.cdn[str(attachment_id)] = (name, data)
        payload: JSON = {
            "id": str(attachment_id),
            "filename": name,
            "size": len(data),
            "url": f"{self.base_url}/cdn/{attachment_id}/{name}",
            "proxy_url": f"{self.base_url}/cdn/{attachment_id}/{name}",
        }
        if content_type is not None:
            payload["content_type"] = content_type
        return payload

    def message(
        self,
        content: str,
        *,
        guild: bool,
        author: JSON = USER,
        attachments: list[JSON] | None = None,
        mentions: list[JSON] | None = None,
        reply_to: SentMessage | JSON | None = None,
        mention_roles: list[int] | None = None,
    ) -> JSON:
        """A MESSAGE_CREATE payload in the server channel or the DM; `reply_to` is one of
        the bot's messages or a payload this fake made (someone's message)."""
        payload: JSON = {
            "id": str(self.snowflake()),
            "channel_id": str(TEXT_CHANNEL_ID if guild else DM_CHANNEL_ID),
            "author": author,
            "content": content,
            "timestamp": TIMESTAMP,
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": mentions or [],
            "mention_roles": [str(r) for r in mention_roles or []],
            "attachments": attachments or [],
            "embeds": [],
            "pinned": False,
            "type": 0,
            "flags": 0,
        }
        if guild:
            payload["guild_id"] = str(GUILD_ID)
            payload["member"] = {k: v for k, v in self.member(author).items() if k != "user"}
        if reply_to is not None:
            replied = (
                self._message_payload(reply_to) if isinstance(reply_to, SentMessage) else reply_to
            )
            payload["type"] = 19
            payload["message_reference"] = {
                "message_id": str(replied["id"]),
                "channel_id": str(replied["channel_id"]),
            }
            payload["referenced_message"] = replied
        return payload

    async def send_message(self, content: str, **kwargs: Any) -> JSON:
        """Dispatch a MESSAGE_CREATE (see `message`)."""
        payload = self.message(content, **kwargs)
        await self.dispatch("MESSAGE_CREATE", payload)
        return payload

    def interaction(
        self, kind: int, data: JSON, *, guild: bool, message: JSON | None = None
    ) -> JSON:
        """An INTERACTION_CREATE payload (2: slash command, 3: component)."""
        payload: JSON = {
            "id": str(self.snowflake()),
            "application_id": str(APP_ID),
            "type": kind,
            "token": f"interaction-token-{next(self._ids)}",
            "version": 1,
            "data": data,
            "locale": "en-US",
            "attachment_size_limit": self.filesize_limit,
            "app_permissions": ALL_PERMISSIONS,
            "entitlements": [],
            "authorizing_integration_owners": {"0": str(GUILD_ID)}
            if guild
            else {"1": str(USER_ID)},
            "context": 0 if guild else 1,
        }
        if guild:
            payload["guild_id"] = str(GUILD_ID)
            payload["channel_id"] = str(TEXT_CHANNEL_ID)
            payload["channel"] = self.text_channel()
            payload["member"] = {**self.member(USER), "permissions": ALL_PERMISSIONS}
            payload["guild_locale"] = "en-US"
        else:
            payload["channel_id"] = str(DM_CHANNEL_ID)
            payload["channel"] = self.dm_channel(USER)
            payload["user"] = USER
        if message is not None:
            payload["message"] = message
        self._token_channels[payload["token"]] = int(payload["channel_id"])
        return payload

    async def slash_command(
        self,
        name: str,
        options: list[JSON] | None = None,
        *,
        attachments: list[JSON] | None = None,
        guild: bool = True,
    ) -> JSON:
        """Dispatch a slash command; attachment options name attachments' ids."""
        data: JSON = {"id": str(self.snowflake()), "name": name, "type": 1}
        if options:
            data["options"] = options
        if attachments:
            data["resolved"] = {"attachments": {a["id"]: a for a in attachments}}
        payload = self.interaction(2, data, guild=guild)
        await self.dispatch("INTERACTION_CREATE", payload)
        return payload

    async def press_button(self, on: SentMessage, custom_id: str, *, guild: bool = True) -> JSON:
        """Dispatch a button press on a message the bot sent."""
        data = {"custom_id": custom_id, "component_type": 2}
        payload = self.interaction(3, data, guild=guild, message=self._message_payload(on))
        await self.dispatch("INTERACTION_CREATE", payload)
        return payload

    # --- REST -------------------------------------------------------------------------

    def _message_payload(self, sent: SentMessage) -> JSON:
        return {
            "id": str(sent.id),
            "channel_id": str(sent.channel_id),
            "author": BOT_USER,
            "content": sent.text,
            "timestamp": TIMESTAMP,
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": [
                {
                    "id": str(sent.id + i + 1),
                    "filename": name,
                    "size": len(data),
                    "url": f"{self.base_url}/cdn/{sent.id}/{name}",
                    "proxy_url": f"{self.base_url}/cdn/{sent.id}/{name}",
                }
                for i, (name, data) in enumerate(sent.files)
            ],
            "embeds": [],
            "pinned": False,
            "type": 0,
            "flags": 0,
            "components": sent.components,
        }

    async def _body(self, request: web.Request) -> tuple[JSON, list[tuple[str, bytes]]]:
        if not request.content_type.startswith("multipart/"):
            return (await request.json() if request.can_read_body else {}), []
        payload: JSON = {}
        files: list[tuple[str, bytes]] = []
        reader = await request.multipart()
        async for part in reader:
            assert isinstance(part, BodyPartReader)
            if part.name == "payload_json":
                payload = json.loads(await part.text())
            else:
                files.append((part.filename or "", bytes(await part.read())))
        return payload, files

    async def _record_message(self, channel_id: int, via: str, request: web.Request) -> JSON:
        body, files = await self._body(request)
        nonce = body.get("nonce")
        if nonce is not None and body.get("enforce_nonce"):
            # Discord: a nonce seen in the last few minutes returns that message again.
            seen = self._nonces.get((channel_id, str(nonce)))
            if seen is not None:
                return self._message_payload(seen)
        sent = SentMessage(
            id=self.snowflake(),
            channel_id=channel_id,
            via=via,
            content=body.get("content") or "",
            files=files,
            components=body.get("components") or [],
            allowed_mentions=body.get("allowed_mentions"),
        )
        self.messages.append(sent)
        if nonce is not None and body.get("enforce_nonce"):
            self._nonces[(channel_id, str(nonce))] = sent
        return self._message_payload(sent)

    async def _edit_message(self, message_id: int, request: web.Request) -> web.Response:
        body, _ = await self._body(request)
        for sent in self.messages:
            if sent.id == message_id:
                if "content" in body:
                    sent.edits.append(body["content"] or "")
                if "components" in body:
                    sent.components = body["components"] or []
                return _json(self._message_payload(sent))
        return _json({"message": "Unknown Message", "code": 10008}, status=404)

    def _not_found(self, request: web.Request) -> web.Response:
        self.unknown.append(f"{request.method} {request.path}")
        return _json({"message": "404: Not Found", "code": 0}, status=404)

    def rate_limit_next(self, retry_after: float = 0.2, times: int = 1) -> None:
        """Answer the next `times` message sends (channel or follow-up) with 429."""
        self._rate_limits.extend([retry_after] * times)

    def _limited(self, request: web.Request) -> web.Response | None:
        sends = request.method == "POST" and (
            request.path.endswith("/messages") or "/webhooks/" in request.path
        )
        if not (sends and self._rate_limits):
            return None
        wait = self._rate_limits.pop(0)
        self.rate_limited.append(request.path)
        body = {"message": "You are being rate limited.", "retry_after": wait, "global": False}
        response = _json(body, status=429)
        # discord.py takes a 429 without Via for Cloudflare's ban, not a rate limit.
        response.headers["Via"] = "1.1 google"
        response.headers["Retry-After"] = str(wait)
        return response

    async def _rest(self, request: web.Request) -> web.StreamResponse:
        try:
            auth = request.headers.get("Authorization")
            # Webhook follow-ups carry their token in the URL and no Authorization.
            if auth is not None and auth != f"Bot {self.token}":
                return _json({"message": "401: Unauthorized", "code": 0}, status=401)
            if (limited := self._limited(request)) is not None:
                return limited
            return await self._route(request, request.match_info["tail"].split("/"))
        finally:
            await self._notify()

    async def _route(self, request: web.Request, path: list[str]) -> web.StreamResponse:
        method = request.method
        match (method, path):
            case ("GET", ["gateway", "bot"]):
                return _json(
                    {
                        "url": f"ws://127.0.0.1:{self.port}/gateway",
                        "shards": 1,
                        "session_start_limit": {
                            "total": 1000,
                            "remaining": 999,
                            "reset_after": 0,
                            "max_concurrency": 1,
                        },
                    }
                )
            case ("GET", ["users", "@me"]):
                return _json(BOT_USER)
            case ("GET", ["oauth2", "applications", "@me"]):
                return _json(
                    {
                        "id": str(APP_ID),
                        "name": "Clipbot",
                        "description": "",
                        "icon": None,
                        "bot_public": True,
                        "bot_require_code_grant": False,
                        "owner": USER,
                        "verify_key": "fake",
                        "flags": 0,
                        "team": None,
                    }
                )
            case ("PUT", ["applications", _, "commands"]):
                commands = await request.json()
                self.command_syncs.append(commands)
                return _json(
                    [
                        {
                            **c,
                            "id": str(self.snowflake()),
                            "application_id": str(APP_ID),
                            "version": "1",
                            "type": c.get("type", 1),
                        }
                        for c in commands
                    ]
                )
            case ("POST", ["channels", channel_id, "messages"]):
                return _json(await self._record_message(int(channel_id), "channel", request))
            case ("PATCH", ["channels", _, "messages", message_id]):
                return await self._edit_message(int(message_id), request)
            case ("POST", ["channels", channel_id, "typing"]):
                self.typing.append(int(channel_id))
                return web.Response(status=204)
            case ("POST", ["interactions", interaction_id, _, "callback"]):
                body = await request.json()
                self.callbacks.append((int(interaction_id), body))
                return _json(
                    {
                        "interaction": {
                            "id": interaction_id,
                            "type": 2,
                            "response_message_loading": body.get("type") == 5,
                            "response_message_ephemeral": False,
                        },
                        "resource": {"type": body.get("type")},
                    }
                )
            case ("POST", ["webhooks", _, token]):
                followed = self._token_channels.get(token, 0)
                return _json(await self._record_message(followed, "followup", request))
            case ("PATCH", ["webhooks", _, _, "messages", message_id]):
                return await self._edit_message(int(message_id), request)
        return self._not_found(request)

    async def _cdn(self, request: web.Request) -> web.Response:
        found = self.cdn.get(request.match_info["id"])
        if found is None:
            return self._not_found(request)
        return web.Response(body=found[1], content_type="application/octet-stream")

    # --- reading the records ----------------------------------------------------------

    def delete_message(self, message_id: int) -> None:
        """Someone deleted one of the bot's messages: editing it is a 404 from now on."""
        self.messages = [m for m in self.messages if m.id != message_id]

    def followups(self) -> list[SentMessage]:
        return [m for m in self.messages if m.via == "followup"]

    def in_channel(self, channel_id: int) -> list[SentMessage]:
        return [m for m in self.messages if m.channel_id == channel_id and m.via == "channel"]

"""The Discord adapter: a discord.py client run as a task in the shared event loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

import aiohttp
import discord
import yarl
from discord import app_commands
from discord.gateway import DiscordWebSocket
from discord.http import Route

from adapters.discord.channel import TOKEN_LIFETIME, DiscordChannel, FollowUp
from adapters.discord.commands import install_commands, persistent_view, result_view
from adapters.discord.convert import PLATFORM, from_interaction, from_message
from adapters.discord.ratelimits import count_rate_limits
from bot.config import Settings
from bot.errors import AdapterStartError, BadInput, Unavailable
from bot.logs import redact
from bot.ports.chat import Attachment, Button, IncomingMessage, MessageHandler, ReplyAddress
from bot.ports.store import Store
from bot.words import as_lang, say

log = logging.getLogger(__name__)

DISCORD_API_BASE = "https://discord.com/api/v10"
DISCORD_GATEWAY = "wss://gateway.discord.gg/"


def configure_endpoints(api_base_url: str | None, gateway_url: str | None) -> None:
    """Point discord.py's REST routes and its first gateway connection somewhere.

    discord.py keeps both as class attributes: `Route.BASE` (every REST call, interaction
    callbacks and webhook follow-ups included) and `DiscordWebSocket.DEFAULT_GATEWAY`
    (a plain `Client` connects there without asking GET /gateway/bot; resumes then go to
    the `resume_gateway_url` READY names). One process runs one Discord connection.
    """
    Route.BASE = (api_base_url or DISCORD_API_BASE).rstrip("/")
    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url or DISCORD_GATEWAY)


def intents() -> discord.Intents:
    """Guilds, server messages and DMs; never the privileged message content."""
    chosen = discord.Intents.none()
    chosen.guilds = True
    chosen.guild_messages = True
    chosen.dm_messages = True
    return chosen


def _options(**options: object) -> dict[str, object]:
    # Clipbot never joins voice: the "PyNaCl/davey is not installed" warnings at every
    # start would only send operators looking for a problem that is not there.
    discord.VoiceClient.warn_nacl = False
    discord.VoiceClient.warn_dave = False
    # The bot names people, it never pings them: a "<@id>" or "@everyone" in the
    # user's echoed words must stay inert.
    return {"intents": intents(), "allowed_mentions": discord.AllowedMentions.none(), **options}


class _Handlers:
    """What the bot's client does with Discord's events, sharded or not."""

    adapter: DiscordAdapter
    tree: app_commands.CommandTree[discord.Client]
    user: discord.ClientUser | None

    def _set_up(self, adapter: DiscordAdapter) -> None:
        self.adapter = adapter
        self.tree = app_commands.CommandTree(self)  # type: ignore[arg-type]
        install_commands(self.tree, adapter.on_interaction)

    async def setup_hook(self) -> None:
        if not self.adapter.receiving:
            return  # a worker only sends: no commands to sync, no buttons to answer
        self.add_view(persistent_view(self.adapter.on_interaction))  # type: ignore[attr-defined]
        synced = await self.tree.sync()
        log.info("discord: synced %d application commands", len(synced))

    async def on_ready(self) -> None:
        self.adapter.ready.set()
        log.info("discord: connected as %s", self.user)

    async def on_resumed(self) -> None:
        log.info("discord: gateway session resumed")

    async def on_message(self, message: discord.Message) -> None:
        await self.adapter.on_message(message)


class _Client(_Handlers, discord.Client):
    def __init__(self, adapter: DiscordAdapter, **options: object) -> None:
        super().__init__(**_options(**options))  # type: ignore[arg-type]
        self._set_up(adapter)


class _ShardedClient(_Handlers, discord.AutoShardedClient):
    """Some of the bot's shards (`DISCORD_SHARD_IDS` of `DISCORD_SHARD_COUNT`): each
    process of a big bot holds its part of the gateway."""

    def __init__(self, adapter: DiscordAdapter, **options: object) -> None:
        super().__init__(**_options(**options))  # type: ignore[arg-type]
        self._set_up(adapter)


class DiscordAdapter:
    """Runs the bot beside the other adapters: `start` returns once connected."""

    name = PLATFORM

    def __init__(
        self,
        settings: Settings,
        handler: MessageHandler,
        store: Store,
        *,
        token_lifetime: timedelta = TOKEN_LIFETIME,
        ready_timeout_s: float = 60.0,
        guild_ready_timeout_s: float = 2.0,
    ) -> None:
        if settings.discord_bot_token is None:
            raise ValueError("DISCORD_BOT_TOKEN is not set")
        self._settings = settings
        self._handler = handler
        self._store = store
        self._token_lifetime = token_lifetime
        self._ready_timeout_s = ready_timeout_s
        self._guild_ready_timeout_s = guild_ready_timeout_s
        self._client: _Client | _ShardedClient | None = None
        self._task: asyncio.Task[None] | None = None
        self.receiving = True
        self.ready = asyncio.Event()

    @property
    def client(self) -> discord.Client:
        """The running discord.py client."""
        if self._client is None:
            raise RuntimeError("the Discord adapter is not started")
        return self._client

    async def start(self, *, receive: bool = True) -> None:
        """Log in, sync the commands, connect the gateway; return once READY.

        `receive=False` (a `clipbot worker`): log in for the REST API only, no gateway.
        """
        configure_endpoints(self._settings.discord_api_base_url, self._settings.discord_gateway_url)
        count_rate_limits()
        self.receiving = receive
        self._client = self._new_client()
        if not receive:
            await self._login(self._client)
            log.info("discord: sending only (a worker)")
            return
        self._task = asyncio.create_task(self._run(self._client), name="discord-client")
        ready = asyncio.create_task(self.ready.wait())
        done, _ = await asyncio.wait(
            {self._task, ready}, timeout=self._ready_timeout_s, return_when=asyncio.FIRST_COMPLETED
        )
        ready.cancel()
        if self._task in done:
            failure = self._task.exception()
            await self.stop()
            if isinstance(failure, discord.LoginFailure):
                raise AdapterStartError(
                    "Discord refused DISCORD_BOT_TOKEN: copy the bot token again from the "
                    "Developer Portal (Bot → Reset Token)."
                ) from failure
            token = self._settings.discord_bot_token
            detail = redact(
                f"{type(failure).__name__}: {failure}", [token.get_secret_value()] if token else []
            )
            raise AdapterStartError(f"The Discord adapter could not start ({detail}).") from (
                failure
            )
        if ready not in done:
            await self.stop()
            raise AdapterStartError(
                f"Discord did not answer within {self._ready_timeout_s:.0f} s "
                f"(gateway {self._settings.discord_gateway_url or DISCORD_GATEWAY})."
            )

    def _new_client(self) -> _Client | _ShardedClient:
        settings = self._settings
        if settings.discord_shard_count is None:
            return _Client(self, guild_ready_timeout=self._guild_ready_timeout_s)
        return _ShardedClient(
            self,
            shard_count=settings.discord_shard_count,
            shard_ids=settings.discord_shard_ids or None,
            guild_ready_timeout=self._guild_ready_timeout_s,
        )

    async def _login(self, client: _Client | _ShardedClient) -> None:
        token = self._settings.discord_bot_token
        assert token is not None
        try:
            await client.login(token.get_secret_value())
        except discord.LoginFailure as exc:
            await client.close()
            raise AdapterStartError(
                "Discord refused DISCORD_BOT_TOKEN: copy the bot token again from the "
                "Developer Portal (Bot → Reset Token)."
            ) from exc

    async def _run(self, client: _Client | _ShardedClient) -> None:
        token = self._settings.discord_bot_token
        assert token is not None
        async with client:
            await client.start(token.get_secret_value())

    async def stop(self) -> None:
        """Close the gateway and the HTTP session."""
        client, task = self._client, self._task
        self._client = self._task = None
        self.ready.clear()
        if client is not None:
            await client.close()
        if task is not None:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await task

    def _views(self, buttons: Sequence[Button]) -> discord.ui.View:
        return result_view(buttons, self.on_interaction)

    async def on_message(self, message: discord.Message) -> None:
        """A message in a DM or a server channel (the engine ignores unaddressed ones)."""
        me = self.client.user
        if me is None:
            return
        incoming = from_message(message, me.id)
        if incoming is None:
            return
        # Discord may send an event again after a resume: handle each message once.
        if incoming.addressed and not await self._first_time(message.id):
            return
        if not self.receiving:
            return
        guild = message.guild
        channel = DiscordChannel(
            self.client.get_partial_messageable(
                message.channel.id, guild_id=guild.id if guild else None
            ),
            self._views,
            upload_limit=guild.filesize_limit if guild is not None else None,
        )
        await self._dispatch(incoming, channel)

    async def _first_time(self, message_id: int) -> bool:
        try:
            return await self._store.mark_update(PLATFORM, f"m{message_id}")
        except Exception:
            # Better to risk handling a redelivered message twice than to go silent.
            log.exception("discord: could not record message %s as handled", message_id)
            return True

    async def on_interaction(
        self,
        interaction: discord.Interaction,
        text: str,
        attachments: Sequence[discord.Attachment],
    ) -> None:
        """A slash command or a button press: acknowledged at once, answered in follow-ups."""
        if not self.receiving:
            return
        try:
            await interaction.response.defer(thinking=True)
        except discord.HTTPException as exc:
            log.warning("discord: could not acknowledge interaction %s: %s", interaction.id, exc)
            return
        incoming = from_interaction(interaction, text, attachments)
        assert interaction.channel_id is not None  # from_interaction checked it
        channel = DiscordChannel(
            self.client.get_partial_messageable(
                interaction.channel_id, guild_id=interaction.guild_id
            ),
            self._views,
            follow_up=FollowUp.of(interaction, self._token_lifetime),
            upload_limit=interaction.filesize_limit,
        )
        await self._dispatch(incoming, channel)

    # --- the platform, for the engine's workers ---------------------------------------------

    def channel_for(self, address: ReplyAddress) -> DiscordChannel:
        """The channel of a stored reply address; the interaction's follow-up while its
        token lives, the channel after."""
        extra = address.extra
        guild = int(extra["guild"]) if extra.get("guild") else None
        follow_up = None
        if extra.get("token") and extra.get("app") and extra.get("until"):
            follow_up = FollowUp(
                discord.Webhook.partial(int(extra["app"]), extra["token"], client=self.client),
                int(extra["app"]),
                extra["token"],
                datetime.fromisoformat(extra["until"]),
            )
        return DiscordChannel(
            self.client.get_partial_messageable(int(address.chat_id), guild_id=guild),
            self._views,
            follow_up=follow_up,
            upload_limit=int(extra["limit"]) if extra.get("limit") else None,
        )

    async def fetch(self, attachment: Attachment, dest: Path) -> None:
        """Download an attachment from Discord's CDN by its URL."""
        try:
            data = await self.client.http.get_from_cdn(attachment.ref)
        except discord.NotFound as exc:
            raise BadInput("file_refused_by_platform") from exc
        except discord.HTTPException as exc:
            raise Unavailable(f"Discord CDN answered {exc.status}") from exc
        except aiohttp.ClientError as exc:
            raise Unavailable(f"Discord CDN could not be reached: {type(exc).__name__}") from exc
        await asyncio.to_thread(dest.write_bytes, data)

    async def stop_receiving(self) -> None:
        """Ignore new messages and commands; keep the connection to send."""
        self.receiving = False

    async def _dispatch(self, message: IncomingMessage, channel: DiscordChannel) -> None:
        try:
            await self._handler(message, channel)
        except Exception:
            log.exception("discord: handling %s in %s failed", message.message_id, message.chat)
            try:
                await channel.send_text(
                    say("adapter_failed", as_lang(message.sender.language_code))
                )
            except discord.HTTPException as exc:
                log.warning("discord: could not send the error reply: %s", exc.status)

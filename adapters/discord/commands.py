"""Slash commands and the persistent result buttons, all routed to one callback."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import discord
from discord import app_commands

from adapters.discord.convert import fold_instruction
from bot.ports.chat import BUTTON_ACTIONS, Button, ButtonAction, button_id
from bot.words import say

#: Receives every command and button press as the text the engine understands.
OnInteraction = Callable[[discord.Interaction, str, Sequence[discord.Attachment]], Awaitable[None]]

ASPECTS = ("9:16", "16:9", "1:1", "4:5")


class ActionButton(discord.ui.Button[discord.ui.View]):
    """One result button; a press becomes the matching command."""

    def __init__(self, action: ButtonAction, label: str, on_interaction: OnInteraction) -> None:
        super().__init__(
            label=label, custom_id=button_id(action), style=discord.ButtonStyle.secondary
        )
        self.action = action
        self._on_interaction = on_interaction

    async def callback(self, interaction: discord.Interaction) -> None:
        await self._on_interaction(interaction, f"/{self.action}", ())


def result_view(buttons: Sequence[Button], on_interaction: OnInteraction) -> discord.ui.View:
    """A view of the given buttons that never times out (so it survives restarts)."""
    view = discord.ui.View(timeout=None)
    for button in buttons:
        view.add_item(ActionButton(button.action, button.label, on_interaction))
    return view


def persistent_view(on_interaction: OnInteraction) -> discord.ui.View:
    """Every action's button, registered at start so old messages' buttons work."""
    return result_view([Button(say(f"btn_{a}", "en"), a) for a in BUTTON_ACTIONS], on_interaction)


def install_commands(tree: app_commands.CommandTree[discord.Client], on: OnInteraction) -> None:
    """Add `/animate`, `/status`, `/credits`, `/export`, `/new`, `/help`, `/quota` and the
    admins' `/stats`, `/block` and `/unblock` to the tree."""

    @tree.command(name="animate", description=say("cmd_animate", "en"))
    @app_commands.describe(
        image=say("cmd_animate_image", "en"),
        prompt=say("cmd_animate_prompt", "en"),
        aspect=say("cmd_animate_aspect", "en"),
        duration=say("cmd_animate_duration", "en"),
    )
    @app_commands.choices(aspect=[app_commands.Choice(name=a, value=a) for a in ASPECTS])
    async def animate(
        interaction: discord.Interaction,
        image: discord.Attachment,
        prompt: str = "",
        aspect: app_commands.Choice[str] | None = None,
        duration: app_commands.Range[int, 1, 60] | None = None,
    ) -> None:
        text = fold_instruction(prompt, aspect.value if aspect else None, duration)
        await on(interaction, text, (image,))

    for name in ("status", "credits", "export", "new", "help", "quota"):
        tree.add_command(_simple_command(name, say(f"cmd_{name}", "en"), on))
    # The admins' commands: shown to a server's administrators only (the engine answers
    # only CLIPBOT_ADMINS, whatever Discord shows).
    stats = _simple_command("stats", say("cmd_stats", "en"), on)
    stats.default_permissions = ADMIN_ONLY
    tree.add_command(stats)
    for name in ("block", "unblock"):
        tree.add_command(_user_command(name, say(f"cmd_{name}", "en"), on))


#: What a server member needs to see the admin commands in the menu.
ADMIN_ONLY = discord.Permissions(administrator=True)


def _user_command(
    name: str, description: str, on: OnInteraction
) -> app_commands.Command[Any, ..., None]:
    @app_commands.describe(user=say("cmd_block_user", "en"))
    async def callback(interaction: discord.Interaction, user: discord.User) -> None:
        await on(interaction, f"/{name} {user.id}", ())

    command: app_commands.Command[Any, ..., None] = app_commands.Command(
        name=name, description=description, callback=callback
    )
    command.default_permissions = ADMIN_ONLY
    return command


def _simple_command(
    name: str, description: str, on: OnInteraction
) -> app_commands.Command[Any, ..., None]:
    async def callback(interaction: discord.Interaction) -> None:
        await on(interaction, f"/{name}", ())

    return app_commands.Command(name=name, description=description, callback=callback)

"""The command menu the adapter registers; every word comes from `bot.words`."""

from __future__ import annotations

from bot.words import LANGUAGES, Lang, say

#: The commands of the menu, in the order Telegram shows them.
COMMAND_NAMES = ("start", "help", "new", "status", "credits", "export")


def command_menu(lang: Lang) -> tuple[tuple[str, str], ...]:
    """(command, description) pairs for `setMyCommands` in one language."""
    return tuple((name, say(f"cmd_{name}", lang)) for name in COMMAND_NAMES)


#: The menu by Telegram language code: English is the default (None), Chinese for zh.
MENUS: dict[str | None, tuple[tuple[str, str], ...]] = {
    (None if lang == "en" else lang): command_menu(lang) for lang in LANGUAGES
}

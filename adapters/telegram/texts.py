"""The command menu the adapter registers; every word comes from `bot.words`."""

from __future__ import annotations

from bot.words import LANGUAGES, Lang, say

#: The commands of the menu, in the order Telegram shows them.
COMMAND_NAMES = ("start", "help", "new", "status", "credits", "export", "quota")
#: Added to the menu in the admins' own private chats only: others never see them.
ADMIN_COMMAND_NAMES = ("stats", "block", "unblock")


def command_menu(lang: Lang, *, admin: bool = False) -> tuple[tuple[str, str], ...]:
    """(command, description) pairs for `setMyCommands` in one language."""
    names = COMMAND_NAMES + (ADMIN_COMMAND_NAMES if admin else ())
    return tuple((name, say(f"cmd_{name}", lang)) for name in names)


#: The menu by Telegram language code: English is the default (None), Chinese for zh.
MENUS: dict[str | None, tuple[tuple[str, str], ...]] = {
    (None if lang == "en" else lang): command_menu(lang) for lang in LANGUAGES
}
#: The admins' menu, by language code as `MENUS`.
ADMIN_MENUS: dict[str | None, tuple[tuple[str, str], ...]] = {
    (None if lang == "en" else lang): command_menu(lang, admin=True) for lang in LANGUAGES
}

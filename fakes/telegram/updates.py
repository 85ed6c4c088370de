"""Bot API update JSON, shaped as Telegram sends it, for the fake server to deliver."""

from __future__ import annotations

import itertools
import re
import time
from typing import Any

from fakes.telegram.api import BOT_USER

JSON = dict[str, Any]

_message_ids = itertools.count(1)
_ENTITY = re.compile(r"(?P<command>^/\w+(?:@\w+)?)|(?P<mention>@\w+)")


def user(uid: int = 7, first_name: str = "Ada", last_name: str | None = "Lovelace",
         language_code: str | None = "en") -> JSON:  # fmt: skip
    """A human sender."""
    found: JSON = {"id": uid, "is_bot": False, "first_name": first_name}
    if last_name:
        found["last_name"] = last_name
    if language_code:
        found["language_code"] = language_code
    return found


def private_chat(user_json: JSON) -> JSON:
    """The private chat with that user."""
    return {"id": user_json["id"], "type": "private", "first_name": user_json["first_name"]}


def group_chat(chat_id: int = -1001, title: str = "Design team") -> JSON:
    """A supergroup."""
    return {"id": chat_id, "type": "supergroup", "title": title}


def entities(text: str) -> list[JSON]:
    """Entities Telegram would mark: a leading command, and @mentions (ASCII text)."""
    found: list[JSON] = []
    for match in _ENTITY.finditer(text):
        kind = "bot_command" if match.group("command") else "mention"
        found.append({"type": kind, "offset": match.start(), "length": len(match.group())})
    return found


def message(chat: JSON, sender: JSON, *, text: str | None = None, caption: str | None = None,
            reply_to: JSON | None = None, **media: Any) -> JSON:  # fmt: skip
    """A message; `media` adds photo=/document=/audio=/voice=/media_group_id= fields."""
    found: JSON = {
        "message_id": next(_message_ids),
        "date": int(time.time()),
        "chat": chat,
        "from": sender,
        **media,
    }
    if text is not None:
        found["text"] = text
        if ents := entities(text):
            found["entities"] = ents
    if caption is not None:
        found["caption"] = caption
        if ents := entities(caption):
            found["caption_entities"] = ents
    if reply_to is not None:
        found["reply_to_message"] = reply_to
    return found


def photo_sizes(file_id: str, size: int = 5000, small_id: str = "SMALLTHUMB") -> list[JSON]:
    """The sizes Telegram lists for one photo: a thumbnail first, the largest last."""
    return [
        {"file_id": small_id, "file_unique_id": "s" + small_id, "width": 90, "height": 90,
         "file_size": 900},
        {"file_id": file_id, "file_unique_id": "u" + file_id, "width": 1280, "height": 960,
         "file_size": size},
    ]  # fmt: skip


def document(file_id: str, name: str, mime: str, size: int) -> JSON:
    """A file sent "as a file" (uncompressed)."""
    return {"file_id": file_id, "file_unique_id": "u" + file_id, "file_name": name,
            "mime_type": mime, "file_size": size}  # fmt: skip


def update(message_json: JSON) -> JSON:
    """An update carrying a new message."""
    return {"message": message_json}


def button_press(chat: JSON, sender: JSON, data: str, message_id: int = 1) -> JSON:
    """An update for a press of an inline button under one of the bot's messages."""
    return {
        "callback_query": {
            "id": f"cb{message_id}{data}",
            "from": sender,
            "chat_instance": "42",
            "data": data,
            "message": {
                "message_id": message_id,
                "date": int(time.time()),
                "chat": chat,
                "from": BOT_USER,
                "text": "Done!",
            },
        }
    }

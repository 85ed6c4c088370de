"""A request as stored: the message, where to answer and what it asks for, as JSON that
any process can turn back into the values the engine runs on."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.ports.chat import Attachment, ChatKey, IncomingMessage, ReplyAddress, Sender
from bot.routing import Intent, Route
from bot.words import Lang, as_lang

VERSION = 1


def encode(
    message: IncomingMessage, address: ReplyAddress, route: Route, lang: Lang
) -> dict[str, Any]:
    """The payload of a request (JSON-able)."""
    return {
        "v": VERSION,
        "chat": str(message.chat),
        "sender": {
            "id": message.sender.id,
            "name": message.sender.name,
            "language_code": message.sender.language_code,
        },
        "text": message.text,
        "attachments": [_attachment(a) for a in message.attachments],
        "is_group": message.is_group,
        "message_id": message.message_id,
        "address": {
            "platform": address.platform,
            "chat_id": address.chat_id,
            "extra": dict(address.extra),
        },
        "intent": route.intent,
        "instruction": route.text,
        "fresh": route.fresh,
        "lang": lang,
    }


def _attachment(a: Attachment) -> dict[str, Any]:
    return {"name": a.name, "mime_type": a.mime_type, "size": a.size, "kind": a.kind, "ref": a.ref}


def decode(payload: Mapping[str, Any]) -> tuple[IncomingMessage, ReplyAddress, Route, Lang]:
    """The values a payload of `encode` holds."""
    sender = payload["sender"]
    message = IncomingMessage(
        chat=ChatKey.parse(payload["chat"]),
        sender=Sender(str(sender["id"]), str(sender["name"]), sender.get("language_code")),
        text=str(payload.get("text", "")),
        attachments=tuple(
            Attachment(str(a["name"]), a.get("mime_type"), a.get("size"), a["kind"], str(a["ref"]))
            for a in payload.get("attachments", ())
        ),
        is_group=bool(payload.get("is_group", False)),
        addressed=True,
        message_id=payload.get("message_id"),
    )
    raw = payload["address"]
    address = ReplyAddress(
        str(raw["platform"]),
        str(raw["chat_id"]),
        {str(k): str(v) for k, v in (raw.get("extra") or {}).items()},
    )
    intent: Intent = payload["intent"]
    return (
        message,
        address,
        Route(intent, str(payload.get("instruction", "")), bool(payload.get("fresh"))),
        as_lang(payload.get("lang")),
    )

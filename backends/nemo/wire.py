"""Nemo's JSON shapes, parsed in one place, and the one mapping from codes to errors.

Nothing outside this module reads a raw Nemo dict: every answer becomes a small value
here, or a typed `bot.errors` exception naming the field that was not understood.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.errors import (
    BackendError,
    ExportNotAllowed,
    FileTooLarge,
    NoCredits,
    ProtocolError,
    RateLimited,
    SessionLost,
    TokenError,
    Unavailable,
    UnsupportedFile,
)
from bot.logs import redact
from bot.ports.backend import UploadedFile

#: Nemo refuses uploads over this size (bytes).
UPLOAD_LIMIT_BYTES = 200 * 1024 * 1024

KNOWN_CODES = frozenset({1001, 1002, 2001, 4001, 4002})


class MissingClientId(BackendError):
    """HTTP 400: the call lacked `X-Client-Id` (handled inside the client, never raised out)."""


@dataclass(frozen=True, slots=True)
class AnonymousToken:
    """An anonymous token issued for a client id."""

    token: str
    user_id: str | None
    expires_at: str | None
    credits: int | None


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """A new Nemo session (task) for one project."""

    task_id: str
    session_id: str
    user_id: str | None


@dataclass(frozen=True, slots=True)
class RenderStatus:
    """One look at a render job."""

    job_id: str | None
    status: str
    progress: float | None
    output_url: str | None
    error: str | None = None


RENDER_STATUSES = frozenset({"pending", "processing", "completed", "failed"})


# --- errors -----------------------------------------------------------------------------


def error_for(
    *,
    code: int | None,
    status: int | None,
    message: str,
    user_id: str | None = None,
    web_url: str = "https://nemovideo.com",
    secrets: tuple[str, ...] = (),
) -> BackendError:
    """The typed error for a Nemo error code and/or HTTP status (the only such mapping)."""
    message = redact(message or "no message", secrets)[:300]
    kw: dict[str, int | None] = {"code": code, "status": status}
    if code == 1001:
        return TokenError(f"Nemo token rejected: {message}", **kw)
    if code == 1002:
        return SessionLost(f"Nemo session not found: {message}", **kw)
    if code == 2001:
        register = None
        if user_id and user_id.startswith("anon_"):
            register = f"{web_url.rstrip('/')}/register?bind={user_id}"
        return NoCredits(f"Nemo credits exhausted: {message}", register_url=register, **kw)
    if code == 4001:
        return UnsupportedFile(f"Nemo does not take this file: {message}", code=code, status=status)
    if code == 4002:
        return FileTooLarge(
            f"File over Nemo's limit: {message}", limit_bytes=UPLOAD_LIMIT_BYTES, **kw
        )
    if status == 402:
        return ExportNotAllowed(f"Nemo plan does not allow export: {message}", **kw)
    if status == 429:
        return RateLimited(f"Nemo rate limit: {message}", **kw)
    if status == 400 and "client" in message.lower():
        return MissingClientId(f"Nemo wants a client id: {message}", **kw)
    if status is not None and status >= 500:
        return Unavailable(f"Nemo server error {status}: {message}", **kw)
    if status == 401:
        return TokenError(f"Nemo refused the token: {message}", **kw)
    if status == 404:
        return SessionLost(f"Nemo does not know this: {message}", **kw)
    return BackendError(f"Nemo error {code if code is not None else status}: {message}", **kw)


def _as_int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None


def _error_parts(body: Mapping[str, Any]) -> tuple[int | None, str]:
    """(code, message) from any known error body."""
    err = body.get("error")
    if isinstance(err, Mapping):
        return _as_int(err.get("code")), str(err.get("message") or err)
    code = _as_int(body.get("code"))
    if code is None:
        code = _as_int(body.get("errorCode"))
    msg = body.get("message") or body.get("errorMessage") or err or ""
    return code, str(msg)


def decode_body(raw: bytes, *, status: int, content_type: str) -> Mapping[str, Any]:
    """The JSON object of an answer; a non-JSON answer becomes a typed error."""
    if "json" not in content_type and not raw.lstrip().startswith(b"{"):
        if status >= 500:
            raise Unavailable(f"Nemo answered HTTP {status} ({content_type or 'no type'})")
        if status in (402, 429):
            raise error_for(code=None, status=status, message=content_type)
        raise ProtocolError(
            f"Nemo answered HTTP {status} with {content_type or 'no content type'}, not JSON",
            field="content-type",
            status=status,
        )
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise ProtocolError("Nemo answered invalid JSON", field="body", status=status) from exc
    if not isinstance(body, dict):
        raise ProtocolError("Nemo answered JSON that is not an object", field="body")
    return body


def check_envelope(
    body: Mapping[str, Any],
    *,
    status: int,
    user_id: str | None,
    web_url: str,
    secrets: tuple[str, ...] = (),
) -> Mapping[str, Any]:
    """The `data` of either envelope (or the body itself for top-level shapes); errors raised.

    `{code, message, data}`: code 0 is success. `{success, data}`: success true is success.
    """

    def fail(code: int | None, message: str) -> BackendError:
        return error_for(
            code=code,
            status=status,
            message=message,
            user_id=user_id,
            web_url=web_url,
            secrets=secrets,
        )

    if "code" in body and "success" not in body:
        code = _as_int(body["code"])
        if code is None:
            raise ProtocolError("Nemo envelope code is not a number", field="code")
        if code != 0 or status >= 400:
            raise fail(code if code != 0 else None, str(body.get("message") or ""))
    elif "success" in body:
        if body["success"] is not True or status >= 400:
            code, message = _error_parts(body)
            raise fail(code, message)
    elif status >= 400 or "error" in body:
        code, message = _error_parts(body)
        raise fail(code, message)
    data = body.get("data", body)
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ProtocolError("Nemo answer data is not an object", field="data")
    return data


# --- the answers --------------------------------------------------------------------------


def _str(data: Mapping[str, Any], key: str, *, required: bool = True) -> str | None:
    value = data.get(key)
    if value is None or value == "":
        if required:
            raise ProtocolError("Nemo answer lacks a value", field=key)
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ProtocolError("Nemo answer has a value of the wrong type", field=key)
    return str(value)


def _req(data: Mapping[str, Any], key: str) -> str:
    value = _str(data, key)
    if value is None:  # pragma: no cover - _str raised already
        raise ProtocolError("Nemo answer lacks a value", field=key)
    return value


def parse_anonymous_token(data: Mapping[str, Any]) -> AnonymousToken:
    """`data` of POST /api/auth/anonymous-token."""
    return AnonymousToken(
        token=_req(data, "token"),
        user_id=_str(data, "user_id", required=False),
        expires_at=_str(data, "expires_at", required=False),
        credits=_as_int(data.get("credits")),
    )


def parse_session(data: Mapping[str, Any]) -> SessionInfo:
    """`data` of POST /api/tasks/me/with-session/nemo_agent."""
    return SessionInfo(
        _req(data, "task_id"), _req(data, "session_id"), _str(data, "user_id", required=False)
    )


def parse_claim_token(data: Mapping[str, Any]) -> str:
    """`data` of POST /api/auth/claim-token: the claim token."""
    return _req(data, "claim_token")


def _kind(file_type: str | None, name: str) -> str:
    probe = (file_type or "").lower() + " " + name.lower().rsplit(".", 1)[-1]
    if "image" in probe or any(x in probe for x in ("jpg", "jpeg", "png", "gif", "webp")):
        return "image"
    if "audio" in probe or any(x in probe for x in ("mp3", "wav", "m4a", "aac")):
        return "audio"
    if "video" in probe or any(x in probe for x in ("mp4", "mov", "avi", "webm", "mkv")):
        return "video"
    return "file"


def _num(value: object, field: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ProtocolError("Nemo answer has a number of the wrong type", field=field)
    return float(value)


def parse_upload(data: Mapping[str, Any], fallback_name: str) -> list[UploadedFile]:
    """`data` of an upload: `files[]` (with `cdn_url`) or `uploaded_files[]` (with `url`)."""
    key = "files" if "files" in data else "uploaded_files" if "uploaded_files" in data else None
    if key is None:
        raise ProtocolError("Nemo upload answer lists no files", field="files")
    items = data[key]
    if not isinstance(items, list) or not items:
        raise ProtocolError("Nemo upload answer has an empty file list", field=key)
    found: list[UploadedFile] = []
    for i, item in enumerate(items):
        if not isinstance(item, Mapping):
            raise ProtocolError("Nemo upload item is not an object", field=f"{key}[{i}]")
        name = str(item.get("filename") or item.get("name") or fallback_name)
        url = item.get("cdn_url") or item.get("url")
        width, height = _num(item.get("width"), "width"), _num(item.get("height"), "height")
        kind = _kind(str(item.get("file_type") or ""), name)
        found.append(
            UploadedFile(
                name=name,
                kind=kind,  # type: ignore[arg-type]
                url=str(url) if url else None,
                width=int(width) if width is not None else None,
                height=int(height) if height is not None else None,
                duration_s=_num(item.get("duration"), "duration"),
            )
        )
    return found


def parse_credits(data: Mapping[str, Any]) -> tuple[int | None, int | None, int | None]:
    """`data` of GET /api/credits/balance/simple: (available, frozen, total)."""
    if "available" not in data:
        raise ProtocolError("Nemo credits answer lacks the balance", field="available")
    values = []
    for key in ("available", "frozen", "total"):
        value = data.get(key)
        number = _as_int(value) if not isinstance(value, float) else int(value)
        if value is not None and number is None:
            raise ProtocolError("Nemo credits value is not a number", field=key)
        values.append(number)
    return values[0], values[1], values[2]


def parse_state(data: Mapping[str, Any]) -> tuple[Mapping[str, Any], int]:
    """`data` of the latest-state call: (draft, number of generated media)."""
    state = data.get("state", data)
    if not isinstance(state, Mapping):
        raise ProtocolError("Nemo state is not an object", field="state")
    draft = state.get("draft") or {}
    if not isinstance(draft, Mapping):
        raise ProtocolError("Nemo draft is not an object", field="state.draft")
    tracks = draft.get("t", [])
    if not isinstance(tracks, list):
        raise ProtocolError("Nemo draft tracks are not a list", field="state.draft.t")
    media = state.get("generated_media") or []
    return draft, len(media) if isinstance(media, list | Mapping) else 0


def parse_render_status(body: Mapping[str, Any]) -> RenderStatus:
    """A render status in either shape: inside `data` with `outputUrl`, or at the top
    level with `output.url`. `body` is the whole answer (after the envelope check)."""
    data = body.get("data")
    where = body
    if isinstance(data, Mapping) and "status" in data:
        where = data
    status = where.get("status")
    if not isinstance(status, str) or status.lower() not in RENDER_STATUSES:
        raise ProtocolError(f"Nemo render status {status!r} is unknown", field="status")
    progress = where.get("progress")
    if progress is not None and (
        isinstance(progress, bool) or not isinstance(progress, int | float)
    ):
        raise ProtocolError("Nemo render progress is not a number", field="progress")
    url = where.get("outputUrl")
    output = where.get("output")
    if url is None and isinstance(output, Mapping):
        url = output.get("url")
    if url is not None and not isinstance(url, str):
        raise ProtocolError("Nemo render output URL is not a string", field="outputUrl")
    error = where.get("error") or where.get("message")
    return RenderStatus(
        job_id=str(where["id"]) if where.get("id") is not None else None,
        status=status.lower(),
        progress=float(progress) if progress is not None else None,
        output_url=url or None,
        error=str(error) if error and status.lower() == "failed" else None,
    )


def data_of(body: Mapping[str, Any]) -> Mapping[str, Any]:
    """The `data` object of an answer (the body itself when there is none)."""
    data = body.get("data", body)
    return data if isinstance(data, Mapping) else {}


def not_a_stream(status: int, content_type: str) -> BackendError:
    """The error for a successful-looking chat answer that is not an event stream."""
    return ProtocolError(
        f"Nemo chat answered HTTP {status} with {content_type or 'no type'}, not a stream",
        field="content-type",
        status=status,
    )

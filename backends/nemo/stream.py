"""The chat stream: server-sent events in Nemo's (ADK-style) shapes → typed agent events.

Each `data:` line holds one JSON event with camelCase keys; there is no final event, the
stream ends when the connection closes. `EventParser` is pure (no I/O) so that any
chunking of the same bytes gives the same events; `read_turn` adds the network and the
turn's time limits.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

from backends.nemo.sse import ServerSentEvent, aiter_sse
from backends.nemo.wire import KNOWN_CODES, error_for
from bot.errors import BackendError, TurnTimeout
from bot.ports.backend import (
    AgentEvent,
    KeepAlive,
    StreamError,
    TextDelta,
    TextMessage,
    ToolCall,
    ToolResult,
)

log = logging.getLogger(__name__)

# Nemo sometimes appends this after a normal reply; it means nothing.
_TEMPORARY_ISSUE = re.compile(r"temporary issue|暂时的问题|临时问题|暂时性问题", re.IGNORECASE)


class EventParser:
    """Turns decoded SSE events into agent events, joining partial text.

    `feed` returns the events for one SSE event; `finish` those owed at the end (joined
    partial text that never got its final event). Known numeric error codes in the
    stream raise the typed error (built by `error_for`).
    """

    def __init__(self, *, user_id: str | None = None, web_url: str = "https://nemovideo.com"):
        self._partial: list[str] = []
        self._last_message: str | None = None
        self._said_something = False
        self._user_id = user_id
        self._web_url = web_url

    def feed(self, sse: ServerSentEvent) -> list[AgentEvent]:
        """The agent events carried by one server-sent event."""
        if sse.event == "heartbeat" or sse.data.strip() == "":
            return [KeepAlive()]
        try:
            payload = json.loads(sse.data)
        except ValueError:
            log.warning(
                "Nemo stream: an event that is not JSON was ignored (%d chars)", len(sse.data)
            )
            return []
        if not isinstance(payload, Mapping):
            return []
        return self._from_payload(payload)

    def finish(self) -> list[AgentEvent]:
        """Events owed when the stream ends: partial text never followed by its whole."""
        return self._flush()

    def _flush(self) -> list[AgentEvent]:
        if not self._partial:
            return []
        text, self._partial = "".join(self._partial), []
        return self._message(text)

    def _message(self, text: str) -> list[AgentEvent]:
        if text == self._last_message:
            return []
        if self._said_something and _TEMPORARY_ISSUE.search(text):
            log.info("Nemo stream: a trailing 'temporary issue' message was ignored")
            return []
        self._last_message = text
        self._said_something = True
        return [TextMessage(text)]

    def _from_payload(self, payload: Mapping[str, Any]) -> list[AgentEvent]:
        kind = payload.get("type")
        if kind == "heartbeat":
            return [KeepAlive()]
        if kind == "text" and isinstance(payload.get("content"), str):
            return [*self._flush(), *self._message(payload["content"])]
        if "errorCode" in payload or "errorMessage" in payload or "error" in payload:
            return [*self._flush(), self._error(payload)]
        content = payload.get("content")
        parts = content.get("parts") if isinstance(content, Mapping) else None
        if not isinstance(parts, list):
            return []
        partial = payload.get("partial") is True
        events: list[AgentEvent] = []
        for part in parts:
            if not isinstance(part, Mapping):
                continue
            text = part.get("text")
            if isinstance(text, str) and text and not part.get("thought"):
                if partial:
                    self._partial.append(text)
                    events.append(TextDelta(text))
                else:
                    self._partial = []
                    events.extend(self._message(text))
            call = part.get("functionCall")
            if isinstance(call, Mapping) and isinstance(call.get("name"), str):
                args = call.get("args")
                events.extend(self._flush())
                events.append(
                    ToolCall(
                        _opt_str(call.get("id")),
                        call["name"],
                        args if isinstance(args, Mapping) else {},
                    )
                )
            result = part.get("functionResponse")
            if isinstance(result, Mapping) and isinstance(result.get("name"), str):
                response = result.get("response")
                events.extend(self._flush())
                events.append(
                    ToolResult(
                        _opt_str(result.get("id")),
                        result["name"],
                        response if isinstance(response, Mapping) else {"value": response},
                    )
                )
        return events

    def _error(self, payload: Mapping[str, Any]) -> StreamError:
        raw_code = payload.get("errorCode")
        message = payload.get("errorMessage")
        err = payload.get("error")
        if isinstance(err, Mapping):
            raw_code = raw_code if raw_code is not None else err.get("code")
            message = message or err.get("message")
        elif err is not None and message is None:
            message = err
        code = str(raw_code) if raw_code is not None else None
        if code is not None and code.isdigit() and int(code) in KNOWN_CODES:
            raise error_for(
                code=int(code),
                status=None,
                message=str(message or ""),
                user_id=self._user_id,
                web_url=self._web_url,
            )
        return StreamError(code, str(message or "the agent reported an error"))


def _opt_str(value: object) -> str | None:
    return str(value) if value is not None else None


async def read_turn(
    chunks: AsyncIterator[bytes],
    parser: EventParser,
    *,
    turn_timeout_s: float,
    keepalive_only_timeout_s: float,
) -> AsyncIterator[AgentEvent]:
    """The agent events of one open stream, with the turn's limits enforced.

    `chunks` are the body's bytes as they arrive; a broken connection or a silent one
    (the read timeout lives on the request) comes out of them as `StreamDropped`. Here:
    the whole turn's limit, and the time since the last event that was not a keep-alive
    (SSE comments are invisible here, so that limit is a deadline, not a count).
    """
    start = time.monotonic()
    turn_deadline = start + turn_timeout_s
    idle_deadline = start + keepalive_only_timeout_s
    events = aiter_sse(chunks)
    try:
        while True:
            now = time.monotonic()
            wait = min(turn_deadline, idle_deadline) - now
            try:
                # asyncio.timeout, not wait_for: 3.11's wait_for loses a cancellation that
                # lands as an event arrives (a shutdown would not stop the turn).
                async with asyncio.timeout(max(wait, 0.0)):
                    sse = await anext(events)
            except StopAsyncIteration:
                break
            except TimeoutError as exc:
                if time.monotonic() >= turn_deadline - 1e-3:
                    raise TurnTimeout(
                        f"Nemo turn ran past {turn_timeout_s:g} s", code=None
                    ) from exc
                raise TurnTimeout(
                    f"Nemo sent only keep-alives for {keepalive_only_timeout_s:g} s"
                ) from exc
            for event in parser.feed(sse):
                if not isinstance(event, KeepAlive):
                    idle_deadline = time.monotonic() + keepalive_only_timeout_s
                yield event
        for event in parser.finish():
            yield event
    except BackendError:
        raise
    finally:
        await events.aclose()

"""Server-sent events from a byte stream, as the WHATWG event-stream rules read them.

Lines end in CRLF, LF or CR (a CR at the end of a chunk waits for the next one, which
may start with its LF); a blank line dispatches the event gathered so far; lines that
start with a colon are comments; an event still open when the stream ends is dropped.
The semantics are those of httpx-sse, whose decoder is private to that package.
"""

from __future__ import annotations

import re
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass

_EOL = re.compile(rb"\r\n|\r|\n")


@dataclass(frozen=True, slots=True)
class ServerSentEvent:
    """One dispatched event."""

    event: str = "message"
    data: str = ""
    id: str = ""
    retry: int | None = None


class SseDecoder:
    """Feed it chunks as they come; it returns the events they complete."""

    def __init__(self) -> None:
        self._rest = b""
        self._event = ""
        self._data: list[str] = []
        self._id = ""
        self._retry: int | None = None

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        """The events completed by `chunk`."""
        buf = self._rest + chunk if self._rest else chunk
        events: list[ServerSentEvent] = []
        pos = 0
        for end in _EOL.finditer(buf):
            if end.end() == len(buf) and end.group() == b"\r":
                break  # maybe the first half of a CRLF
            event = self._line(buf[pos : end.start()].decode("utf-8", "replace"))
            pos = end.end()
            if event is not None:
                events.append(event)
        self._rest = buf[pos:]
        return events

    def end(self) -> list[ServerSentEvent]:
        """The stream ended: a CR held back was a line end after all."""
        rest, self._rest = self._rest, b""
        if not rest.endswith(b"\r"):
            return []  # an unfinished line: it cannot complete an event
        event = self._line(rest[:-1].decode("utf-8", "replace"))
        return [] if event is None else [event]

    def _line(self, line: str) -> ServerSentEvent | None:
        if not line:
            if not (self._event or self._data or self._id or self._retry is not None):
                return None
            event = ServerSentEvent(
                self._event or "message", "\n".join(self._data), self._id, self._retry
            )
            # The last event id carries over to the next event, by the rules.
            self._event, self._data, self._retry = "", [], None
            return event
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            self._event = value
        elif name == "data":
            self._data.append(value)
        elif name == "id" and "\0" not in value:
            self._id = value
        elif name == "retry" and value.isdigit():
            self._retry = int(value)
        return None


async def aiter_sse(chunks: AsyncIterator[bytes]) -> AsyncGenerator[ServerSentEvent, None]:
    """The events of a stream of byte chunks."""
    decoder = SseDecoder()
    try:
        async for chunk in chunks:
            for event in decoder.feed(chunk):
                yield event
        for event in decoder.end():
            yield event
    finally:
        if isinstance(chunks, AsyncGenerator):
            await chunks.aclose()

"""The event-stream decoder against the rules' own examples and their edge cases."""

from __future__ import annotations

import pytest

from backends.nemo.sse import ServerSentEvent, SseDecoder


def _decode(*chunks: bytes) -> list[ServerSentEvent]:
    decoder = SseDecoder()
    return [event for chunk in chunks for event in decoder.feed(chunk)] + decoder.end()


def test_fields_and_dispatch() -> None:
    stream = b"data: YHOO\ndata: +2\ndata: 10\n\n: a comment\nevent: add\ndata:73857293\nid: 7\n\n"
    assert _decode(stream) == [
        ServerSentEvent("message", "YHOO\n+2\n10"),
        ServerSentEvent("add", "73857293", "7"),
    ]


@pytest.mark.parametrize("eol", [b"\n", b"\r\n", b"\r"])
def test_every_line_ending(eol: bytes) -> None:
    stream = eol.join([b"event: x", b"data: 1", b"", b"data: 2", b"", b""])
    assert _decode(stream) == [ServerSentEvent("x", "1"), ServerSentEvent("message", "2")]


def test_a_crlf_cut_between_its_two_bytes_is_one_line_end() -> None:
    # Read as two line ends, the CR and the LF would dispatch an empty line in between.
    assert _decode(b"data: a\r", b"\ndata: b\r", b"\n\r", b"\n") == [
        ServerSentEvent("message", "a\nb")
    ]


def test_a_multibyte_character_cut_in_two() -> None:
    data = "data: 点击导出\n\n".encode()
    assert _decode(data[:8], data[8:]) == [ServerSentEvent("message", "点击导出")]


def test_comments_blank_lines_and_an_unfinished_event_dispatch_nothing() -> None:
    assert _decode(b": keep-alive\n\n\n\ndata: never ended\n") == []


def test_the_last_id_carries_over_and_a_bad_retry_is_ignored() -> None:
    assert _decode(b"id: 3\nretry: soon\ndata: a\n\ndata: b\nretry: 50\n\n") == [
        ServerSentEvent("message", "a", "3"),
        ServerSentEvent("message", "b", "3", 50),
    ]

"""Property: however the bytes of a stream are cut, the same events come out."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

from hypothesis import given, settings
from hypothesis import strategies as st

from backends.nemo.stream import EventParser, read_turn
from bot.ports.backend import AgentEvent

_TEXTS = st.text(alphabet="ab 点击导出é\n\"'", min_size=1, max_size=12)


def _event(payload: object) -> str:
    return "data: " + json.dumps(payload, ensure_ascii=False) + "\n\n"


_FRAMES = st.one_of(
    _TEXTS.map(lambda t: _event({"content": {"parts": [{"text": t}]}, "partial": True, "x": 1})),
    _TEXTS.map(lambda t: _event({"content": {"parts": [{"text": t}]}, "partial": False})),
    _TEXTS.map(lambda t: _event({"type": "text", "content": t})),
    st.sampled_from(
        [
            "event: heartbeat\n\n",
            'data: {"type":"heartbeat"}\n\n',
            "data:\n\n",
            ": keep-alive\n\n",
            _event(
                {"content": {"parts": [{"functionCall": {"id": "1", "name": "gen", "args": {}}}]}}
            ),
            _event(
                {
                    "content": {
                        "parts": [
                            {"functionResponse": {"id": "1", "name": "gen", "response": {"ok": 1}}}
                        ]
                    }
                }
            ),
            _event({"errorCode": "OVERLOADED", "errorMessage": "busy"}),
            _event({"unknown": {"deep": [1, 2]}}),
        ]
    ),
)


async def _events(chunks: list[bytes]) -> list[AgentEvent]:
    async def body() -> AsyncIterator[bytes]:
        for chunk in chunks:
            yield chunk

    return [
        e
        async for e in read_turn(
            body(), EventParser(), turn_timeout_s=5, keepalive_only_timeout_s=5
        )
    ]


@settings(max_examples=60, deadline=None)
@given(
    frames=st.lists(_FRAMES, min_size=1, max_size=12),
    cuts=st.lists(st.integers(min_value=0, max_value=4000), max_size=20),
    crlf=st.booleans(),
)
async def test_any_chunking_gives_the_same_events(
    frames: list[str], cuts: list[int], crlf: bool
) -> None:
    text = "".join(frames)
    if crlf:
        text = text.replace("\n\n", "\r\n\r\n")
    data = text.encode()
    points = sorted({c % (len(data) + 1) for c in cuts})
    chunks = [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]
    whole = await _events([data])
    assert await _events([c for c in chunks if c]) == whole
    assert await _events([data[i : i + 1] for i in range(len(data))]) == whole

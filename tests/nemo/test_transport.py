"""The Nemo client's HTTP edges: a server that stops reading an upload, a proxy named by
the environment."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from backends.nemo.client import ClientConfig, NemoClient
from backends.nemo.transport import proxy_for
from bot.errors import Unavailable
from fakes.nemo.server import NemoEmulator
from storage.memory import MemoryStore


async def test_an_upload_the_server_stops_reading_fails_in_bounded_time(tmp_path: Path) -> None:
    # aiohttp has no per-write timeout (httpx had one): without the upload's own limit, a
    # server that accepts the connection and never reads would hold the request for good.
    accepted: list[asyncio.StreamWriter] = []

    async def never_read(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)  # held open, never read: the client's writes back up

    server = await asyncio.start_server(never_read, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    photo = tmp_path / "big.bin"
    photo.write_bytes(b"\0" * (48 * 2**20))  # more than the loopback buffers take
    config = ClientConfig(
        base_url=f"http://127.0.0.1:{port}",
        token="nmv_usr_test",
        request_timeout_s=1.0,
        upload_min_bytes_per_s=48 * 2**20,  # the whole file within a second
    )
    client = NemoClient(config, MemoryStore())
    started = time.monotonic()
    try:
        async with asyncio.timeout(20):  # without the limit: a hang, failed here
            with pytest.raises(Unavailable, match="in time"):
                await client.upload("123456789012", photo, "big.bin")
    finally:
        await client.aclose()
        for writer in accepted:
            writer.close()
        server.close()
        await server.wait_closed()
    assert accepted, "the client never connected"
    assert time.monotonic() - started < 10


async def test_the_proxy_the_environment_names_carries_the_calls(
    nemo_emulator: NemoEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("NO_PROXY", "no_proxy", "HTTPS_PROXY", "https_proxy", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    # The emulator stands in for the proxy: a proxied request names its real host.
    monkeypatch.setenv("HTTP_PROXY", nemo_emulator.base_url)
    config = ClientConfig(base_url="http://nemo.invalid", token="nmv_usr_test")
    client = NemoClient(config, MemoryStore())
    try:
        await client.credits()
    finally:
        await client.aclose()
    (call,) = nemo_emulator.received("/api/credits/")
    assert call.headers["Host"] == "nemo.invalid"
    assert call.headers["Authorization"] == "Bearer nmv_usr_test"

    monkeypatch.setenv("NO_PROXY", "nemo.invalid")
    assert proxy_for("http://nemo.invalid") is None
    assert proxy_for("http://elsewhere.invalid") == nemo_emulator.base_url

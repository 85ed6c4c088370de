"""The HTTP side server over real loopback HTTP: health, metrics, share links, the status
page's token, and its own thread (it still answers when the bot's loop is stuck)."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot import metrics
from bot.config import Settings
from bot.errors import AdapterStartError
from bot.gate import Pending
from bot.ports.chat import ChatKey, IncomingMessage
from bot.sharing import ShareLinks
from bot.web import SideServer
from storage.sqlite import SqliteStore
from tests.engine.doubles import ScriptedBackend

TOKEN = "status-page-token-for-tests-0123456789"
CLIP = bytes(range(256)) * 1000  # 256 000 bytes that show where a range starts


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings.load(
        None,
        data_dir=tmp_path / "data",
        http_port=1,  # replaced by an ephemeral port below
        http_host="127.0.0.1",
        public_url="https://clips.example.com/",
        http_token=TOKEN,
    )


@pytest.fixture
async def store(settings: Settings) -> AsyncIterator[SqliteStore]:
    opened = await SqliteStore.open(settings.db_path)
    yield opened
    await opened.close()


PENDING = [
    Pending(ChatKey("telegram", "7"), "telegram:7", "zoom in, 9:16", "agent", time.time(), True)
]


async def _pending(_: IncomingMessage | None = None) -> list[Pending]:
    return PENDING


async def _nothing(_: IncomingMessage | None = None) -> list[Pending]:
    return []


@pytest.fixture
async def server(settings: Settings, store: SqliteStore) -> AsyncIterator[SideServer]:
    side = SideServer(settings, store, ScriptedBackend(), _pending, port=0, loop_timeout_s=1.0)
    await side.start()
    yield side
    await side.stop()


@pytest.fixture
async def http(server: SideServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}") as client:
        yield client


async def shared_clip(settings: Settings, tmp_path: Path, *, age_s: float = 0.0) -> str:
    """The path of a share link made `age_s` ago (with a one-minute TTL), as the engine
    makes them."""
    source = tmp_path / f"clip-{age_s}.mp4"
    source.write_bytes(CLIP)
    links = ShareLinks(
        settings.data_dir / "shared", "https://clips.example.com/", 60.0,
        clock=lambda: time.time() - age_s,
    )  # fmt: skip
    url = await links.share(source)
    assert url.startswith("https://clips.example.com/clips/")
    assert not source.exists()  # moved, not copied
    return url.removeprefix("https://clips.example.com")


async def test_healthz_is_200_then_503_once_the_store_is_closed(
    http: httpx.AsyncClient, store: SqliteStore
) -> None:
    ok = await http.get("/healthz")
    assert (ok.status_code, ok.json()) == (200, {"ok": True})
    await store.close()
    down = await http.get("/healthz")
    assert down.status_code == 503
    assert down.json()["ok"] is False
    assert down.json()["reason"].startswith("the store is unreachable")


async def test_healthz_says_when_the_bots_loop_is_stuck(server: SideServer) -> None:
    url = f"http://127.0.0.1:{server.port}/healthz"
    loop = asyncio.get_running_loop()
    answer = loop.run_in_executor(None, lambda: httpx.get(url, timeout=10))
    time.sleep(2.0)  # noqa: ASYNC251 - the bot's loop (this test's) is stuck on purpose
    response = await answer
    assert response.status_code == 503
    assert response.json()["reason"] == "the bot's event loop did not answer within 1 s"


async def test_metrics_parse_and_show_the_queue(http: httpx.AsyncClient) -> None:
    metrics.refused("agent", "clips_per_day")
    response = await http.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    families = {f.name: f for f in text_string_to_metric_families(response.text)}
    queue = {s.labels["state"]: s.value for s in families["clipbot_queue_depth"].samples}
    assert queue == {"running": 1.0, "waiting": 0.0}
    refusals = [s for s in families["clipbot_refusals"].samples if s.name.endswith("_total")]
    assert any(s.labels == {"reason": "clips_per_day"} and s.value >= 1 for s in refusals)
    for name in (
        "clipbot_requests", "clipbot_time_to_clip_seconds", "clipbot_render_seconds",
        "clipbot_backend_errors", "clipbot_rate_limit_waits", "clipbot_failures",
        "process_resident_memory_bytes",
    ):  # fmt: skip
        assert name in families, name


async def test_a_share_link_plays_with_ranges_and_nothing_else_does(
    http: httpx.AsyncClient, settings: Settings, tmp_path: Path
) -> None:
    path = await shared_clip(settings, tmp_path)
    whole = await http.get(path)
    assert (whole.status_code, whole.content) == (200, CLIP)
    assert whole.headers["content-type"] == "video/mp4"
    assert whole.headers["accept-ranges"] == "bytes"
    part = await http.get(path, headers={"Range": "bytes=1000-1999"})
    assert part.status_code == 206
    assert part.headers["content-range"] == f"bytes 1000-1999/{len(CLIP)}"
    assert part.content == CLIP[1000:2000]
    tail = await http.get(path, headers={"Range": "bytes=-100"})
    assert (tail.status_code, tail.content) == (206, CLIP[-100:])
    link_id, secret = path.removeprefix("/clips/").removesuffix(".mp4").split("/")
    wrong = secret[:-1] + ("A" if secret[-1] != "A" else "B")
    for bad in (f"/clips/{link_id}/{wrong}.mp4", f"/clips/{'0' * 16}/{secret}.mp4",
                f"/clips/..%2F..%2Fclipbot/{secret}.mp4"):  # fmt: skip
        assert (await http.get(bad)).status_code == 404, bad


async def test_an_expired_link_is_gone(
    http: httpx.AsyncClient, settings: Settings, tmp_path: Path
) -> None:
    expired = await shared_clip(settings, tmp_path, age_s=120)
    assert (await http.get(expired)).status_code == 404
    links = ShareLinks.from_settings(settings)
    assert links is not None
    assert await links.prune() == 1
    assert list((settings.data_dir / "shared").iterdir()) == []


async def test_the_access_log_leaves_link_secrets_out(
    http: httpx.AsyncClient, settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = await shared_clip(settings, tmp_path)
    secret = path.rsplit("/", 1)[1].removesuffix(".mp4")
    with caplog.at_level(logging.INFO, logger="aiohttp.access"):
        await http.get(path)
        await http.get("/healthz")
    lines = [r.getMessage() for r in caplog.records if r.name == "aiohttp.access"]
    assert any(line.startswith("GET /clips/") and " 200 " in line for line in lines)
    assert secret not in caplog.text


async def test_the_status_page_asks_for_its_token(http: httpx.AsyncClient) -> None:
    first = await http.get("/")
    assert first.status_code == 401
    assert 'name="token"' in first.text
    assert 'type="password"' in first.text
    wrong = await http.post("/login", data={"token": "guess"})
    assert wrong.status_code == 403
    assert "That token is not right." in wrong.text
    right = await http.post("/login", data={"token": TOKEN})
    assert right.status_code == 303
    assert TOKEN not in right.headers["set-cookie"]
    assert "HttpOnly" in right.headers["set-cookie"]
    page = await http.get("/")
    assert page.status_code == 200
    assert "zoom in, 9:16" in page.text  # the queue
    assert page.headers["cache-control"] == "no-store"
    assert "default-src 'none'" in page.headers["content-security-policy"]


async def test_without_a_token_the_status_page_is_off(
    settings: Settings, store: SqliteStore
) -> None:
    side = SideServer(
        settings.model_copy(update={"http_token": None}), store, ScriptedBackend(), _nothing, port=0
    )
    await side.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{side.port}") as client:
            page = await client.get("/")
            login = await client.post("/login", data={"token": ""})
    finally:
        await side.stop()
    assert page.status_code == 404
    assert "set CLIPBOT_HTTP_TOKEN" in page.text
    assert login.status_code == 403


async def test_a_port_in_use_is_said_plainly(settings: Settings, store: SqliteStore) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        side = SideServer(settings, store, ScriptedBackend(), _nothing, port=port)
        with pytest.raises(AdapterStartError, match=f"could not listen on 127.0.0.1:{port}"):
            await side.start()

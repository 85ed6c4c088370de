"""Reads tried again against the emulator: dropped connections, 5xx, 429 with Retry-After;
turns, uploads and submits never sent twice."""

from __future__ import annotations

import datetime as dtm
import itertools
from pathlib import Path

import pytest

from backends.nemo import NemoBackend, create_backend
from backends.nemo.retry import ReadRetry, retry_after_seconds
from bot.errors import ProtocolError, RateLimited, StreamDropped, Unavailable
from bot.ports.backend import BackendSession, ExportDone, ExportProgress, ProjectState
from fakes.nemo.server import NemoEmulator
from storage.memory import MemoryStore
from tests.nemo_fixtures import nemo_settings


async def _drafted(backend: NemoBackend, photo: Path) -> tuple[BackendSession, ProjectState]:
    session = await backend.open_session("en")
    await backend.upload(session, photo, "beach.png")
    [e async for e in backend.instruct(session, "animate it, 1:1, 2 seconds", "en")]
    return session, await backend.state(session)


async def test_a_dropped_connection_on_a_read_is_tried_again(
    backend: NemoBackend, nemo_emulator: NemoEmulator, photo: Path
) -> None:
    session, _ = await _drafted(backend, photo)
    nemo_emulator.fail_next("state", drop=True, count=2)
    nemo_emulator.fail_next("credits", status=503)
    state = await backend.state(session)
    assert state.draft
    assert (await backend.credits()).available is not None
    assert len(nemo_emulator.received("/latest")) == 1 + 3  # _drafted's, then 2 cut + 1
    assert len(nemo_emulator.received("/credits/")) == 2


async def test_backoff_grows_between_tries(nemo_emulator: NemoEmulator, tmp_path: Path) -> None:
    settings = nemo_settings(nemo_emulator, tmp_path, nemo_read_backoff_s=0.05)
    nemo = create_backend(settings, MemoryStore())
    try:
        nemo_emulator.fail_next("credits", status=502, count=3)
        await nemo.credits()
    finally:
        await nemo.aclose()
    at = [r.at for r in nemo_emulator.received("/credits/")]
    gaps = [b - a for a, b in itertools.pairwise(at)]
    assert len(gaps) == 3
    # 0.05 s, then 0.1, then 0.2, each with up to 0.05 s of jitter on top.
    for gap, least in zip(gaps, (0.05, 0.1, 0.2), strict=True):
        assert least - 0.01 <= gap <= least + 0.05 + 0.15


async def test_reads_give_up_after_their_attempts(
    backend: NemoBackend, nemo_emulator: NemoEmulator
) -> None:
    nemo_emulator.fail_next("credits", status=503, count=5)
    with pytest.raises(Unavailable):
        await backend.credits()
    assert len(nemo_emulator.received("/credits/")) == 5
    # A shape we do not know is no passing failure: not tried again.
    nemo_emulator.fail_next("credits", html=True, status=200)
    with pytest.raises(ProtocolError):
        await backend.credits()
    assert len(nemo_emulator.received("/credits/")) == 6


async def test_retry_after_is_waited_out(backend: NemoBackend, nemo_emulator: NemoEmulator) -> None:
    nemo_emulator.fail_next("credits", code=429, status=429, retry_after=1)
    await backend.credits()
    first, second = nemo_emulator.received("/credits/")
    assert second.at - first.at >= 0.95  # what Nemo asked, not the 0.01 s configured
    # Longer than the retry window: said at once rather than waited for.
    nemo_emulator.fail_next("credits", code=429, status=429, retry_after=3600)
    with pytest.raises(RateLimited) as info:
        await backend.credits()
    assert info.value.retry_after_s == 3600
    assert len(nemo_emulator.received("/credits/")) == 3


def test_retry_after_in_seconds_or_as_a_date() -> None:
    now = dtm.datetime(2026, 11, 21, 12, 0, 0, tzinfo=dtm.UTC)
    assert retry_after_seconds({"retry-after": "7"}, now) == 7.0
    assert retry_after_seconds({"retry-after": "Sat, 21 Nov 2026 12:00:30 GMT"}, now) == 30.0
    assert retry_after_seconds({"retry-after": "Sat, 21 Nov 2026 11:00:00 GMT"}, now) == 0.0
    assert retry_after_seconds({"retry-after": "soon"}, now) is None
    assert retry_after_seconds({}, now) is None
    policy = ReadRetry(window_s=60, rate_limit_wait_s=30)
    limited = RateLimited("429")
    assert policy.wait_for(limited) == 30
    limited.retry_after_s = 90
    assert policy.wait_for(limited) is False
    assert policy.wait_for(Unavailable("reset")) is True
    assert policy.wait_for(ProtocolError("?", field="x")) is False


async def test_a_network_blink_during_a_render_poll_does_not_fail_the_export(
    backend: NemoBackend, nemo_emulator: NemoEmulator, photo: Path, tmp_path: Path
) -> None:
    session, state = await _drafted(backend, photo)
    nemo_emulator.config.render_s = 0.4
    events = backend.export(session, state, tmp_path)
    first = await anext(events)
    assert isinstance(first, ExportProgress)
    assert first.stage == "submitted"
    # The render is under way: the next looks at it meet a cut connection, then a 502.
    nemo_emulator.fail_next("render-status", drop=True, count=2)
    nemo_emulator.fail_next("render-status", status=502)
    done = [e async for e in events][-1]
    assert isinstance(done, ExportDone)
    assert done.path is not None
    assert done.path.stat().st_size > 0
    assert len(nemo_emulator.jobs) == 1  # submitted once
    assert len(nemo_emulator.received("/api/render/proxy/lambda/")) >= 4


async def test_turns_uploads_and_submits_are_never_sent_again(
    backend: NemoBackend, nemo_emulator: NemoEmulator, photo: Path
) -> None:
    session, state = await _drafted(backend, photo)
    turns = len(nemo_emulator.received("/run_sse"))
    nemo_emulator.fail_next("chat", drop=True)
    with pytest.raises(Unavailable) as info:
        [e async for e in backend.instruct(session, "slower", "en")]
    assert not isinstance(info.value, StreamDropped)
    assert len(nemo_emulator.received("/run_sse")) == turns + 1
    nemo_emulator.fail_next("chat", status=503)
    with pytest.raises(Unavailable):
        [e async for e in backend.instruct(session, "slower", "en")]
    assert len(nemo_emulator.received("/run_sse")) == turns + 2
    assert len(nemo_emulator.turns) == 1  # only _drafted's ever ran

    uploads = len(nemo_emulator.received("/upload-video/"))
    nemo_emulator.fail_next("upload", drop=True)
    with pytest.raises(Unavailable):
        await backend.upload(session, photo, "beach.png")
    assert len(nemo_emulator.received("/upload-video/")) == uploads + 1

    nemo_emulator.fail_next("render", drop=True)
    with pytest.raises(Unavailable):
        await backend.client.submit_render("render_once", session.session_id, state.draft)
    assert len(nemo_emulator.received("/api/render/proxy/lambda")) == 1
